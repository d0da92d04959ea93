"""A verification round can always be finished: the sign-off that makes both sides' completes the checklist."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import CHECKLIST, COORDINATOR, RECEIVER, REPORTER, World, walk_to
from workflow.core.errors import ValidationFailed
from workflow.core.models import ChecklistCheck, SignOff, table_of


def verifying(world: World) -> str:
    code = world.report()
    walk_to(world, code, "request_verify")
    return code


def test_the_second_sign_off_must_confirm_what_the_first_left_out_naming_it(world: World) -> None:
    code = verifying(world)
    world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST[:1])
    with pytest.raises(ValidationFailed) as refused:
        world.fire(code, "pass_check", RECEIVER)
    assert refused.value.errors[0][0] == "checklist"
    assert "site_check" in str(refused.value)
    assert "outfall_closed" in str(refused.value)
    assert "整改前后影像资料齐全" not in str(refused.value).split("尚缺")[1].split("(")[0]  # photos: confirmed already
    world.fire(code, "pass_check", RECEIVER, checklist=CHECKLIST[1:])
    world.fire(code, "close", COORDINATOR)
    assert world.issue(code).state == "du.closed"


def test_the_first_sign_off_may_confirm_part_of_the_list(world: World) -> None:
    code = verifying(world)
    world.fire(code, "pass_check", RECEIVER)  # nothing confirmed yet: the other side will
    world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST)
    world.fire(code, "close", REPORTER)
    assert world.issue(code).state == "du.closed"


def test_a_round_both_signed_with_items_missing_is_amended_by_a_side_not_failed(world: World) -> None:
    # A round signed before the rule: both sides have signed, one item is still unconfirmed.
    code = verifying(world)
    world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST[:2])
    issue = world.issue(code)
    with world.app.uow() as uow:
        person = uow.connection.execute(sa.text("SELECT id FROM person WHERE code = :c"), {"c": RECEIVER}).scalar()
        uow.connection.execute(
            table_of(SignOff)
            .insert()
            .values(
                issue_id=issue.id,
                round=issue.check_round,
                side="receiving",
                person_id=person,
                event_seq=issue.version,
                signed_at=world.clock.now(),
            )
        )
        uow.commit()
    with pytest.raises(ValidationFailed):
        world.fire(code, "close", COORDINATOR)
    world.fire(code, "pass_check", RECEIVER, checklist=CHECKLIST[2:])  # the amendment
    world.fire(code, "close", COORDINATOR)
    assert world.issue(code).state == "du.closed"
    with world.app.uow() as uow:
        signed = uow.connection.execute(
            sa.select(sa.func.count()).select_from(table_of(SignOff)).where(table_of(SignOff).c.issue_id == issue.id)
        ).scalar_one()
        checked = uow.connection.execute(
            sa.select(sa.func.count())
            .select_from(table_of(ChecklistCheck))
            .where(table_of(ChecklistCheck).c.issue_id == issue.id)
        ).scalar_one()
    assert (signed, checked) == (2, 3)


def test_a_side_that_signed_a_round_still_open_cannot_sign_it_again(world: World) -> None:
    code = verifying(world)
    world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST[:1])
    with pytest.raises(ValidationFailed) as refused:
        world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST[1:])
    assert refused.value.errors[0][0] == "sign_off"
