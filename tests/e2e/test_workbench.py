"""The coordinator's workbench through the pages: the compact's issues filtered in the URL and exported, several
selected to convene one meeting or to dispatch, then the meeting's attendance, decisions, action items and
minutes."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.factories import COORDINATOR, RECEIVER, REPORTER, World, walk_to
from web.api import create_api
from web.pages.routes import LATE_LISTED, late_parties
from workflow.accounts.signin import set_password

PASSWORD = "琼江清水长流-2026"


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    for person in (REPORTER, RECEIVER, COORDINATOR):
        set_password(sqlite_world.app.uow(), person, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def sign_in(client: TestClient, person: str) -> None:
    answer = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)"', html)


def three_stuck(world: World) -> list[str]:
    codes = []
    for title in ("白马镇段排污口", "太安镇段养殖废水", "交界处垃圾堆放"):
        code = world.report(title=title)
        walk_to(world, code, "hand_off")
        codes.append(code)
    return codes


def test_the_list_is_filtered_in_the_url_and_exported_as_it_is_filtered(
    sqlite_world: World, client: TestClient
) -> None:
    stuck = three_stuck(sqlite_world)
    fresh = sqlite_world.report(title="新上报的问题")
    sign_in(client, COORDINATOR)
    everything = client.get("/issues")
    assert everything.status_code == 200
    assert set(listed(everything.text)) == {*stuck, fresh}
    waiting = client.get("/issues?waiting_on=receiving&order=due")
    assert listed(waiting.text) == stuck  # handed off in order, so their deadlines come in that order
    assert 'value="receiving" selected' in waiting.text  # the filter stays on the form
    searched = client.get("/issues", params={"q": "养殖"})
    assert listed(searched.text) == [stuck[1]]
    bad = client.get("/issues?state=nonsense")
    assert bad.status_code == 422
    assert "“nonsense”不是可选的状态" in bad.text  # in the page's words, not the API's

    sqlite_world.clock.advance(seconds=timedelta(days=10).total_seconds())
    sign_in(client, COORDINATOR)  # a new day, a new session
    overdue = client.get("/issues?overdue=true&phase=ban")
    assert set(listed(overdue.text)) == set(stuck)
    exported = client.get("/issues/export.csv?overdue=true&phase=ban")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "问题", "类别"]
    assert sorted(r[0] for r in rows[1:]) == sorted(stuck)
    assert {r[7] for r in rows[1:]} == {"是"}
    book = load_workbook(io.BytesIO(client.get("/issues/export.xlsx?overdue=true&phase=ban").content))
    sheet = book.active
    assert sheet is not None
    assert sorted(row[0] for row in sheet.iter_rows(min_row=2, values_only=True)) == sorted(stuck)


def test_a_formula_in_a_title_is_exported_as_text(sqlite_world: World, client: TestClient) -> None:
    sqlite_world.report(title='=HYPERLINK("http://evil.example","点我")')
    sign_in(client, COORDINATOR)
    rows = list(csv.reader(io.StringIO(client.get("/issues/export.csv").content.decode("utf-8-sig"))))
    assert rows[1][1].startswith("'=")


def test_a_coordinator_selects_three_convenes_one_meeting_and_runs_it_to_its_minutes(
    sqlite_world: World, client: TestClient
) -> None:
    stuck = three_stuck(sqlite_world)
    sign_in(client, COORDINATOR)
    page = client.get("/issues?phase=ban")
    chosen = client.post(
        "/meetings/new",
        data={"csrf_token": csrf_of(page.text), "issue": stuck},
        follow_redirects=True,
    )
    assert chosen.status_code == 200
    for code in stuck:
        assert f'name="agenda" value="{code}" checked' in chosen.text
    day = (sqlite_world.clock.now() + timedelta(days=1)).date().isoformat()
    form = {
        "csrf_token": csrf_of(chosen.text),
        "compact": "QJ",
        "title": "琼江跨界问题联席会议",
        "date": day,
        "time": "09:30",
        "place": "潼南区河长办会议室",
        "level": "district",
        "agenda": stuck,
    }
    refused = client.post("/meetings", data=form)
    assert refused.status_code == 422
    assert 'data-testid="error-level_reason"' in refused.text  # two provinces suggest a city-level meeting
    form["level_reason"] = "三件均已有初步方案，区县层级会办即可"
    made = client.post("/meetings", data=form, follow_redirects=False)
    assert made.status_code == 303
    code = made.headers["location"].split("/")[-1].split("?")[0]
    assert {sqlite_world.issue(c).state for c in stuck} == {"ban.joint_meeting"}

    sqlite_world.clock.advance(seconds=timedelta(days=1).total_seconds())
    sign_in(client, COORDINATOR)  # the meeting's day, a new session
    meeting = client.get(f"/meetings/{code}")
    token = csrf_of(meeting.text)
    attendance = {"csrf_token": token, f"att_{REPORTER}": "present", f"att_{RECEIVER}": "present"}
    assert client.post(f"/meetings/{code}/attendance", data=attendance, follow_redirects=False).status_code == 303
    deadline = sqlite_world.deadline(15)
    for issue in stuck:
        decision = {
            "csrf_token": token,
            "issue": issue,
            "resolution": "由白马镇牵头整改",
            "plan": "限期整改",
            "deadline": deadline,
        }
        answer = client.post(f"/meetings/{code}/decision", data=decision, follow_redirects=False)
        assert answer.status_code == 303
    assert {sqlite_world.issue(c).state for c in stuck} == {"ban.rectifying"}
    action = {"csrf_token": token, "title": "建立琼江联合执法小组", "owner": "500152", "due_on": deadline}
    assert client.post(f"/meetings/{code}/action", data=action, follow_redirects=False).status_code == 303
    assert (
        client.post(f"/meetings/{code}/minutes", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    )
    shown = client.get(f"/meetings/{code}?done=minutes")
    assert "会议纪要已存档" in shown.text
    assert "建立琼江联合执法小组" in shown.text
    assert client.get("/meetings").status_code == 200
    assert "建立琼江联合执法小组" in client.get("/actions").text

    sign_in(client, REPORTER)
    assert client.get(f"/meetings/{code}").status_code == 200
    refused_step = client.post(
        f"/meetings/{code}/action", data={**action, "csrf_token": csrf_of(client.get(f"/meetings/{code}").text)}
    )
    assert refused_step.status_code == 403


def test_a_coordinator_dispatches_the_selected_issues_in_one_step(sqlite_world: World, client: TestClient) -> None:
    stuck = three_stuck(sqlite_world)
    sign_in(client, COORDINATOR)
    page = client.get("/issues")
    answer = client.post(
        "/issues/dispatch",
        data={"csrf_token": csrf_of(page.text), "issue": stuck[:2], "order": "限三日内受理", "back": "/issues"},
        follow_redirects=True,
    )
    assert "已调度 2 件问题" in answer.text
    assert [sqlite_world.issue(c).state for c in stuck] == ["ban.dispatched", "ban.dispatched", "ban.handed_off"]
    empty = client.post("/issues/dispatch", data={"csrf_token": csrf_of(page.text), "issue": [], "order": "x"})
    assert empty.status_code == 422


def test_a_coordinator_issues_a_progress_bulletin_from_the_meetings_page(
    sqlite_world: World, client: TestClient
) -> None:
    three_stuck(sqlite_world)
    sign_in(client, COORDINATOR)
    page = client.get("/meetings")
    assert 'data-testid="bulletin-form"' in page.text
    today = sqlite_world.clock.now().date().isoformat()
    form = {"csrf_token": csrf_of(page.text), "compact": "QJ", "from": "2026-03-01", "to": today}
    answer = client.post("/bulletins", data=form, follow_redirects=True)
    assert answer.status_code == 200
    assert "QJ联防通报〔2026〕1号 已生成并存档" in answer.text
    sign_in(client, REPORTER)
    assert 'data-testid="bulletin-form"' not in client.get("/meetings").text


def test_the_dashboards_party_table_adds_up_says_whose_each_figure_is_and_links_to_its_list(
    sqlite_world: World, client: TestClient
) -> None:
    stuck = three_stuck(sqlite_world)  # reported by 太安镇 (潼南区), handed to 白马镇 (遂宁市)
    sign_in(client, COORDINATOR)
    html = client.get("/dashboard").text
    link = re.search(r'<a href="([^"]+)" data-testid="party-500152-handed_over">(\d+)</a>', html)
    assert link is not None
    href, count = link.group(1).replace("&amp;", "&"), int(link.group(2))
    assert count == 3
    assert "side=reporting" in href
    assert sorted(listed(client.get(href).text)) == sorted(stuck)
    assert re.search(r'data-testid="total-handed_over">3<', html)
    assert "计入发现方" in html
    assert "双方各计" in html


def test_the_dashboard_names_the_most_overdue_party_first_with_its_first_issues_and_how_many_in_all(
    sqlite_world: World, client: TestClient
) -> None:
    world = sqlite_world
    handed = []  # 白马镇, the receiving side, is late accepting these two
    for i in range(2):
        code = world.report(title=f"交界处垃圾堆放{i}")
        walk_to(world, code, "hand_off")
        handed.append(code)
    # 太安镇, which found these, is late handing them over: more of them, so it comes first.
    kept = [world.report(title=f"太安镇段养殖废水{i}") for i in range(LATE_LISTED + 2)]
    world.clock.advance(days=30)
    sign_in(client, COORDINATOR)
    html = client.get("/dashboard").text
    table = re.search(r'data-testid="overdue-parties">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert table is not None
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    # Each place with the one it lies within: towns of one name lie in several districts.
    assert [re.findall(r'<td class="who">([^<]*)<div class="hint">([^<]*)</div></td>', row)[0] for row in rows] == [
        ("太安镇", "潼南区"),
        ("白马镇", "安居区"),
    ]
    assert re.findall(r'href="/issues/([^"]+)"', rows[0]) == sorted(kept)[:LATE_LISTED]
    assert f"等共 {len(kept)} 件" in rows[0]
    assert re.findall(r'href="/issues/([^"]+)"', rows[1]) == sorted(handed)
    assert "late-in-all" not in rows[1]


def test_a_place_late_as_both_sides_is_one_row_of_the_dashboard_and_the_coordinators_stay_their_own() -> None:
    def party(side: str, place: int | None, *codes: str) -> dict[str, object]:
        return {"party": side, "jurisdiction_id": place, "jurisdiction": "中坝镇", "chiefs": [], "issues": list(codes)}

    rows = late_parties(
        [
            party("coordinator", None, "B-3"),
            party("receiving", 7, "B-1", "B-4"),
            party("receiving", 8, "B-9"),
            party("reporting", 7, "B-2", "B-4"),
        ]
    )
    assert [(r["party"], r["jurisdiction_id"], r["issues"]) for r in rows] == [
        ("receiving", 7, ["B-1", "B-2", "B-4"]),  # the same town: one row, each issue once, the most first
        ("coordinator", None, ["B-3"]),
        ("receiving", 8, ["B-9"]),  # another town of the same name stays apart
    ]


def test_the_river_filter_offers_the_rivers_of_the_compacts_read_not_the_provinces(
    sqlite_world: World, client: TestClient
) -> None:
    # A river with a segment only on the province's own level (under no member of 琼江), and one with none.
    with sqlite_world.app.uow() as uow:
        conn = uow.connection
        conn.execute(sa.text("INSERT INTO river (code, name) VALUES ('jialing', '嘉陵江'), ('dry', '无河段的河')"))
        conn.execute(
            sa.text(
                "INSERT INTO segment (code, name, river_id, jurisdiction_id) SELECT 'jialing-cq', '嘉陵江重庆段',"
                " (SELECT id FROM river WHERE code = 'jialing'), (SELECT id FROM jurisdiction WHERE code = '500000')"
            )
        )
        uow.commit()
    sign_in(client, COORDINATOR)
    page = client.get("/issues")
    assert page.status_code == 200
    select = re.search(r'<select id="f-river".*?</select>', page.text, re.DOTALL)
    assert select is not None
    offered = re.findall(r'<option value="([^"]+)"', select.group(0))
    assert offered == ["moxi-he", "qiongjiang"]
    # A river not offered may still be asked for by its code (a link from elsewhere): the filter answers.
    sent: list[str] = []

    def keep(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    sa.event.listen(sqlite_world.app.engine, "before_cursor_execute", keep)
    try:
        assert client.get("/issues?river=jialing").status_code == 200
        assert client.get("/issues").status_code == 200
    finally:
        sa.event.remove(sqlite_world.app.engine, "before_cursor_execute", keep)
    # The rivers offered are kept a minute for the same compacts: the pages after the first do not read them.
    assert [s for s in sent if "SELECT river.code, river.name" in s] == []
