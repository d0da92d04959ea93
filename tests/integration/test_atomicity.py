"""All or nothing: refused steps, crashes half-way through a step and bad load files leave no trace."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import SQLModel

from riverchief.bootstrap import App
from riverchief.demo.play import DATA
from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, REPORTER, World, happy_path, walk_to
from workflow.core.actors import Actor, load_actor
from workflow.core.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed, WorkflowError
from workflow.core.ledger import verify
from workflow.core.models import Issue, Outbox, Person, table_of
from workflow.core.reference import load, parse
from workflow.core.services import IssueDraft, report_issue

_REFERENCE_TABLES = ("jurisdiction", "person", "compact", "compact_member", "compact_staff", "river", "segment")


def row_counts(app: App) -> dict[str, int]:
    """Rows in every table."""
    with app.reader() as uow:
        conn = uow.connection
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
        }


def issue_row(app: App, code: str) -> dict[str, Any]:
    """Every column of the issue row as stored."""
    with app.reader() as uow:
        return dict(uow.connection.execute(sa.select(table_of(Issue)).where(sa.column("code") == code)).one()._mapping)


def table_rows(app: App, names: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """The full contents of some tables, in a stable order."""
    out = {}
    with app.reader() as uow:
        for name in names:
            table = SQLModel.metadata.tables[name]
            rows = uow.connection.execute(sa.select(table)).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


@contextmanager
def crash_at(app: App, needle: str, *, after: bool) -> Iterator[list[str]]:
    """Raise RuntimeError just before (or just after) the first statement containing ``needle`` runs.

    Listening on the engine keeps this independent of how the service is factored:
    it is a crash at a given write, whichever function issues it. Yields the
    statements seen, so a test can check the crash point was actually reached.
    """
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)
        if needle in statement:
            raise RuntimeError(f"crash {'after' if after else 'before'} {needle}")

    event_name = "after_cursor_execute" if after else "before_cursor_execute"
    sa.event.listen(app.engine, event_name, listener)
    try:
        yield seen
    finally:
        sa.event.remove(app.engine, event_name, listener)


# -- refused steps -------------------------------------------------------------------------------------------------


@pytest.fixture
def verifying(world: World) -> tuple[World, str]:
    """An issue in joint verification that the receiving side has signed (8 events), and another one beside it."""
    world.report(title="旁边的问题")
    code = world.report()
    walk_to(world, code, "pass_check")
    assert world.issue(code).version == 8
    return world, code


REFUSALS: dict[str, tuple[Callable[[World, str], object], type[WorkflowError], str | None]] = {
    "unknown trigger": (lambda w, c: w.fire(c, "teleport", REPORTER), ValidationFailed, "trigger"),
    "trigger not allowed from this state": (lambda w, c: w.fire(c, "accept", RECEIVER), InvalidTransition, None),
    "wrong actor": (lambda w, c: w.fire(c, "pass_check", AUDITOR, checklist=CHECKLIST), NotPermitted, None),
    "actor of the wrong side": (lambda w, c: w.fire(c, "close", RECEIVER), NotPermitted, None),
    "missing field": (lambda w, c: w.fire(c, "fail_check", REPORTER, reason="仍有异味"), ValidationFailed, "deadline"),
    "unknown field": (lambda w, c: w.fire(c, "close", REPORTER, colour="red"), ValidationFailed, "colour"),
    "stale expected version": (
        lambda w, c: w.fire(c, "pass_check", REPORTER, expected_version=7, checklist=CHECKLIST),
        Conflict,
        None,
    ),
    "guard: the same side signs twice": (
        lambda w, c: w.fire(c, "pass_check", RECEIVER, checklist=CHECKLIST),
        ValidationFailed,
        "sign_off",
    ),
    "guard: closing before both sides signed": (
        lambda w, c: w.fire(c, "close", REPORTER),
        ValidationFailed,
        "sign_off",
    ),
    "guard: unknown checklist item": (
        lambda w, c: w.fire(c, "pass_check", REPORTER, checklist=["photos", "moon_landing"]),
        ValidationFailed,
        "checklist",
    ),
    "guard: deadline in the past": (
        lambda w, c: w.fire(c, "fail_check", REPORTER, reason="仍有异味", deadline="2026-03-01"),
        ValidationFailed,
        "deadline",
    ),
    "unknown issue": (lambda w, _: w.fire("QJ-2026-9999", "close", REPORTER), NotFound, None),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refused_step_changes_no_row_of_any_table(verifying: tuple[World, str], refusal: str) -> None:
    world, code = verifying
    attempt, error, field = REFUSALS[refusal]
    counts, row = row_counts(world.app), issue_row(world.app, code)

    with pytest.raises(error) as refused:
        attempt(world, code)

    if field is not None:
        assert isinstance(refused.value, ValidationFailed)
        assert field in [name for name, _ in refused.value.errors], refused.value.errors
    assert row_counts(world.app) == counts
    assert issue_row(world.app, code) == row
    # Nothing was left half-open either: the next valid step goes through at the next version.
    result = world.fire(code, "pass_check", REPORTER, expected_version=8, checklist=CHECKLIST)
    assert result.version == 9


@pytest.mark.parametrize(
    ("who", "draft", "error"),
    [
        (REPORTER, {"category": "ufo_sighting"}, ValidationFailed),
        (REPORTER, {"segment": "no-such-segment", "title": " "}, ValidationFailed),
        (COORDINATOR, {}, NotPermitted),  # a coordinator is no member jurisdiction's chief
    ],
    ids=["unknown category", "blank title and unknown segment", "not a member"],
)
def test_a_refused_report_creates_no_issue_and_uses_up_no_issue_number(
    world: World, who: str, draft: dict[str, Any], error: type[WorkflowError]
) -> None:
    first = world.report()
    counts = row_counts(world.app)

    with pytest.raises(error):
        world.report(who=who, **draft)

    assert row_counts(world.app) == counts
    assert world.report() == first[:-4] + "0002"


# -- crashes half-way through a step -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("needle", "after"),
    [
        ("INSERT INTO outbox", False),  # the issue row (and, statement by statement, the event) written already
        ("INSERT INTO outbox", True),  # every write of the step done, only the commit missing
        ("INSERT INTO sign_off", True),  # the effect's own rows, written last
    ],
    ids=["before the outbox rows", "after the outbox rows", "after the sign-off row"],
)
def test_a_crash_in_the_middle_of_a_step_rolls_back_the_state_change_and_its_event(
    verifying: tuple[World, str], needle: str, after: bool
) -> None:
    world, code = verifying
    counts, row = row_counts(world.app), issue_row(world.app, code)

    with crash_at(world.app, needle, after=after) as seen, pytest.raises(RuntimeError, match="crash"):
        world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST)

    assert any(needle in statement for statement in seen), "the crash point was never reached"
    assert issue_row(world.app, code) == row, "a state change survived without its event"
    assert row_counts(world.app) == counts, "some row of the step survived the crash"
    # The issue carries on from where it stood, and its chain is whole.
    assert world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST).version == 9
    with world.app.reader() as uow:
        assert verify(uow.session).ok


def test_a_crash_while_reporting_leaves_no_issue_and_no_gap_in_the_issue_numbers(world: World) -> None:
    first = world.report()
    counts = row_counts(world.app)

    with crash_at(world.app, "INSERT INTO outbox", after=True), pytest.raises(RuntimeError, match="crash"):
        world.report(title="崩溃时上报的问题")

    assert row_counts(world.app) == counts
    second = world.report(title="再次上报")
    assert second == first[:-4] + "0002"


def test_a_crash_at_commit_leaves_nothing_behind(verifying: tuple[World, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow.core.uow import UnitOfWork

    world, code = verifying
    counts, row = row_counts(world.app), issue_row(world.app, code)

    def refuse_to_commit(self: UnitOfWork) -> None:
        raise RuntimeError("crash at commit")

    with monkeypatch.context() as patch:
        patch.setattr(UnitOfWork, "commit", refuse_to_commit)
        with pytest.raises(RuntimeError, match="crash at commit"):
            world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST)

    assert (row_counts(world.app), issue_row(world.app, code)) == (counts, row)


# -- the outbox --------------------------------------------------------------------------------------------------

# Who hears of each step of the happy path (states/audience.py applied to the 琼江 people), the actor never.
HAPPY_PATH_AUDIENCE = [
    ("report", {COORDINATOR}),
    ("hand_off", {RECEIVER, COORDINATOR}),
    ("accept", {REPORTER}),
    ("start_rectify", {REPORTER}),
    ("progress", {REPORTER}),
    ("report_done", {REPORTER, COORDINATOR}),
    ("request_verify", {RECEIVER}),
    ("pass_check", {REPORTER}),
    ("pass_check", {RECEIVER}),
    ("close", {RECEIVER, COORDINATOR, AUDITOR}),
    ("start_revisit", {REPORTER, RECEIVER}),
    ("no_rebound", {REPORTER, RECEIVER, COORDINATOR}),
    ("archive", set()),  # the coordinator archives, and only the coordinator would hear of it
]


def test_every_event_has_its_outbox_rows_once_per_recipient(world: World) -> None:
    code = world.report()
    walk_to(world, code, "archive")
    assert [t for t, _, _ in happy_path(world)] == [t for t, _ in HAPPY_PATH_AUDIENCE[1:]]
    with world.app.reader() as uow:
        people = {p.id: p.code for p in uow.session.execute(sa.select(Person)).scalars()}

    outbox = world.outbox(code)
    by_event: dict[int, list[str]] = {}
    for row in outbox:
        by_event.setdefault(row.event_id, []).append(people[row.recipient_id])
    events = world.events(code)

    assert set(by_event) <= {e.id for e in events}, "an outbox row points at no event of the issue"
    for event, (trigger, audience) in zip(events, HAPPY_PATH_AUDIENCE, strict=True):
        assert event.trigger == trigger
        recipients = by_event.get(event.id, [])
        assert sorted(recipients) == sorted(audience), f"seq {event.seq} {trigger}"
        assert event.actor_code not in recipients
    assert all(row.kind == next(e.trigger for e in events if e.id == row.event_id) for row in outbox)
    assert all(row.status == "pending" and row.attempts == 0 for row in outbox)


def test_the_database_refuses_a_second_outbox_row_for_the_same_event_and_recipient(world: World) -> None:
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving="510904101")
    original = world.outbox(code)[-1]
    outbox = table_of(Outbox)

    with pytest.raises(sa.exc.IntegrityError), world.app.engine.begin() as conn:
        conn.execute(
            outbox.insert().values(
                event_id=original.event_id,
                issue_id=original.issue_id,
                recipient_id=original.recipient_id,
                kind=original.kind,
                status="pending",
                attempts=0,
                created_at=original.created_at,
            )
        )
    assert len(world.outbox(code)) == 3


def test_after_refusals_and_crashes_every_issue_still_has_one_event_per_version(verifying: tuple[World, str]) -> None:
    world, code = verifying
    for refusal in ("wrong actor", "stale expected version", "guard: the same side signs twice"):
        attempt, error, _ = REFUSALS[refusal]
        with pytest.raises(error):
            attempt(world, code)
    with crash_at(world.app, "INSERT INTO outbox", after=True), pytest.raises(RuntimeError):
        world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST)
    world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST)
    world.fire(code, "close", REPORTER)

    with world.app.reader() as uow:
        conn = uow.connection
        per_issue = conn.execute(
            sa.text(
                "SELECT i.code, i.version, i.state, count(e.id), max(e.seq) "
                "FROM issue i LEFT JOIN event e ON e.issue_id = i.id GROUP BY i.code, i.version, i.state"
            )
        ).all()
        duplicates = conn.execute(
            sa.text("SELECT event_id, recipient_id FROM outbox GROUP BY event_id, recipient_id HAVING count(*) > 1")
        ).all()
        report = verify(uow.session)
    assert per_issue, "no issues?"
    for issue_code, version, _state, events, last_seq in per_issue:
        assert version == events == last_seq, issue_code
    assert world.issue(code).state == "du.closed"
    assert duplicates == []
    assert report.ok, [str(f) for f in report.findings]


# -- reference data files ------------------------------------------------------------------------------------------


def _demo_data() -> dict[str, Any]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, data: dict[str, Any], name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _edit(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        data = copy.deepcopy(_demo_data())
        change(data)
        return _write(tmp_path, data)

    return make


def _text(name: str, text: str) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return make


def _duplicate_person(data: dict[str, Any]) -> None:
    data["people"][5]["code"] = data["people"][4]["code"]


def _duplicate_jurisdiction(data: dict[str, Any]) -> None:
    # 白马镇 given the code of 崇龛镇, on the other side of the border.
    data["jurisdictions"][1]["children"][0]["children"][0]["children"][0]["code"] = "500152101"


# Each bad file, and the path of the field its error must name ({file} is the file's own path).
BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "YAML syntax error": (
        _text("broken.yaml", DATA.read_text(encoding="utf-8") + "\n  - {code: [unclosed\n"),
        "{file}",
    ),
    "JSON syntax error": (_text("broken.json", '{"jurisdictions": [}'), "{file}"),
    "bad division code": (
        _edit(lambda d: d["jurisdictions"][0]["children"][0].update(code="50015X")),
        "jurisdictions[0].children[0].code",
    ),
    "misspelt field": (_edit(lambda d: d["people"][2].update(nmae="王建国")), "people[2].nmae"),
    "duplicate person codes": (_edit(_duplicate_person), "people[5].code"),
    "unknown jurisdiction reference": (
        _edit(lambda d: d["people"][3].update(jurisdiction="500152199")),
        "people[3].jurisdiction",
    ),
    "unknown compact member": (
        _edit(lambda d: d["compacts"][0]["members"].__setitem__(1, "599999")),
        "compacts[0].members[1]",
    ),
    "coordinator who is not a coordinator": (
        _edit(lambda d: d["compacts"][0].update(coordinators=["tn-taian"])),
        "compacts[0].coordinators[0]",
    ),
    "duplicate jurisdiction codes": (
        _edit(_duplicate_jurisdiction),
        "jurisdictions[1].children[0].children[0].children[0].code",
    ),
    "unknown segment counterpart": (
        _edit(lambda d: d["rivers"][1]["segments"][1].update(counterpart="mx-nowhere")),
        "rivers[1].segments[1].counterpart",
    ),
}


def load_file(app: App, path: Path) -> dict[str, int]:
    """What ``riverchief load`` does: parse, then load in one transaction."""
    return load(app.uow(), parse(path))


@pytest.mark.parametrize("bad", BAD_FILES)
def test_a_bad_load_file_names_the_bad_field_and_loads_nothing(app: App, tmp_path: Path, bad: str) -> None:
    make, expected = BAD_FILES[bad]
    path = make(tmp_path)
    before = row_counts(app)
    assert not any(before.values())

    with pytest.raises(ValidationFailed) as refused:
        load_file(app, path)

    fields = [name for name, _ in refused.value.errors]
    assert expected.format(file=path) in fields, refused.value.errors
    assert row_counts(app) == before, "part of a refused file was loaded"


def test_the_duplicate_person_code_is_named_in_the_error(app: App, tmp_path: Path) -> None:
    make, _ = BAD_FILES["duplicate person codes"]

    with pytest.raises(ValidationFailed, match="tn-yuxi appears twice in the file"):
        load_file(app, make(tmp_path))


def test_a_bad_file_changes_nothing_already_loaded_even_where_its_earlier_parts_were_valid(
    world: World, tmp_path: Path
) -> None:
    data = _demo_data()
    data["jurisdictions"][0]["name"] = "改名的重庆市"
    data["people"].append({"code": "new-chief", "name": "新河长", "role": "chief", "jurisdiction": "500152"})
    data["compacts"][0]["auditors"] = []
    data["rivers"][0]["segments"][0]["jurisdiction"] = "999999"  # the one bad field, near the end
    before = table_rows(world.app, _REFERENCE_TABLES)

    with pytest.raises(ValidationFailed) as refused:
        load_file(world.app, _write(tmp_path, data))

    assert [name for name, _ in refused.value.errors] == ["rivers[0].segments[0].jurisdiction"]
    assert table_rows(world.app, _REFERENCE_TABLES) == before
    with world.app.reader() as uow, pytest.raises(NotFound):
        load_actor(uow.session, "new-chief")


def test_every_bad_field_of_a_file_is_named_at_once(app: App, tmp_path: Path) -> None:
    data = _demo_data()
    data["people"][3]["jurisdiction"] = "500152199"
    data["compacts"][0]["coordinators"] = ["tn-taian"]
    data["rivers"][0]["segments"][2]["chief"] = "nobody"

    with pytest.raises(ValidationFailed) as refused:
        load_file(app, _write(tmp_path, data))

    assert [name for name, _ in refused.value.errors] == [
        "people[3].jurisdiction",
        "compacts[0].coordinators[0]",
        "rivers[0].segments[2].chief",
    ]


def test_loading_the_same_file_twice_changes_nothing_the_second_time(app: App) -> None:
    first = load_file(app, DATA)
    rows = table_rows(app, _REFERENCE_TABLES)
    counts = row_counts(app)

    second = load_file(app, DATA)

    assert second == first
    assert first == {"jurisdictions": 18, "people": 18, "compacts": 1, "rivers": 2, "segments": 8}
    assert row_counts(app) == counts
    assert table_rows(app, _REFERENCE_TABLES) == rows


def test_the_same_data_as_json_loads_to_the_same_rows(app: App, tmp_path: Path) -> None:
    import json

    load_file(app, DATA)
    rows = table_rows(app, _REFERENCE_TABLES)
    as_json = tmp_path / "qiongjiang.json"
    as_json.write_text(json.dumps(_demo_data(), ensure_ascii=False), encoding="utf-8")

    load_file(app, as_json)

    assert table_rows(app, _REFERENCE_TABLES) == rows


def test_reloading_the_file_keeps_existing_issues_working(world: World) -> None:
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving="510904101")

    load_file(world.app, DATA)

    world.fire(code, "accept", RECEIVER)
    with world.app.reader() as uow:
        assert verify(uow.session).ok
        actor = load_actor(uow.session, REPORTER)
    result = report_issue(
        world.app.uow(), actor, IssueDraft(compact="QJ", title="重新加载后上报", category="livestock")
    )
    assert result.version == 1


# -- held: several services' writes as one transaction ------------------------------------------------


def _issue_count(world: World) -> int:
    with world.app.uow() as uow:
        return int(uow.connection.execute(sa.select(sa.func.count()).select_from(Issue)).scalar_one())


def _reporter(world: World) -> Actor:
    with world.app.uow() as uow:
        return load_actor(uow.session, REPORTER)


def _draft(title: str) -> IssueDraft:
    return IssueDraft(compact="QJ", title=title, category="solid_waste", lon=105.62, lat=30.18)


def test_inside_held_a_services_commit_waits_for_the_end_and_a_later_failure_undoes_it(world: World) -> None:
    before = _issue_count(world)
    actor = _reporter(world)
    uow = world.app.uow()

    def first_then_a_refused_one() -> None:
        with uow.held():
            report_issue(uow, actor, _draft("第一处"))  # commits on its own when not held
            report_issue(uow, actor, _draft(""))  # refused: no title

    with pytest.raises(ValidationFailed):
        first_then_a_refused_one()
    assert _issue_count(world) == before
    with uow.held():
        report_issue(uow, actor, _draft("第一处"))
        report_issue(uow, actor, _draft("第二处"))
    assert _issue_count(world) == before + 2


def test_a_failure_caught_inside_held_still_commits_nothing(world: World) -> None:
    before = _issue_count(world)
    actor = _reporter(world)
    uow = world.app.uow()

    def one_refusal_caught_between_two() -> None:
        with uow.held():
            report_issue(uow, actor, _draft("第一处"))
            with contextlib.suppress(ValidationFailed):
                report_issue(uow, actor, _draft(""))
            report_issue(uow, actor, _draft("第三处"))

    with pytest.raises(RuntimeError, match="nothing of it is committed"):
        one_refusal_caught_between_two()
    assert _issue_count(world) == before
