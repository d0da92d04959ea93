"""The issue list, per-party stats, the upload limit and serving with several workers, as a client sees them."""

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from riverchief.demo.play import DATA
from riverchief.settings import Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.test_api import OTHER_COMPACT, auth
from tests.factories import COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, START, Cli, World, walk_to
from web.api import create_api
from workflow.core.actors import load_actor
from workflow.core.clock import SHANGHAI
from workflow.core.reference import load, parse

Params = dict[str, Any]


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


@pytest.fixture
def sqlite_client(sqlite_world: World) -> Iterator[TestClient]:
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def page(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    """One page of the list; fails unless it is a 200."""
    answer = client.get("/api/v1/issues", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def codes(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    """The codes of one page of the list."""
    return [item["code"] for item in page(client, headers, **params)["items"]]


def refused_fields(client: TestClient, headers: dict[str, str], **params: Any) -> set[str]:
    """The fields a 422 names."""
    answer = client.get("/api/v1/issues", params=params, headers=headers)
    assert answer.status_code == 422, answer.text
    return {f["field"] for f in answer.json()["fields"]}


def four_issues(world: World) -> dict[str, str]:
    """Four issues on four days, each in a different phase and between different sides.

    a: 太安镇 (潼南) → 白马镇 (遂宁), handed off, 03-02
    b: 白马镇 (遂宁), only reported, livestock, 03-03
    c: 安居镇 (铜梁) → 玉溪镇 (潼南), accepted, sand mining, 03-04
    d: 太安镇 (潼南) → 白马镇 (遂宁), rectified, 03-05
    """
    a = world.report(REPORTER, title="白马镇段排污口", place="白马镇老街")
    world.fire(a, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.clock.advance(days=1)
    b = world.report(RECEIVER, title="磨溪养殖场粪污", category="livestock", segment=None)
    world.clock.advance(days=1)
    c = world.report(
        "tl-anju", title="安居镇非法采砂", category="sand_mining", segment="qj-anju", description="夜间采砂船 ABC"
    )
    world.fire(c, "hand_off", "tl-anju", receiving="500152103")
    world.fire(c, "accept", "tn-yuxi")
    world.clock.advance(days=1)
    d = world.report(REPORTER, title="太安镇段排污口")
    walk_to(world, d, "report_done")
    return {"a": a, "b": b, "c": c, "d": d}


# -- filters ----------------------------------------------------------------------------------------------------


def test_each_filter_narrows_the_list_and_filters_combine(world: World, client: TestClient) -> None:
    i = four_issues(world)
    a, b, c, d = i["a"], i["b"], i["c"], i["d"]
    coordinator = auth(world, COORDINATOR)

    def listed(**params: Any) -> list[str]:
        return codes(client, coordinator, **params)

    assert listed() == [d, c, b, a]
    assert listed(state="ban.handed_off") == [a]
    assert listed(state=["ban.handed_off", "ban.accepted"]) == [c, a]
    assert listed(phase="ban") == [c, a]
    assert listed(phase="du") == [d]
    assert listed(phase="xun") == [b]
    assert listed(phase="kan") == []
    assert listed(party="500152") == [d, c, a]  # 潼南区: its townships report a, d and receive c
    assert listed(party="500152", side="receiving") == [c]
    assert listed(party="500152", side="reporting") == [d, a]
    assert listed(party="510900") == [d, b, a]  # 遂宁市, through 白马镇 two levels down
    assert listed(party="510904101", side="reporting") == [b]
    assert listed(party="500151") == [c]
    assert listed(party="512000") == []
    assert listed(category="livestock") == [b]
    assert listed(category="sand_mining") == [c]
    assert listed(**{"from": "2026-03-03"}) == [d, c, b]
    assert listed(to="2026-03-04") == [b, a]
    assert listed(**{"from": "2026-03-03", "to": "2026-03-04"}) == [b]
    assert listed(q="老街") == [a]  # place
    assert listed(q="abc") == [c]  # description, whatever the case
    assert listed(q=b.lower()) == [b]  # code
    assert listed(q="排污口") == [d, a]  # title
    assert listed(compact="QJ", phase="ban", party="500152", side="receiving") == [c]
    assert listed(category="domestic_sewage", party="510900", phase="du") == [d]
    assert listed(q="排污口", state=["ban.handed_off", "du.rectified"], to="2026-03-05") == [a]
    assert listed(category="livestock", phase="ban") == []
    # The workbench's filters: the river's segments, the difficulty, whom the state waits on.
    assert listed(river="qiongjiang") == [d, c, a]  # b has no segment
    assert listed(difficulty="normal") == [d, c, b, a]
    assert listed(difficulty="hard") == []
    assert listed(waiting_on="receiving") == [c, a]  # c to plan its rectification, a to be accepted
    assert listed(waiting_on="reporting") == [d, b]  # d to request the joint check, b to be handed off


def test_overdue_lists_exactly_the_issues_past_their_deadline(world: World, client: TestClient) -> None:
    i = four_issues(world)
    world.clock.set(START + timedelta(days=5))
    late = {code for code in i.values() if (due := world.issue(code).due_at) is not None and due < world.clock.now()}
    assert late, "the scenario must have a missed deadline"
    assert late != set(i.values()), "and an issue still in time"
    items = page(client, auth(world, COORDINATOR), overdue="true")["items"]
    assert {item["code"] for item in items} == late
    assert all(item["overdue"] for item in items)
    everything = page(client, auth(world, COORDINATOR))["items"]
    assert {item["code"] for item in everything if item["overdue"]} == late


def test_unknown_filter_values_are_refused_naming_each_field(world: World, client: TestClient) -> None:
    world.report()
    headers = auth(world, COORDINATOR)
    assert refused_fields(client, headers, phase="zhi") == {"phase"}
    assert refused_fields(client, headers, category="noise") == {"category"}
    assert refused_fields(client, headers, state=["ban.handed_off", "ban.lost"]) == {"state"}
    assert refused_fields(client, headers, state="ban") == {"state"}  # a phase is not a state
    assert refused_fields(client, headers, party="999999") == {"party"}
    assert refused_fields(client, headers, party="500152", side="left_bank") == {"side"}
    assert refused_fields(client, headers, side="reporting") == {"side"}
    assert refused_fields(client, headers, **{"from": "2026-03-05", "to": "2026-03-05"}) == {"to"}
    assert refused_fields(client, headers, q="河" * 201) == {"q"}
    assert refused_fields(client, headers, phase="zhi", category="noise", party="0") == {"phase", "category", "party"}
    assert refused_fields(client, headers, river="yangtze", difficulty="very", waiting_on="nobody") == {
        "river",
        "difficulty",
        "waiting_on",
    }


def test_text_search_takes_percent_underscore_and_slash_literally(world: World, client: TestClient) -> None:
    titles = {
        "percent": "COD超标100%",
        "underscore": "排口_A",
        "slash": "左岸/右岸",
        "plain": "Outfall near bridge",
        "plain2": "排口BA",
    }
    code = {key: world.report(title=title) for key, title in titles.items()}
    headers = auth(world, REPORTER)
    assert codes(client, headers, q="%") == [code["percent"]]
    assert codes(client, headers, q="0%") == [code["percent"]]
    assert codes(client, headers, q="_") == [code["underscore"]]
    assert codes(client, headers, q="口_") == [code["underscore"]]  # "_" is not "any character": 排口B is left out
    assert codes(client, headers, q="/") == [code["slash"]]
    assert codes(client, headers, q="OUTFALL") == [code["plain"]]
    assert codes(client, headers, q="%%") == []
    assert len(codes(client, headers, q="排口")) == 2


# -- the items --------------------------------------------------------------------------------------------------


def test_each_item_carries_its_sides_phase_label_and_the_callers_triggers(world: World, client: TestClient) -> None:
    i = four_issues(world)
    for person in (REPORTER, RECEIVER, COORDINATOR):
        headers = auth(world, person)
        for item in page(client, headers)["items"]:
            one = client.get(f"/api/v1/issues/{item['code']}", headers=headers).json()
            assert item["allowed_triggers"] == one["allowed_triggers"]
            assert (item["state"], item["version"], item["category"]) == (one["state"], one["version"], one["category"])
    item = page(client, auth(world, RECEIVER), state="ban.handed_off")["items"][0]
    issue = world.issue(i["a"])
    assert item == {
        "code": i["a"],
        "title": "白马镇段排污口",
        "category": "domestic_sewage",
        "state": "ban.handed_off",
        "state_label": "已交办待受理",
        "phase": "ban",
        "version": 2,
        "due_at": issue.due_at.isoformat() if issue.due_at else None,
        "created_at": START.astimezone(issue.created_at.tzinfo).isoformat(),
        "reporting": {"code": "500152102", "name": "太安镇"},
        "receiving": {"code": RECEIVING_CODE, "name": "白马镇"},
        "overdue": False,
        "allowed_triggers": ["accept", "dispute", "mark_duplicate"],
    }
    reported_only = page(client, auth(world, RECEIVER), phase="xun")["items"][0]
    assert reported_only["receiving"] is None


def test_the_list_costs_the_same_queries_for_one_item_or_many(world: World, client: TestClient) -> None:
    four_issues(world)
    headers = auth(world, COORDINATOR)
    codes(client, headers, limit=1)  # the token's first use stamps it; that write is not the list's cost
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(world.app.engine, "before_cursor_execute", count)
    try:
        assert len(codes(client, headers, limit=1)) == 1
        for_one = len(statements)
        statements.clear()
        assert len(codes(client, headers, limit=4)) == 4
        for_four = len(statements)
    finally:
        sa.event.remove(world.app.engine, "before_cursor_execute", count)
    assert for_four == for_one


# -- pages ------------------------------------------------------------------------------------------------------


def test_pages_walk_every_issue_once_while_new_ones_arrive(world: World, client: TestClient) -> None:
    for n in range(8):
        world.report(title=f"问题{n}")
        if n % 3 == 2:  # several issues share a created_at, so the id must break the tie across pages
            world.clock.advance(minutes=1)
    headers = auth(world, COORDINATOR)
    before = codes(client, headers, limit=200)
    assert len(before) == 8
    walked: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: Params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = page(client, headers, **params)
        walked += [item["code"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(body["items"]) == 3
        # Someone reports between two pages, sometimes in the same second, sometimes later.
        world.report(title="翻页时新报的问题")
        if pages % 2:
            world.clock.advance(seconds=30)
    assert walked == before  # no issue twice, none left out, newest first; the new ones wait for the next walk
    assert pages == 3
    assert len(codes(client, headers, limit=200)) == 8 + pages - 1


def test_a_tampered_cursor_is_refused_naming_cursor(sqlite_world: World, sqlite_client: TestClient) -> None:
    for _ in range(3):
        sqlite_world.report()
    headers = auth(sqlite_world, REPORTER)
    cursor = page(sqlite_client, headers, limit=1)["next_cursor"]
    assert isinstance(cursor, str)
    assert page(sqlite_client, headers, limit=1, cursor=cursor)["items"]
    key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))

    def encoded(value: Any, **dumps: Any) -> str:
        options: dict[str, Any] = {"separators": (",", ":"), "sort_keys": True, **dumps}
        text = json.dumps(value, **options)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    assert encoded(key) == cursor  # so each variant below differs from a good cursor only where it says

    flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    for bad in (
        "nonsense!",
        cursor[:-3],
        cursor + "AAAA",
        flipped,
        encoded([key["at"], key["id"]]),
        encoded({**key, "id": str(key["id"])}),
        encoded({**key, "id": True}),
        encoded({**key, "id": -1}),
        encoded({**key, "at": "yesterday"}),
        encoded({**key, "at": key["at"][:19]}),  # no time zone
        encoded({**key, "extra": 1}),
        encoded(key, separators=(", ", ": ")),  # the same key, not as this API writes it
        encoded({"id": key["id"], "at": key["at"]}, sort_keys=False),
        "",
        "A" * 500,
    ):
        answer = sqlite_client.get("/api/v1/issues", params={"limit": 1, "cursor": bad}, headers=headers)
        assert answer.status_code == 422, bad
        assert [f["field"] for f in answer.json()["fields"]] == ["cursor"], bad


@pytest.mark.parametrize("limit", ["0", "-1", "201", "100000"])
def test_a_limit_outside_1_to_200_is_refused(sqlite_world: World, sqlite_client: TestClient, limit: str) -> None:
    sqlite_world.report()
    headers = auth(sqlite_world, REPORTER)
    assert refused_fields(sqlite_client, headers, limit=limit) == {"limit"}
    assert refused_fields(sqlite_client, headers, limit=limit, cursor="x", q="河" * 201) == {"limit", "cursor", "q"}


def test_the_limit_bounds_themselves_are_served(sqlite_world: World, sqlite_client: TestClient) -> None:
    for _ in range(2):
        sqlite_world.report()
    headers = auth(sqlite_world, REPORTER)
    assert len(codes(sqlite_client, headers, limit=1)) == 1
    assert len(codes(sqlite_client, headers, limit=200)) == 2
    assert len(codes(sqlite_client, headers)) == 2  # default 50


# -- scope ------------------------------------------------------------------------------------------------------


def test_another_compacts_issues_never_take_a_place_on_a_page(
    sqlite_world: World, sqlite_client: TestClient, tmp_path: Path
) -> None:
    ours = [sqlite_world.report() for _ in range(3)]
    extra = tmp_path / "hj.yaml"
    extra.write_text(OTHER_COMPACT, encoding="utf-8")
    load(sqlite_world.app.uow(), parse(extra))
    with sqlite_world.app.reader() as uow:
        sqlite_world.people["wh-chief"] = load_actor(uow.session, "wh-chief")
    sqlite_world.clock.advance(minutes=1)
    theirs = [sqlite_world.report("wh-chief", compact="HJ", segment=None) for _ in range(5)]  # newer than ours

    headers = auth(sqlite_world, REPORTER)
    first = page(sqlite_client, headers, limit=2)
    assert [item["code"] for item in first["items"]] == ours[:0:-1]
    second = page(sqlite_client, headers, limit=2, cursor=first["next_cursor"])
    assert [item["code"] for item in second["items"]] == ours[:1]
    assert second["next_cursor"] is None
    assert codes(sqlite_client, headers, q="QJ-", limit=200) == ours[::-1]
    assert codes(sqlite_client, auth(sqlite_world, "wh-chief"), limit=200) == theirs[::-1]
    assert sqlite_client.get("/api/v1/issues?compact=HJ", headers=headers).status_code == 404
    assert sqlite_client.get("/api/v1/issues?compact=XX", headers=headers).status_code == 404
    assert codes(sqlite_client, headers, compact="QJ") == ours[::-1]


# -- stats per party --------------------------------------------------------------------------------------------

FIGURE_KEYS = (
    "handed_over",
    "accepted",
    "disputed",
    "negotiated",
    "joint_meetings",
    "dispatched",
    "rectified",
    "verified",
    "closed",
    "revisits",
    "rebounds",
    "archived",
    "overdue",
)


def test_stats_give_each_member_party_the_figures_of_its_side(world: World, client: TestClient) -> None:
    # 太安镇 (潼南) → 白马镇 (遂宁), accepted, rectified
    one = world.report()
    walk_to(world, one, "report_done")
    # 白马镇 (遂宁) → 太安镇 (潼南), disputed by 潼南: a negotiation both sides are in
    two = world.report(RECEIVER, segment=None)
    world.fire(two, "hand_off", RECEIVER, receiving="500152102")
    world.fire(two, "dispute", REPORTER, reason="非本镇辖区")
    # 安居镇 (铜梁) → 玉溪镇 (潼南), accepted
    three = world.report("tl-anju", segment="qj-anju")
    world.fire(three, "hand_off", "tl-anju", receiving="500152103")
    world.fire(three, "accept", "tn-yuxi")
    # 太安镇 → 玉溪镇: both sides inside 潼南, accepted: counted once for 潼南 on each side
    four = world.report(REPORTER, segment="qj-yuxi")
    world.fire(four, "hand_off", REPORTER, receiving="500152103")
    world.fire(four, "accept", "tn-yuxi")
    # 太安镇 → 龙台镇 (资阳), never accepted: 资阳's deadline is missed
    five = world.report(REPORTER, segment="qj-longtai")
    world.fire(five, "hand_off", REPORTER, receiving="512021101")
    world.clock.advance(days=14)  # every deadline above has passed

    figures = client.get(
        "/api/v1/stats", params={"from": "2026-03-01", "to": "2026-04-01"}, headers=auth(world, COORDINATOR)
    ).json()
    by_code = {p["code"]: p for p in figures["parties"]}
    assert [p["code"] for p in figures["parties"]] == ["500151", "500152", "510900", "512000"]
    assert {p["code"]: p["name"] for p in figures["parties"]} == {
        "500151": "铜梁区",
        "500152": "潼南区",
        "510900": "遂宁市",
        "512000": "资阳市",
    }
    nothing = dict.fromkeys(FIGURE_KEYS, 0)
    assert {k: by_code["500152"][k] for k in FIGURE_KEYS} == nothing | {
        "handed_over": 3,  # one, four, five
        "accepted": 2,  # three, four (as the receiving side)
        "disputed": 1,  # two
        "negotiated": 1,  # two, as its receiving side
        "overdue": 4,  # one waits on it to verify, two to negotiate, three and four for a plan
    }
    assert {k: by_code["510900"][k] for k in FIGURE_KEYS} == nothing | {
        "handed_over": 1,  # two
        "accepted": 1,  # one
        "negotiated": 1,  # two, as its reporting side
        "rectified": 1,  # one
    }
    assert {k: by_code["500151"][k] for k in FIGURE_KEYS} == nothing | {"handed_over": 1}
    assert {k: by_code["512000"][k] for k in FIGURE_KEYS} == nothing | {"overdue": 1}
    assert sum(p["handed_over"] for p in figures["parties"]) == figures["handed_over"] == 5
    assert sum(p["accepted"] for p in figures["parties"]) == figures["accepted"] == 3
    assert sum(p["overdue"] for p in figures["parties"]) == figures["overdue"] == 5

    before = client.get(
        "/api/v1/stats", params={"from": "2026-02-01", "to": "2026-03-01"}, headers=auth(world, COORDINATOR)
    ).json()
    assert all(p[k] == 0 for p in before["parties"] for k in FIGURE_KEYS)
    assert len(before["parties"]) == 4


# -- the upload limit -------------------------------------------------------------------------------------------


def png_of(size: int) -> bytes:
    """A PNG photo of exactly ``size`` bytes (padding after its end)."""
    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 90, 120)).save(image, "PNG")
    content = image.getvalue()
    assert len(content) <= size
    return content + b"\0" * (size - len(content))


def test_an_upload_over_the_configured_limit_gets_413_and_stores_nothing(
    sqlite_world: World, sqlite_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVERCHIEF_UPLOAD_MAX_BYTES", "2048")
    data_dir = tmp_path / "data"
    settings = Settings(database_url=str(sqlite_world.app.engine.url), data_dir=data_dir)
    assert settings.upload_max_bytes == 2048
    assert Settings.model_fields["upload_max_bytes"].default == 20 * 1024 * 1024
    sqlite_world.app.settings = settings
    code = sqlite_world.report()
    headers = auth(sqlite_world, REPORTER)
    before = sqlite_world.counts()

    over = sqlite_client.post(
        f"/api/v1/issues/{code}/attachments", files={"file": ("big.png", png_of(2049), "image/png")}, headers=headers
    )
    assert over.status_code == 413
    assert over.json()["error"] == "TooLarge"
    assert [f["field"] for f in over.json()["fields"]] == ["file"]
    assert "2.0 KB" in over.json()["detail"]
    assert sqlite_world.counts() == before
    assert [e.trigger for e in sqlite_world.events(code)] == ["report"]
    assert not (data_dir / "attachments").exists() or not any((data_dir / "attachments").rglob("*"))

    at_limit = sqlite_client.post(
        f"/api/v1/issues/{code}/attachments", files={"file": ("ok.png", png_of(2048), "image/png")}, headers=headers
    )
    assert at_limit.status_code == 201, at_limit.text
    assert [p.name for p in (data_dir / "attachments").rglob("*") if p.is_file()] == [at_limit.json()["sha256"]]


def test_the_cli_lists_by_state_or_phase_and_attaches_within_the_limit(tmp_path: Path) -> None:
    cli = Cli(tmp_path, env={"RIVERCHIEF_UPLOAD_MAX_BYTES": "1024"})
    cli.ok("init")
    cli.ok("load", str(DATA))
    out = cli.ok("issue", "new", "--as", REPORTER, "--title", "白马镇段排污口", "--category", "domestic_sewage")
    code = out.split(":")[0].strip()
    cli.ok("issue", "fire", code, "hand_off", "--as", REPORTER, "--set", f"receiving={RECEIVING_CODE}")
    assert code in cli.ok("issue", "list", "--state", "ban")
    assert code in cli.ok("issue", "list", "--state", "ban.handed_off")
    assert code not in cli.ok("issue", "list", "--state", "xun")
    unknown = cli("issue", "list", "--state", "ban.lost")
    assert unknown.returncode == 3
    assert "state: unknown state 'ban.lost'" in unknown.stderr

    photo = tmp_path / "big.png"
    photo.write_bytes(png_of(1025))
    refused = cli("issue", "attach", code, str(photo), "--as", REPORTER)
    assert refused.returncode == 3
    assert "file:" in refused.stderr
    assert not (tmp_path / "attachments").exists()
    photo.write_bytes(png_of(1024))
    assert "recorded as step 3" in cli.ok("issue", "attach", code, str(photo), "--as", REPORTER)


# -- serving with several workers -------------------------------------------------------------------------------


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    done = cli("serve", "--workers", "2", "--port", "1")
    assert done.returncode == 3
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: --workers: SQLite takes one writer process")
    zero = cli("serve", "--workers", "0", "--port", "1")
    assert zero.returncode == 3
    assert "--workers: must be at least 1" in zero.stderr
    assert "--workers" in cli.ok("serve", "--help")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_with_two_workers_on_postgresql_answers_and_stops_cleanly(
    postgres_server: str, postgres_template: str, tmp_path: Path
) -> None:
    url = fresh_postgres_database(postgres_server, postgres_template)
    cli = str(Path(sys.executable).parent / "riverchief")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RIVERCHIEF_")},
        "RIVERCHIEF_DATABASE_URL": url,
        "RIVERCHIEF_DATA_DIR": str(tmp_path),
    }
    server = None
    try:
        subprocess.run([cli, "load", str(DATA)], env=env, check=True, capture_output=True)
        tokens = {
            person: subprocess.run(
                [cli, "token", "create", person], env=env, check=True, capture_output=True, text=True
            ).stdout.split()[4]
            for person in (REPORTER, COORDINATOR)
        }
        port = _free_port()
        base = f"http://127.0.0.1:{port}/api/v1"
        server = subprocess.Popen(
            [cli, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                spec = httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "serve --workers 2 did not answer within 60 s"
                time.sleep(0.3)
        assert spec.status_code == 200
        assert "/api/v1/issues" in spec.json()["paths"]
        reporter = {"Authorization": f"Bearer {tokens[REPORTER]}"}
        coordinator = {"Authorization": f"Bearer {tokens[COORDINATOR]}"}
        made = [
            httpx.post(
                f"{base}/issues",
                json={"title": f"排污口{n}", "category": "domestic_sewage", "segment": "qj-baima"},
                headers=reporter,
                timeout=10,
            )
            for n in range(4)
        ]
        assert [m.status_code for m in made] == [201] * 4
        assert len({m.json()["code"] for m in made}) == 4
        for _ in range(4):
            listed = httpx.get(f"{base}/issues", params={"limit": 3}, headers=coordinator, timeout=10).json()
            assert [i["code"] for i in listed["items"]] == [m.json()["code"] for m in made][:0:-1]
            assert listed["next_cursor"] is not None
    finally:
        if server is not None:
            server.terminate()
            log = server.communicate(timeout=30)[0]
        drop_postgres_database(url)
    assert server.returncode == 0, log
    assert log.count("Started server process") == 2, log  # two workers
    # One scheduler, in the parent process that supervises the workers.
    assert log.count("active scheduler (pid") == 1, log
    assert f"active scheduler (pid {server.pid})" in log, log
    assert f"Stopping parent process [{server.pid}]" in log, log
    assert "Traceback" not in log, log
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/openapi.json", timeout=2)


def test_created_at_filters_use_shanghai_days(world: World, client: TestClient) -> None:
    # 2026-03-02 23:30 in Shanghai is still the 2nd there, though the 2nd's afternoon in UTC.
    world.clock.set(datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI))
    late = world.report()
    world.clock.set(datetime(2026, 3, 3, 0, 30, tzinfo=SHANGHAI))
    early = world.report()
    headers = auth(world, REPORTER)
    assert codes(client, headers, to="2026-03-03") == [late]
    assert codes(client, headers, **{"from": "2026-03-03"}) == [early]
