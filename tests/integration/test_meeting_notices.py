"""What a joint meeting sends: an invitation with an .ics every calendar reads, a notice when it moves or is
cancelled, a reminder the day before; and an action item's reminder and overdue notice, each once."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path

import icalendar
import pytest
import sqlalchemy as sa

from notifications.channels import EmlChannel
from notifications.dispatcher import Dispatcher, DispatchPolicy
from notifications.render import Renderer
from states.chart import CHOICE_LABELS
from tests.factories import COORDINATOR, World, walk_to
from workflow.core.clock import SHANGHAI
from workflow.core.models import Meeting, Outbox, Person, table_of
from workflow.jobs.meetings import meeting_sweep
from workflow.meetings.actions import add_action_item
from workflow.meetings.records import MeetingDraft, change_meeting, convene_meeting

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
COORDINATOR_EMAIL = "coord@qiongjiang.example.cn"  # the demo's invitees with an address


def drain(world: World, folder: Path) -> Counter[str]:
    dispatcher = Dispatcher(
        world.app.uow,
        [EmlChannel(folder)],
        Renderer(world.app.calendar, world.app.settings.base_url),
        world.clock,
        DispatchPolicy(),
    )
    return dispatcher.drain()


def invitations(folder: Path, to: str) -> list[icalendar.Calendar]:
    """The calendars attached to the emails addressed to ``to``, in the order of their SEQUENCE."""
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if to not in str(message["To"]):
            continue
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
                (event,) = calendar.walk("VEVENT")
                found.append((int(event["SEQUENCE"]), calendar))
    return [calendar for _, calendar in sorted(found, key=lambda pair: pair[0])]


def meeting(world: World) -> str:
    code = world.report()
    walk_to(world, code, "hand_off")
    draft = MeetingDraft(
        compact="QJ",
        title="琼江跨界问题联席会议",
        starts_at=world.clock.now() + timedelta(days=3, hours=1),
        place="潼南区河长办会议室",
        agenda=(code,),
    )
    return convene_meeting(world.app.uow(), world.actor(COORDINATOR), draft).code


def test_every_invitee_gets_an_ics_that_a_move_updates_and_a_cancellation_removes(world: World, tmp_path: Path) -> None:
    code = meeting(world)
    assert drain(world, tmp_path)["sent"] > 0
    (invite,) = invitations(tmp_path, COORDINATOR_EMAIL)
    (event,) = invite.walk("VEVENT")
    assert str(invite["METHOD"]) == "REQUEST"
    assert str(event["UID"]).startswith(code)
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == world.clock.now() + timedelta(days=3, hours=1)
    assert "琼江跨界问题联席会议" in str(event["SUMMARY"])
    assert str(event["LOCATION"]) == "潼南区河长办会议室"

    later = (world.clock.now() + timedelta(days=4)).astimezone(SHANGHAI)
    change_meeting(world.app.uow(), world.actor(COORDINATOR), code, 1, starts_at=later, place="遂宁市安居区")
    change_meeting(world.app.uow(), world.actor(COORDINATOR), code, 2, status="cancelled", note="已协商解决")
    drain(world, tmp_path)
    moved, cancelled = invitations(tmp_path, COORDINATOR_EMAIL)[1:]
    (moved_event,) = moved.walk("VEVENT")
    assert (str(moved_event["UID"]), int(moved_event["SEQUENCE"])) == (str(event["UID"]), 1)
    assert moved_event.decoded("DTSTART") == later
    (cancelled_event,) = cancelled.walk("VEVENT")
    assert (str(cancelled["METHOD"]), str(cancelled_event["STATUS"])) == ("CANCEL", "CANCELLED")
    assert int(cancelled_event["SEQUENCE"]) == 2


def test_an_invitation_names_the_meetings_level_in_chinese(world: World, tmp_path: Path) -> None:
    code = meeting(world)
    drain(world, tmp_path)
    with world.app.reader() as uow:
        meetings = table_of(Meeting)
        level = uow.connection.execute(sa.select(meetings.c.level).where(meetings.c.code == code)).scalar_one()
    texts = []
    for path in sorted(tmp_path.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if COORDINATOR_EMAIL in str(message["To"]):
            texts.append(message.get_body(preferencelist=("plain",)).get_content())
    invitation = [text for text in texts if "出席" in text]  # the convened step's notice aside
    assert len(invitation) == 1
    assert f"{CHOICE_LABELS[level][0]}联席会议" in invitation[0]
    assert level not in "".join(texts)


def test_an_invitation_in_english_says_when_where_and_what_in_english(world: World, tmp_path: Path) -> None:
    # Every kind's sentences are the catalogue's in both languages: an English reader is told the time, the
    # place, the level and the agenda as a Chinese one is, not only what kind of notice it is.
    with world.app.uow() as uow:
        people = table_of(Person)
        uow.connection.execute(people.update().where(people.c.code == COORDINATOR).values(locale="en"))
        uow.commit()
    code = meeting(world)
    drain(world, tmp_path)
    with world.app.reader() as uow:
        meetings = table_of(Meeting)
        level, starts = uow.connection.execute(
            sa.select(meetings.c.level, meetings.c.starts_at).where(meetings.c.code == code)
        ).one()
    (invitation,) = (m for m in mails_to(tmp_path, COORDINATOR_EMAIL) if "invitation" in str(m["Subject"]))
    text = invitation.get_body(preferencelist=("plain",)).get_content()
    when = (starts if starts.tzinfo else starts.replace(tzinfo=UTC)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert str(invitation["Subject"]).startswith("[Joint meeting invitation] 琼江跨界问题联席会议 ")
    assert (
        f"Please attend the {CHOICE_LABELS[level][1]} joint meeting ({code}) at {when} in 潼南区河长办会议室: "
        "琼江跨界问题联席会议. Agenda: QJ-" in text
    )
    assert "If you cannot attend, tell the convener" in text
    first = text.split("\n\n")[1]  # the notice's own sentence, its data aside
    assert not re.search("[，。：；（）、]", first), first
    assert "出席" not in text


def mails_to(folder: Path, to: str) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if to in str(message["To"]):
            found.append(message)
    return found


def kinds_queued(world: World) -> Counter[str]:
    with world.app.reader() as uow:
        rows = uow.connection.execute(sa.select(table_of(Outbox).c.kind, table_of(Outbox).c.topic)).all()
    return Counter(r.kind for r in rows if r.topic)


def test_the_sweep_reminds_a_meeting_the_day_before_and_an_action_item_before_and_after_its_day_once_each(
    world: World,
) -> None:
    meeting(world)
    item = add_action_item(
        world.app.uow(),
        world.actor(COORDINATOR),
        "QJ",
        "建立联合执法小组",
        "500152",
        world.clock.now().date() + timedelta(days=14),
    )
    assert item.startswith("QJ-DB-")
    assert meeting_sweep(world.app.uow, world.clock.now()) == {
        "meetings_reminded": 0,
        "actions_reminded": 0,
        "actions_overdue": 0,
    }
    world.clock.advance(seconds=timedelta(days=2, hours=2).total_seconds())  # within a day of the meeting
    assert meeting_sweep(world.app.uow, world.clock.now())["meetings_reminded"] == 1
    assert meeting_sweep(world.app.uow, world.clock.now())["meetings_reminded"] == 0
    world.clock.advance(seconds=timedelta(days=10).total_seconds())  # two working days before the due day
    assert meeting_sweep(world.app.uow, world.clock.now())["actions_reminded"] == 1
    world.clock.advance(seconds=timedelta(days=3).total_seconds())  # past the due day
    assert meeting_sweep(world.app.uow, world.clock.now())["actions_overdue"] == 1
    assert meeting_sweep(world.app.uow, world.clock.now())["actions_overdue"] == 0
    queued = kinds_queued(world)
    assert queued["meeting_reminder"] >= 2  # every invitee
    assert queued["action_reminder"] == queued["action_overdue"] > 0  # the owner's chiefs and offices, once each
