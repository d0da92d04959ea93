"""Every operation of the OpenAPI document, fuzzed by schemathesis: no 5xx, and every answer as the document says.

The document is loaded from the ASGI app itself and each operation is a
subtest, fuzzed with data that fits the document and data that does not.
Calls carry a coordinator's token (an admin's on the admin routes), and half of
those that name an issue, a person, a river... name a real one, so the fuzzing
reaches past the 404. The run is bounded and deterministic: derandomized, a
fixed number of examples an operation, no shrinking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import COORDINATOR, World, walk_to
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.reference import load, parse

pytestmark = pytest.mark.slow

EXAMPLES = 25  # an operation
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded when something fails
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


# A real thing for each kind of {code} in a path, so half the calls get past the 404.
REAL_CODES = {
    "/api/v1/issues/": "",  # the issue the test reports
    "/api/v1/people/": "sn-moxi",
    "/api/v1/admin/people/": "sn-moxi",
    "/api/v1/compacts/": "QJ",
    "/api/v1/rivers/": "qiongjiang",
    "/api/v1/segments/": "qj-baima",
    "/api/v1/jurisdictions/": "510904101",
}
ADMIN = """
people:
  - {code: rc-admin, name: 系统管理员, role: admin}
"""


def fuzz(operation: Any, headers: dict[str, str], issue: str) -> None:
    """Run the operation's generated cases, valid and invalid; a failed check raises with the case as curl."""
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    real = next((code for prefix, code in REAL_CODES.items() if operation.path.startswith(prefix)), None)
    if real is not None and any(p.name == "code" for p in operation.path_parameters):
        known = {"code": real or issue}
        strategies += [operation.as_strategy(mode, path_parameters=known) for mode in GenerationMode]

    @FUZZ
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_no_operation_gives_a_server_error_or_an_answer_outside_the_document(
    sqlite_world: World, subtests: pytest.Subtests, tmp_path: Path
) -> None:
    issue = sqlite_world.report()
    walk_to(sqlite_world, issue, "hand_off")
    admin = tmp_path / "admin.yaml"
    admin.write_text(ADMIN, encoding="utf-8")
    load(sqlite_world.app.uow(), parse(admin))
    coordinator = {"Authorization": f"Bearer {create_token(sqlite_world.app.uow(), COORDINATOR, 'fuzz')[1]}"}
    administrator = {"Authorization": f"Bearer {create_token(sqlite_world.app.uow(), 'rc-admin', 'fuzz')[1]}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_api(sqlite_world.app))

    labels = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the document has an operation schemathesis cannot read: {result.err()}")
        operation = result.ok()
        labels.append(operation.label)
        headers = administrator if operation.path.startswith("/api/v1/admin/") else coordinator
        with subtests.test(msg=operation.label):
            fuzz(operation, headers, issue)
    assert "POST /api/v1/issues/{code}/transitions" in labels
