"""查 on the pages: a case opened, linked and closed by a party and a coordinator, a lead transferred and
received; another compact's people and a member who is no party get 404; refusals name the field beside
it and change nothing; user text is escaped; the issue page shows what is linked to whoever may see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_permission_matrix import EXTRA_PEOPLE
from tests.factories import AUDITOR, COORDINATOR, RECEIVER, REPORTER, World
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.reference import load, parse_text
from workflow.enforcement.cases import open_case
from workflow.enforcement.leads import transfer_lead

PASSWORD = "琼江清水长流-2026"
TAIAN, BAIMA = "500152102", "510904101"
PEOPLE = (REPORTER, RECEIVER, COORDINATOR, AUDITOR, "tl-anju", "wh-chief", "hj-coord")


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    load(sqlite_world.app.uow(), parse_text(EXTRA_PEOPLE, "yaml", "extra.yaml"))
    for person in PEOPLE:
        set_password(sqlite_world.app.uow(), person, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def sign_in(client: TestClient, person: str) -> None:
    client.cookies.clear()
    answer = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def a_case(world: World, title: str = "琼江太安—白马段非法采砂联合查处", issues: tuple[str, ...] = ()) -> str:
    return open_case(
        world.app.uow(),
        world.actor(COORDINATOR),
        "QJ",
        "sand_mining",
        title,
        [TAIAN, BAIMA],
        date(2026, 2, 27),
        team=["潼南区农业农村委执法支队"],
        issues=issues,
    )


def test_a_coordinator_opens_a_case_and_a_party_links_an_issue_and_closes_it(
    sqlite_world: World, client: TestClient
) -> None:
    first, second = sqlite_world.report(title="太安镇段采砂"), sqlite_world.report(title="白马镇段采砂船")
    sign_in(client, COORDINATOR)
    form = client.get(f"/cases/new?issue={first}")
    assert form.status_code == 200
    assert f'value="{first}"' in form.text  # the issue it was opened from is filled in
    opened = client.post(
        "/cases",
        data={
            "csrf_token": csrf_of(form.text),
            "compact": "QJ",
            "kind": "sand_mining",
            "title": "琼江交界非法采砂",
            "opened_on": "2026-02-27",
            "team": "潼南区农业农村委执法支队\n\n安居区水利局\n",
            "parties": [TAIAN, BAIMA],
            "issues": first,
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    assert opened.headers["location"] == "/cases/QJ-ZF-2026-001?done=opened"

    sign_in(client, REPORTER)  # 太安镇's chief: a party
    listing = client.get("/enforcement")
    assert listing.status_code == 200
    assert 'href="/enforcement"' in listing.text  # the nav link, for one who takes part
    assert re.findall(r'<li data-code="([^"]+)"', listing.text) == ["QJ-ZF-2026-001"]
    page = client.get("/cases/QJ-ZF-2026-001")
    assert page.status_code == 200
    assert "太安镇、白马镇" in page.text
    assert "<li>潼南区农业农村委执法支队</li><li>安居区水利局</li>" in page.text
    assert f'href="/issues/{first}"' in page.text
    linked = client.post(
        "/cases/QJ-ZF-2026-001/issues", data={"csrf_token": csrf_of(page.text), "issue": second}, follow_redirects=False
    )
    assert linked.status_code == 303
    closed = client.post(
        "/cases/QJ-ZF-2026-001/close",
        data={"csrf_token": csrf_of(page.text), "closed_on": "2026-03-01", "outcome": "查扣采砂船2艘"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    done = client.get(closed.headers["location"])
    assert "已结案" in done.text
    assert f'href="/issues/{second}"' in done.text
    assert 'data-testid="close-form"' not in done.text  # a closed case is not closed again


def test_a_lead_is_transferred_and_its_receipt_recorded_on_the_pages(sqlite_world: World, client: TestClient) -> None:
    issue = sqlite_world.report(title="沿岸偷排")
    sign_in(client, REPORTER)
    form = client.get(f"/leads/new?issue={issue}")
    assert form.status_code == 200
    assert f'<option value="{TAIAN}" selected>' in form.text  # the chief's own side
    assert f'value="{BAIMA}"' not in form.text  # not the other side's to transfer
    made = client.post(
        "/leads",
        data={
            "csrf_token": csrf_of(form.text),
            "compact": "QJ",
            "jurisdiction": TAIAN,
            "title": "琼江沿岸非法排污公益诉讼线索",
            "procuratorate": "潼南区人民检察院",
            "transferred_on": "2026-02-26",
            "issue": issue,
            "case": "",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    page = client.get(made.headers["location"])
    assert "已登记移送" in page.text
    received = client.post(
        "/leads/QJ-XS-2026-001/receipt",
        data={"csrf_token": csrf_of(page.text), "receipt_no": "潼检收〔2026〕3号", "received_on": "2026-02-28"},
        follow_redirects=False,
    )
    assert received.status_code == 303
    page = client.get("/leads/QJ-XS-2026-001")
    assert '<dd data-testid="receipt_no">潼检收〔2026〕3号</dd>' in page.text
    assert "登记处理结果" in page.text  # the outcome may follow


@pytest.mark.parametrize("person", ["wh-chief", "hj-coord", "tl-anju", AUDITOR, RECEIVER])
def test_a_case_or_lead_is_not_found_for_who_is_no_party(sqlite_world: World, client: TestClient, person: str) -> None:
    code = a_case(sqlite_world)
    lead = transfer_lead(
        sqlite_world.app.uow(), sqlite_world.actor(REPORTER), "QJ", TAIAN, "线索", "潼南区人民检察院", date(2026, 3, 1)
    )
    sign_in(client, person)
    home = client.get("/enforcement")
    assert (code in home.text, lead in home.text) == (person == RECEIVER, False)
    if person != RECEIVER:  # 白马镇 is a party to the case, not the side of the lead
        assert client.get(f"/cases/{code}").status_code == 404
        token = csrf_of(home.text)
        refused = client.post(
            f"/cases/{code}/close", data={"csrf_token": token, "closed_on": "2026-03-01", "outcome": "x"}
        )
        assert refused.status_code == 404
    assert client.get(f"/leads/{lead}").status_code == 404
    # The menu is for whoever may take part in a case of some compact: not for an auditor.
    assert ('href="/enforcement"' in home.text) == (person != AUDITOR)
    if person == AUDITOR:
        assert client.get("/cases/new").status_code == 403
        assert client.get("/leads/new").status_code == 403


def test_refusals_name_their_field_on_the_page_and_change_nothing(sqlite_world: World, client: TestClient) -> None:
    code = a_case(sqlite_world)
    sign_in(client, COORDINATOR)
    form = client.get("/cases/new")
    before = sqlite_world.counts()
    refused = client.post(
        "/cases",
        data={
            "csrf_token": csrf_of(form.text),
            "compact": "QJ",
            "kind": "sand_mining",
            "title": "  ",
            "opened_on": "2026-03-09",
            "team": "",
            "parties": [TAIAN],
            "issues": "QJ-2099-9999",
        },
    )
    assert refused.status_code == 422
    for field in ("title", "opened_on", "parties", "issues"):
        assert f'data-testid="error-{field}"' in refused.text, field
    assert f'<input type="checkbox" name="parties" value="{TAIAN}" checked>' in refused.text  # what was chosen stays
    bad_day = client.post("/cases", data={"csrf_token": csrf_of(form.text), "compact": "QJ", "opened_on": "2026-02-31"})
    assert 'data-testid="error-opened_on"' in bad_day.text
    page = client.get(f"/cases/{code}")
    early = client.post(
        f"/cases/{code}/close", data={"csrf_token": csrf_of(page.text), "closed_on": "2026-02-20", "outcome": "结案"}
    )
    assert early.status_code == 422
    assert 'data-testid="error-closed_on"' in early.text
    assert "结案" in early.text  # the outcome typed is kept
    unknown = client.post(f"/cases/{code}/issues", data={"csrf_token": csrf_of(page.text), "issue": "QJ-2099-9999"})
    assert (unknown.status_code, 'data-testid="error-issue"' in unknown.text) == (422, True)
    forged = client.post(f"/cases/{code}/issues", data={"csrf_token": "forged", "issue": "QJ-2099-9999"})
    assert forged.status_code == 403
    assert sqlite_world.counts() == before


def test_user_text_is_escaped_and_the_issue_page_shows_links_only_to_who_may_see_them(
    sqlite_world: World, client: TestClient
) -> None:
    issue = sqlite_world.report(title="交界排口")
    code = a_case(sqlite_world, title="<script>alert(1)</script>", issues=(issue,))
    transfer_lead(
        sqlite_world.app.uow(),
        sqlite_world.actor(COORDINATOR),
        "QJ",
        TAIAN,
        '<img src=x onerror="alert(2)">',
        "潼南区人民检察院",
        date(2026, 3, 1),
        issue=issue,
    )
    sign_in(client, RECEIVER)
    page = client.get(f"/cases/{code}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    seen = client.get(f"/issues/{issue}")
    assert f'href="/cases/{code}"' in seen.text
    assert "QJ-XS-2026-001" not in seen.text  # the lead is 太安镇's, not 白马镇's
    sign_in(client, REPORTER)
    seen = client.get(f"/issues/{issue}")
    assert 'href="/leads/QJ-XS-2026-001"' in seen.text
    assert "<img src=x" not in seen.text
    sign_in(client, "tl-anju")  # reads the compact's issue, is no party to its case
    seen = client.get(f"/issues/{issue}")
    assert seen.status_code == 200
    assert code not in seen.text
    assert "QJ-XS-2026-001" not in seen.text
