"""Loading reference data again keeps the jurisdiction tree whole: paths follow moves, partial trees stay put."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import World
from workflow.core.errors import ValidationFailed
from workflow.core.models import Jurisdiction, table_of
from workflow.core.reference import load, parse_text

_j = table_of(Jurisdiction)


def paths(world: World) -> dict[str, str]:
    with world.app.reader() as uow:
        return dict(uow.connection.execute(sa.select(_j.c.code, _j.c.path)).all())


def test_a_subtree_listed_without_its_ancestors_stays_where_it_is(world: World) -> None:
    before = paths(world)
    load(
        world.app.uow(),
        parse_text(
            """
jurisdictions:
  - code: "510900"
    name: 遂宁市
    level: city
    children:
      - {code: "510904103", name: 新桥镇, level: township}
""",
            "yaml",
        ),
    )
    after = paths(world)
    assert after["510900"] == before["510900"] == "/510000/510900/"
    assert after["510904101"] == before["510904101"]
    assert after["510904103"] == "/510000/510900/510904103/"


def test_a_moved_jurisdiction_takes_everything_under_it_along(world: World) -> None:
    load(
        world.app.uow(),
        parse_text(
            """
jurisdictions:
  - code: "512000"
    name: 资阳市
    level: city
    children:
      - {code: "510904", name: 安居区, level: district}
""",
            "yaml",
        ),
    )
    after = paths(world)
    assert after["510904"] == "/510000/512000/510904/"
    assert after["510904101"] == "/510000/512000/510904/510904101/"
    assert after["510904102"] == "/510000/512000/510904/510904102/"
    # Nothing outside the moved subtree changed.
    assert after["512021101"] == "/510000/512000/512021/512021101/"


def test_nobody_may_be_loaded_under_the_schedulers_name(world: World) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_text("people:\n  - {code: system, name: 冒充, role: admin}\n", "yaml")
    assert refused.value.errors[0][0] == "people[0].code"
    assert "reserved" in refused.value.errors[0][1]
