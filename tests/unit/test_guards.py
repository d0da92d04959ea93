"""The guards and effects of the rules, and how people stand to an issue (workflow.core.actors.parties).

Uses ``issue_at``, ``valid_payload``, ``assert_refused`` and the ``STANDING`` oracle from test_transitions.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from states.chart import TRANSITIONS, Party
from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from tests.unit.test_transitions import STANDING, assert_refused, issue_at, permitted_actor, standing, valid_payload
from workflow.core.actors import SYSTEM, Actor, parties
from workflow.core.clock import SHANGHAI
from workflow.core.errors import Conflict, NotFound, NotPermitted, Reason, ValidationFailed
from workflow.core.models import Compact
from workflow.core.reference import load, parse

TAIAN_PATH = "/500000/500152/500152102/"
BAIMA_PATH = "/510000/510900/510904/510904101/"

# A village under the reporter's township, and a province outside the compact.
EXTRA = """
jurisdictions:
  - code: "500000"
    name: 重庆市
    level: province
    children:
      - code: "500152"
        name: 潼南区
        level: district
        children:
          - code: "500152102"
            name: 太安镇
            level: township
            children:
              - {code: "500152102001", name: 太安村, level: village}
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {code: "420100", name: 武汉市, level: city}
"""


@pytest.fixture
def extra_world(sqlite_world: World, tmp_path: Path) -> World:
    """The 琼江 world with a village under 太安镇 and a province outside the compact."""
    path = tmp_path / "extra.yaml"
    path.write_text(EXTRA, encoding="utf-8")
    load(sqlite_world.app.uow(), parse(path))
    return sqlite_world


def _end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI)


# -- hand_off: receiving_is_other_side, receiving_in_compact --------------------------------------------------------


KIN = {"500152102": "own township", "500152": "its district", "500000": "its province", "500152102001": "its village"}


def test_a_hand_off_to_the_reporting_sides_own_jurisdiction_or_its_kin_is_refused(
    extra_world: World, subtests: pytest.Subtests
) -> None:
    world = extra_world
    for source in ("xun.reported", "cha.confirmed"):
        issue = issue_at(world, source)
        for code, kin in KIN.items():
            with subtests.test(source=source, kin=kin):
                error = assert_refused(
                    world, issue, ValidationFailed, world.fire, issue, "hand_off", REPORTER, receiving=code
                )
                assert error.field == "receiving"
                assert "reporting side's own jurisdiction" in error.reason
                assert code in error.reason


def test_a_hand_off_to_an_unknown_division_code_is_refused(sqlite_world: World) -> None:
    world = sqlite_world
    issue = world.report()
    error = assert_refused(
        world, issue, ValidationFailed, world.fire, issue, "hand_off", REPORTER, receiving="519999999"
    )
    assert (error.field, error.reason) == ("receiving", "no jurisdiction with code '519999999'")


def test_a_hand_off_outside_the_compacts_members_is_refused(extra_world: World) -> None:
    world = extra_world
    issue = world.report()
    # 武汉市 is in another province; 四川省 contains members (遂宁市, 资阳市) but is not itself one.
    for code, name in (("420100", "武汉市"), ("510000", "四川省")):
        error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "hand_off", REPORTER, receiving=code)
        assert (error.field, error.reason) == ("receiving", f"{name} is not a member of this issue's compact")


def test_a_hand_off_to_a_member_below_a_member_jurisdiction_sets_the_receiving_side(sqlite_world: World) -> None:
    world = sqlite_world
    issue = world.report()
    world.fire(issue, "hand_off", REPORTER, receiving="510904")  # 安居区, under member 遂宁市
    with world.app.reader() as uow:
        path = uow.session.execute(
            sa.text(
                "SELECT j.path FROM jurisdiction j JOIN issue i ON i.receiving_jurisdiction_id = j.id WHERE i.code = :c"
            ),
            {"c": issue},
        ).scalar_one()
    assert path == "/510000/510900/510904/"
    # A township does not stand for the district above it: 白马镇's chief may not accept for 安居区.
    assert_refused(world, issue, NotPermitted, world.fire, issue, "accept", RECEIVER)
    world.fire(issue, "accept", "sn-office")


# -- deadline_in_future ---------------------------------------------------------------------------------------------

DEADLINE_ENTRIES = [(t, s) for t in TRANSITIONS if "deadline_in_future" in t.guards for s in t.sources]


def test_a_deadline_before_today_is_refused_and_today_itself_is_accepted(
    sqlite_world: World, subtests: pytest.Subtests
) -> None:
    world = sqlite_world
    for transition, source in DEADLINE_ENTRIES:
        with subtests.test(trigger=transition.trigger, source=source):
            issue = issue_at(world, source)
            actor = permitted_actor(transition)
            payload = {**valid_payload(world, transition.trigger), "deadline": "2026-03-01"}
            error = assert_refused(
                world, issue, ValidationFailed, world.fire, issue, transition.trigger, actor, **payload
            )
            assert (error.field, error.reason) == ("deadline", "2026-03-01 is in the past (today is 2026-03-02)")

            result = world.fire(issue, transition.trigger, actor, **{**payload, "deadline": "2026-03-02"})
            assert result.state == "ban.rectifying"
            assert world.issue(issue).rectify_deadline == date(2026, 3, 2)
            assert result.due_at == _end_of_day(date(2026, 3, 2))


def test_today_for_a_deadline_is_the_day_in_shanghai_not_in_utc(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "ban.accepted")
    world.clock.set(datetime(2026, 3, 3, 7, 30, tzinfo=SHANGHAI))  # still 2 March in UTC
    error = assert_refused(
        world, issue, ValidationFailed, world.fire, issue, "start_rectify", RECEIVER, plan="封堵", deadline="2026-03-02"
    )
    assert error.reason == "2026-03-02 is in the past (today is 2026-03-03)"


def said(reason: str) -> tuple[str, str]:
    """A guard's reason as each language says it."""
    assert isinstance(reason, Reason)
    return reason.zh, reason.en


# -- pass_check: side_not_signed, checklist_items_known ------------------------------------------------------------


def test_a_side_signs_a_check_round_once_whoever_signs_for_it(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.verifying")
    world.fire(issue, "pass_check", REPORTER, checklist=CHECKLIST)
    for person in (REPORTER, "tn-office", "tn-chief"):  # all three stand for the reporting side
        error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "pass_check", person)
        assert error.field == "sign_off"
        assert said(error.reason) == ("交办方已签认本轮复核", "the reporting side has already signed this check round")
    # The other side still signs.
    assert world.fire(issue, "pass_check", "sn-office").state == "du.verifying"


def test_only_the_categorys_own_checklist_items_can_be_confirmed(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.verifying")
    # permit_checked belongs to industrial discharge, not to this domestic sewage issue.
    error = assert_refused(
        world,
        issue,
        ValidationFailed,
        world.fire,
        issue,
        "pass_check",
        RECEIVER,
        checklist="photos,permit_checked,bogus",
    )
    assert error.field == "checklist"
    assert error.reason.startswith("unknown item(s) bogus, permit_checked;")
    assert "outfall_closed, photos, site_check" in error.reason


# -- close: both_sides_signed, checklist_complete -------------------------------------------------------------------


def test_closing_needs_both_sides_signatures(sqlite_world: World, subtests: pytest.Subtests) -> None:
    world = sqlite_world
    for signers, zh, en in (
        ((RECEIVER,), "交办方", "reporting side"),
        ((REPORTER,), "接收方", "receiving side"),
        ((), "交办方、接收方", "reporting side, receiving side"),
    ):
        with subtests.test(missing=en):
            issue = issue_at(world, "du.verifying")
            for person in signers:
                world.fire(issue, "pass_check", person, checklist=CHECKLIST)
            for closer in (REPORTER, COORDINATOR):
                error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "close", closer)
                assert error.field == "sign_off"
                assert said(error.reason) == (
                    f"销号须双方签认，尚缺：{zh}",
                    f"closure needs both sides' sign-off; missing: {en}",
                )


def test_closing_needs_every_checklist_item_of_the_category(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.verifying")
    world.fire(issue, "pass_check", RECEIVER, checklist=["photos"])
    error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "close", REPORTER)
    assert error.field == "sign_off"  # one side has signed
    # The second sign-off must leave the list complete, so a round both signed can always close.
    error = assert_refused(
        world, issue, ValidationFailed, world.fire, issue, "pass_check", REPORTER, checklist=["site_check"]
    )
    assert error.field == "checklist"
    zh, en = said(error.reason)
    assert zh.endswith("尚缺：排污口已封堵或规范整治")  # site_check is confirmed by this sign-off
    assert en.endswith("missing: outfall_closed (The outfall is sealed or brought into order)")
    assert error.reason == f"{zh} ({en})"  # the API and the CLI say both, as they always have


def test_checklist_items_confirmed_by_either_side_add_up_to_a_closure(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.verifying")
    world.fire(issue, "pass_check", RECEIVER, checklist=["photos", "outfall_closed"])
    world.fire(issue, "pass_check", REPORTER, checklist=["site_check", "photos"])
    result = world.fire(issue, "close", COORDINATOR)
    assert result.state == "du.closed"
    assert world.issue(issue).closed_at == world.clock.now()


# -- fail_check and a new verification round -------------------------------------------------------------------------


def test_after_a_failed_check_a_new_round_needs_fresh_signatures_and_checklist(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.verifying")
    assert world.issue(issue).check_round == 1
    world.fire(issue, "pass_check", RECEIVER, checklist=CHECKLIST)

    result = world.fire(issue, "fail_check", REPORTER, reason="仍有渗漏", deadline="2026-03-20")
    assert result.state == "ban.rectifying"
    assert world.issue(issue).rectify_deadline == date(2026, 3, 20)
    assert result.due_at == _end_of_day(date(2026, 3, 20))

    world.fire(issue, "report_done", RECEIVER, summary="再次封堵")
    world.fire(issue, "request_verify", REPORTER)
    assert world.issue(issue).check_round == 2

    # Round one's signature and items do not count in round two.
    error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "close", REPORTER)
    assert said(error.reason)[1].endswith("missing: reporting side, receiving side")
    world.fire(issue, "pass_check", RECEIVER)  # the receiving side may sign again in the new round
    error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "pass_check", REPORTER)
    assert error.field == "checklist"
    assert all(item in error.reason for item in CHECKLIST)  # none of round one's items counts


# -- archive: last_revisit_clean; rebound: record_rebound ------------------------------------------------------------


def test_archiving_needs_a_clean_revisit(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.closed")
    for archiver in (COORDINATOR, AUDITOR, "system"):
        error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "archive", archiver)
        assert error.field == "revisit"


def test_a_closure_after_a_rebound_needs_a_new_clean_revisit_before_archiving(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.revisiting")
    world.fire(issue, "rebound", AUDITOR, finding="反弹", deadline="2026-03-20")
    world.fire(issue, "report_done", RECEIVER, summary="再次封堵")
    world.fire(issue, "request_verify", REPORTER)
    world.fire(issue, "pass_check", RECEIVER, checklist=CHECKLIST)
    world.fire(issue, "pass_check", REPORTER)
    world.fire(issue, "close", REPORTER)
    error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "archive", COORDINATOR)
    assert error.field == "revisit"
    world.fire(issue, "start_revisit", "system")
    world.fire(issue, "no_rebound", AUDITOR, finding="未反弹")
    assert world.fire(issue, "archive", COORDINATOR).state == "archived"
    row = world.issue(issue)
    assert (row.revisit_count, row.rebound_count, row.last_revisit_clean) == (2, 1, True)


def test_a_rebound_counts_itself_reopens_rectification_and_gives_fifteen_working_days(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.revisiting")
    assert world.issue(issue).closed_at is not None
    # Revisited on Thursday 24 September 2026: Mid-autumn (25–27 Sep) and National Day (1–7 Oct) are off,
    # Saturday 10 October is a make-up working day; the 15th working day after is Thursday 22 October.
    world.clock.set(datetime(2026, 9, 24, 10, 0, tzinfo=SHANGHAI))
    result = world.fire(issue, "rebound", AUDITOR, finding="排口重新出水")
    row = world.issue(issue)
    assert row.state == result.state == "ban.rectifying"
    assert (row.rebound_count, row.revisit_count, row.last_revisit_clean, row.closed_at) == (1, 1, False, None)
    assert row.rectify_deadline == date(2026, 10, 22)
    assert row.due_at == result.due_at == _end_of_day(date(2026, 10, 22))


def test_a_rebound_with_its_own_deadline_uses_it_and_a_second_rebound_counts_again(sqlite_world: World) -> None:
    world = sqlite_world
    issue = issue_at(world, "du.revisiting")
    world.fire(issue, "rebound", AUDITOR, finding="反弹", deadline="2026-04-30")
    assert world.issue(issue).rectify_deadline == date(2026, 4, 30)
    assert world.issue(issue).due_at == _end_of_day(date(2026, 4, 30))
    for trigger, who, payload in (
        ("report_done", RECEIVER, {"summary": "已整改"}),
        ("request_verify", REPORTER, {}),
        ("pass_check", RECEIVER, {"checklist": CHECKLIST}),
        ("pass_check", REPORTER, {}),
        ("close", REPORTER, {}),
        ("start_revisit", AUDITOR, {}),
        ("rebound", AUDITOR, {"finding": "再次反弹"}),
    ):
        world.fire(issue, trigger, who, **payload)
    row = world.issue(issue)
    assert (row.rebound_count, row.revisit_count, row.check_round) == (2, 2, 2)


# -- the service's own checks ------------------------------------------------------------------------------------------


def test_a_stale_expected_version_is_a_conflict_and_the_current_one_goes_through(sqlite_world: World) -> None:
    world = sqlite_world
    issue = world.report()
    world.fire(issue, "investigate", REPORTER)
    error = assert_refused(
        world, issue, Conflict, world.fire, issue, "confirm", REPORTER, expected_version=1, findings="属实"
    )
    assert (error.expected, error.actual) == (1, 2)
    assert world.fire(issue, "confirm", REPORTER, expected_version=2, findings="属实").version == 3


def test_a_stale_version_is_reported_before_anything_else_is_checked(sqlite_world: World) -> None:
    world = sqlite_world
    issue = world.report()
    # Wrong trigger, wrong person, no payload: the stale version is what the caller must hear about.
    assert_refused(world, issue, Conflict, world.fire, issue, "close", "zy-longtai", expected_version=0)


def test_an_unknown_trigger_is_a_validation_failure_naming_the_trigger(sqlite_world: World) -> None:
    world = sqlite_world
    issue = world.report()
    error = assert_refused(world, issue, ValidationFailed, world.fire, issue, "approve", REPORTER)
    # It names what the issue takes now, so a typo can be put right: a person's steps, not the system's.
    assert (error.field, error.reason) == (
        "trigger",
        f"unknown trigger 'approve'; {issue} in xun.reported takes: investigate, dismiss, hand_off, mark_duplicate",
    )


def test_an_unknown_issue_is_not_found(sqlite_world: World) -> None:
    world = sqlite_world
    error = assert_refused(world, None, NotFound, world.fire, "QJ-2026-9999", "accept", RECEIVER)
    assert (error.what, error.key) == ("issue", "QJ-2026-9999")


# -- parties ----------------------------------------------------------------------------------------------------------


def _compact_id(world: World) -> int:
    with world.app.reader() as uow:
        return uow.session.execute(sa.select(Compact.id).where(Compact.code == "QJ")).scalar_one()


def test_every_person_stands_to_the_usual_issue_as_written_down(sqlite_world: World) -> None:
    world = sqlite_world
    compact = _compact_id(world)
    assert set(STANDING) == {*world.people, "system"}
    for receiving, state in ((None, "xun.reported"), (BAIMA_PATH, "ban.handed_off")):
        for person in STANDING:
            held = parties(world.actor(person), compact, TAIAN_PATH, receiving)
            assert held == standing(person, state), (person, state)


def test_a_common_superior_of_both_sides_is_a_higher_chief_and_not_a_side(sqlite_world: World) -> None:
    world = sqlite_world
    issue = world.report()
    world.fire(issue, "hand_off", REPORTER, receiving="500152101")  # 崇龛镇, 太安镇's neighbour in 潼南区
    chongkan = "/500000/500152/500152101/"
    held = parties(world.actor("tn-chief"), _compact_id(world), TAIAN_PATH, chongkan)
    assert held == {Party.MEMBER, Party.HIGHER_CHIEF}
    # An office above both sides is neither a side nor a chief.
    assert parties(world.actor("tn-office"), _compact_id(world), TAIAN_PATH, chongkan) == {Party.MEMBER}
    assert_refused(world, issue, NotPermitted, world.fire, issue, "accept", "tn-chief")
    assert_refused(world, issue, NotPermitted, world.fire, issue, "accept", "tn-office")
    assert world.fire(issue, "dispatch", "tn-chief", order="限期受理").state == "ban.dispatched"
    assert world.fire(issue, "start_rectify", "tn-chonglong", plan="清运", deadline="2026-03-20").version == 4


def test_a_district_office_acts_for_its_townships_side_but_is_not_a_higher_chief(sqlite_world: World) -> None:
    world = sqlite_world
    issue = world.report()
    world.fire(issue, "investigate", "tn-office")
    world.fire(issue, "confirm", "tn-office", findings="属实")
    world.fire(issue, "hand_off", "tn-office", receiving=RECEIVING_CODE)
    assert_refused(world, issue, NotPermitted, world.fire, issue, "dispatch", "sn-office", order="调度")
    assert world.fire(issue, "accept", "sn-office").state == "ban.accepted"
    events = world.events(issue)
    assert [(e.actor_code, e.parties) for e in events[1:]] == [
        ("tn-office", "member,reporting"),
        ("tn-office", "member,reporting"),
        ("tn-office", "member,reporting"),
        ("sn-office", "member,receiving"),
    ]


def test_a_chief_above_the_receiving_side_may_dispatch_and_one_above_the_reporting_side_may_not(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    issue = issue_at(world, "ban.handed_off")
    assert_refused(world, issue, NotPermitted, world.fire, issue, "dispatch", "tn-chief", order="调度")
    result = world.fire(issue, "dispatch", "sn-chief", order="限期受理")
    assert result.state == "ban.dispatched"
    assert world.events(issue)[-1].parties == "higher_chief,member,receiving"


def test_someone_below_a_side_does_not_stand_for_it() -> None:
    baima_chief = Actor(1, "c", "c", "chief", 1, BAIMA_PATH, member_of=frozenset({7}))
    anju_district = "/510000/510900/510904/"
    assert parties(baima_chief, 7, TAIAN_PATH, anju_district) == {Party.MEMBER}


def test_roles_other_than_chief_and_office_never_stand_for_a_side() -> None:
    for role in ("admin", "coordinator", "auditor"):
        person = Actor(1, "x", "x", role, 1, BAIMA_PATH, member_of=frozenset({7}))
        assert parties(person, 7, TAIAN_PATH, BAIMA_PATH) == frozenset(), role


def test_staff_of_another_compact_hold_nothing_here() -> None:
    coordinator = Actor(1, "x", "x", "coordinator", coordinates=frozenset({8}), audits=frozenset({8}))
    assert parties(coordinator, 7, TAIAN_PATH, BAIMA_PATH) == frozenset()
    assert parties(coordinator, 8, TAIAN_PATH, BAIMA_PATH) == {Party.COORDINATOR, Party.AUDITOR}


def test_the_system_is_only_ever_the_system() -> None:
    assert parties(SYSTEM, 7, TAIAN_PATH, BAIMA_PATH) == {Party.SYSTEM}
