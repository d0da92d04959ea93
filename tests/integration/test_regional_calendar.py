"""Where a province keeps a day off that others work, its side's deadlines count it."""

from datetime import date
from pathlib import Path

import pytest

from riverchief.bootstrap import bootstrap
from riverchief.settings import Settings
from tests.factories import load_world
from workflow.core.calendar import WorkCalendar, load_overrides, load_regional
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.errors import ValidationFailed

# Wednesday 2026-03-04 off in 四川省 (510000) only, for the test's sake.
REGIONS = """
regions:
  "510000":
    2026:
      holidays: [2026-03-04]
"""


def test_a_province_day_off_applies_to_every_jurisdiction_under_it(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(REGIONS, encoding="utf-8")
    calendar = WorkCalendar(load_overrides([path]), load_regional([path]))
    sichuan = calendar.for_path("/510000/510900/510904/510904101/")
    chongqing = calendar.for_path("/500000/500152/500152102/")
    assert not sichuan.is_workday(date(2026, 3, 4))
    assert chongqing.is_workday(date(2026, 3, 4))
    assert calendar.is_workday(date(2026, 3, 4))
    assert sichuan.add_working_days(date(2026, 3, 2), 3) == date(2026, 3, 6)
    assert chongqing.add_working_days(date(2026, 3, 2), 3) == date(2026, 3, 5)


def test_a_hand_off_deadline_is_counted_in_the_receiving_sides_working_days(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(REGIONS, encoding="utf-8")
    from riverchief.migrate import upgrade
    from tests.factories import START
    from workflow.core.db import make_engine

    engine = make_engine(sqlite_url)
    upgrade(engine)
    clock = FrozenClock(START)
    app = bootstrap(
        Settings(database_url=sqlite_url, calendar_file=path, data_dir=tmp_path), clock=clock, engine=engine
    )
    world = load_world(app, clock)
    to_sichuan = world.report()
    world.fire(to_sichuan, "hand_off", "tn-taian", receiving="510904101")
    to_chongqing = world.report("sn-baima", segment="qj-taian")
    world.fire(to_chongqing, "hand_off", "sn-baima", receiving="500152102")
    assert world.issue(to_sichuan).due_at.astimezone(SHANGHAI).date() == date(2026, 3, 6)
    assert world.issue(to_chongqing).due_at.astimezone(SHANGHAI).date() == date(2026, 3, 5)
    engine.dispose()


def test_a_region_that_is_not_a_division_code_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text('regions:\n  "Sichuan":\n    2026: {holidays: [2026-03-04]}\n', encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"regions\.Sichuan"):
        load_regional([path])
