"""The pages warn admins and coordinators when a pending deadline runs into a year the calendar does not know."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from riverchief.demo.play import ADMIN
from tests.factories import COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.clock import SHANGHAI
from workflow.core.reference import load, parse_text

PASSWORD = "琼江清水长流-2026"
ADMIN_CODE = "qj-admin"


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    """Signed-in-able people, and an issue whose ten working days to agree run from 28 December 2026 into 2027."""
    world = sqlite_world
    load(world.app.uow(), parse_text(ADMIN, "yaml", "admin"))
    for person in (COORDINATOR, RECEIVER, ADMIN_CODE):
        set_password(world.app.uow(), person, PASSWORD)
    world.clock.set(datetime(2026, 12, 28, 9, 0, tzinfo=SHANGHAI))
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(code, "dispute", RECEIVER, reason="排口位于太安镇一侧")
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def page(client: TestClient, person: str, path: str, lang: str = "zh-CN") -> str:
    """A page as ``person`` sees it, in ``lang``."""
    client.cookies.set("rc_lang", lang)
    signed = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert signed.status_code == 303
    answer = client.get(path)
    assert answer.status_code == 200
    return answer.text


@pytest.mark.parametrize(("person", "path"), [(COORDINATOR, "/dashboard"), (ADMIN_CODE, "/admin")])
def test_admins_and_coordinators_see_which_year_the_calendar_lacks_in_their_language(
    client: TestClient, person: str, path: str
) -> None:
    chinese = page(client, person, path)
    assert 'data-testid="calendar-gap"' in chinese
    assert "工作日历尚无 2027 年节假日安排：1 项待办时限暂按周一至周五计算" in chinese

    english = page(client, person, path, "en")
    assert "no holiday arrangement for 2027 yet: 1 pending deadline is counted Monday to Friday" in english


def test_a_chief_is_not_shown_the_calendar_warning(client: TestClient) -> None:
    assert 'data-testid="calendar-gap"' not in page(client, RECEIVER, "/queue")
