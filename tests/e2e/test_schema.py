"""Every operation of the OpenAPI document, fuzzed by schemathesis on each database: no 5xx, every answer as documented.

The document is loaded from the ASGI app itself and each operation is a
subtest, fuzzed with data that fits the document and data that does not
(schemathesis' positive and negative modes), then sent the hostile examples
every edge must refuse cleanly: NUL, lone surrogates, huge numbers, deep
nesting and long strings, in each path and query parameter, each body field,
and as whole bodies. Calls carry a coordinator's token (an admin's on the admin
routes), and half of those that name an issue, a person, a river... name a real
one, so the fuzzing reaches past the 404. The run is bounded and deterministic:
derandomized, a fixed number of examples an operation, no shrinking.
"""

from __future__ import annotations

import json
from functools import reduce
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
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

EXAMPLES = 15  # generated an operation, on each database (under a minute each on 2 CPUs, with the hostile ones)
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


# -- the hostile examples ------------------------------------------------------------------------------------------

NUL = "河\x00长"
SURROGATE = "河\ud800长"
HUGE = 10**4000  # a number of 4,001 digits (still under Python's own 4,300-digit limit, so it can be written)
DEEP: list[Any] = reduce(lambda inner, _: [inner], range(200), [])
# What a path or a query can carry (a lone surrogate cannot be written in a URL at all).
IN_URLS = [NUL, "长" * 2000, "9" * 5000, "-" + "9" * 30, str(2**31), "0001-01-01"]
IN_BODIES: list[Any] = [
    NUL,
    SURROGATE,
    "长" * 100_000,
    HUGE,
    -HUGE,
    2**64,
    2**31,
    [2**31],
    DEEP,
    {SURROGATE: NUL},
    True,
]
WHOLE_BODIES: list[Any] = [DEEP, HUGE, {NUL: 1, SURROGATE: 2}, [NUL] * 1000]
# Documents for the routes that read a body themselves (as YAML or JSON) and so document none.
RAW_BODIES = [
    ("application/yaml", "jurisdictions: " + "[" * 200 + "]" * 200),
    ("application/yaml", "patrol_quotas: [{level: township, count: " + "7" * 5000 + ", per: month}]"),
    ("application/yaml", 'people: [{code: "a\\0b", name: "\\ud800", role: chief}]'),
    ("application/json", '{"jurisdictions": ' + "[" * 500 + "]" * 500 + "}"),
    ("application/json", '{"patrol_quotas": [{"count": ' + "7" * 5000 + "}]}"),
]
PDF = b"%PDF-1.4\n%%EOF\n"


def body_fields(document: dict[str, Any], method: str, path: str) -> tuple[str | None, list[str]]:
    """The operation's documented body: its media type and top-level fields (None when it documents no body)."""
    content = document["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    for media_type, described in content.items():
        found = described.get("schema", {})
        if "$ref" in found:
            found = document["components"]["schemas"][found["$ref"].rsplit("/", 1)[-1]]
        return media_type, sorted(found.get("properties", {}))
    return None, []


def hostile_requests(operation: Any, document: dict[str, Any], known: dict[str, str]) -> list[dict[str, Any]]:
    """Each hostile example for one operation, as keyword arguments for ``send``."""
    base_path = {p.name: known.get(p.name, "x") for p in operation.path_parameters}
    requests: list[dict[str, Any]] = []
    for name in base_path:
        requests += [{"path_parameters": {**base_path, name: value}} for value in IN_URLS]
    for parameter in operation.query:
        requests += [{"path_parameters": base_path, "query": {parameter.name: value}} for value in IN_URLS]
    media_type, fields = body_fields(document, operation.method, operation.path)
    if media_type == "application/json":
        for field in fields:
            requests += [{"path_parameters": base_path, "json": {field: value}} for value in IN_BODIES]
        requests += [{"path_parameters": base_path, "json": value} for value in WHOLE_BODIES]
    elif media_type is not None:  # a form: every field carries text
        for field in fields:
            for value in (NUL, "长" * 100_000):
                form = {f: value if f == field else "1" for f in fields if f != "file"}
                files = {"file": ("a.pdf", PDF, "application/pdf")} if "file" in fields else None
                requests.append({"path_parameters": base_path, "data": form, "files": files})
    elif operation.method.upper() in ("POST", "PATCH", "PUT"):
        requests += [{"path_parameters": base_path, "raw": raw} for raw in RAW_BODIES]
        requests += [{"path_parameters": base_path, "json": value} for value in WHOLE_BODIES]
    return requests


def send(client: TestClient, operation: Any, headers: dict[str, str], example: dict[str, Any]) -> None:
    """Send one hostile example as raw bytes (a lone surrogate goes as its JSON escape) and check the answer."""
    path_parameters = example["path_parameters"]
    url = operation.path.format(**{k: quote(v, safe="") for k, v in path_parameters.items()})
    kwargs: dict[str, Any] = {"params": example.get("query")}
    if "json" in example:
        kwargs["content"] = json.dumps(example["json"]).encode()
        headers = {**headers, "content-type": "application/json"}
    elif "raw" in example:
        media_type, text = example["raw"]
        kwargs["content"] = text.encode()
        headers = {**headers, "content-type": media_type}
    elif "data" in example:
        kwargs.update(data=example["data"], files=example["files"])
    response = client.request(operation.method.upper(), url, headers=headers, **kwargs)
    case = operation.Case(path_parameters=path_parameters, query=example.get("query"))
    shown = json.dumps(example, default=repr)[:300]
    assert response.status_code < 500, f"{operation.label} {shown}: {response.status_code} {response.text[:300]}"
    case.validate_response(response, checks=CHECKS)


def test_no_operation_gives_a_server_error_or_an_answer_outside_the_document(
    world: World, subtests: pytest.Subtests, tmp_path: Path
) -> None:
    issue = world.report()
    walk_to(world, issue, "hand_off")
    admin = tmp_path / "admin.yaml"
    admin.write_text(ADMIN, encoding="utf-8")
    load(world.app.uow(), parse(admin))
    coordinator = {"Authorization": f"Bearer {create_token(world.app.uow(), COORDINATOR, 'fuzz')[1]}"}
    administrator = {"Authorization": f"Bearer {create_token(world.app.uow(), 'rc-admin', 'fuzz')[1]}"}
    app = create_api(world.app)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    document = app.openapi()
    client = TestClient(app, raise_server_exceptions=False)

    labels = []
    hostile = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the document has an operation schemathesis cannot read: {result.err()}")
        operation = result.ok()
        labels.append(operation.label)
        headers = administrator if operation.path.startswith("/api/v1/admin/") else coordinator
        real = next((code for prefix, code in REAL_CODES.items() if operation.path.startswith(prefix)), None)
        known = {"code": real or issue, "fmt": "json"} if real is not None else {"fmt": "json"}
        with subtests.test(msg=operation.label):
            fuzz(operation, headers, issue)
            for example in hostile_requests(operation, document, known):
                send(client, operation, headers, example)
                hostile += 1
    assert "POST /api/v1/issues/{code}/transitions" in labels
    assert hostile > 500, hostile
