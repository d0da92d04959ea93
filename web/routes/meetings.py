"""Joint meetings (联席会议) and their action items: coordinators convene and decide; the compact reads.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from states.chart import MEETING_LEVELS
from web.access import Access, compacts_named, compacts_of, iso, one_of, sane_days
from workflow.core.actors import Actor
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.uow import UnitOfWork
from workflow.meetings.actions import add_action_item, complete_action_item
from workflow.meetings.basics import ATTENDANCE, STATUSES, only_coordinator, readable
from workflow.meetings.bulletins import issue_progress_bulletin
from workflow.meetings.records import MeetingDraft, change_meeting, convene_meeting, decide, record_attendance
from workflow.reading.meetings import (
    ActionView,
    MeetingView,
    action_items,
    list_meetings,
    meeting_view,
    progress_bulletins,
)

CODE = Field(min_length=1, max_length=40)
TEXT = Field(min_length=1, max_length=200)


class MeetingIn(BaseModel):
    """A joint meeting to convene: its agenda issues are put to it (``convene``) in one transaction."""

    compact: str = Field(min_length=1, max_length=10)
    title: str = TEXT
    starts_at: AwareDatetime
    place: str = Field(min_length=1, max_length=300)
    level: str | None = Field(default=None, description="township, district, city or province; default: suggested")
    level_reason: str | None = Field(default=None, max_length=500, description="why, when not the suggested level")
    agenda: list[Annotated[str, CODE]] = Field(default_factory=list, max_length=100)
    review: list[Annotated[str, CODE]] = Field(default_factory=list, max_length=100)
    invitees: list[Annotated[str, CODE]] | None = Field(
        default=None, max_length=500, description="person codes; default: the agenda's chiefs and the coordinators"
    )


class MeetingPatch(BaseModel):
    """A change to a meeting: moved, renamed, held or cancelled (a cancellation says why, in ``note``)."""

    expected_version: int = Field(ge=1, le=2**31 - 1, strict=True)
    starts_at: AwareDatetime | None = None
    place: str | None = Field(default=None, min_length=1, max_length=300)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    status: str | None = Field(default=None, description="held or cancelled")
    note: str | None = Field(default=None, max_length=2000)


class AttendanceIn(BaseModel):
    """Who came, by person code: present, absent or excused; and who stood in for whom."""

    attendance: dict[Annotated[str, CODE], str] = Field(min_length=1, max_length=500)
    stand_ins: dict[Annotated[str, CODE], Annotated[str, Field(max_length=100)]] = Field(default_factory=dict)


class DecisionIn(BaseModel):
    """The meeting's decision on an agenda issue: the issue's ``resolve`` step."""

    issue: str = CODE
    resolution: str = Field(min_length=1, max_length=2000)
    plan: str = Field(min_length=1, max_length=5000)
    deadline: date


class ActionIn(BaseModel):
    """An action item the meeting decided: an owner jurisdiction and a due day."""

    title: str = Field(min_length=1, max_length=300)
    owner: str = Field(min_length=1, max_length=20, description="the owner jurisdiction's code")
    due_on: date


class BulletinIn(BaseModel):
    """A progress bulletin to issue over the days [from, to)."""

    compact: str = Field(min_length=1, max_length=10)
    start: date = Field(alias="from")
    end: date = Field(alias="to")


class ActionDone(BaseModel):
    """What was done: the action item is closed (销号)."""

    outcome: str = Field(min_length=1, max_length=2000)


def _action(a: ActionView) -> dict[str, Any]:
    return {
        "code": a.code,
        "compact": a.compact,
        "meeting": a.meeting,
        "title": a.title,
        "owner": {"code": a.owner_code, "name": a.owner},
        "due_on": a.due_on.isoformat(),
        "status": a.status,
        "overdue": a.overdue,
        "done_at": iso(a.done_at),
        "outcome": a.outcome,
    }


def _meeting(m: MeetingView) -> dict[str, Any]:
    return {
        "code": m.code,
        "compact": m.compact,
        "level": m.level,
        "suggested_level": m.suggested_level,
        "level_reason": m.level_reason,
        "title": m.title,
        "starts_at": iso(m.starts_at),
        "place": m.place,
        "convener": m.convener,
        "status": m.status,
        "note": m.note,
        "version": m.version,
        "invitees": [
            {
                "code": i.code,
                "name": i.name,
                "role": i.role,
                "jurisdiction": i.jurisdiction,
                "attendance": i.attendance,
                "stand_in": i.stand_in,
            }
            for i in m.invitees
        ],
        "agenda": [
            {
                "issue": a.code,
                "title": a.title,
                "state": a.state,
                "role": a.role,
                "decision": (
                    {"resolution": a.resolution, "plan": a.plan, "deadline": a.deadline, "owner": a.owner}
                    if a.resolution is not None
                    else None
                ),
            }
            for a in m.agenda
        ],
        "actions": [_action(a) for a in m.actions],
    }


def router(access: Access) -> APIRouter:
    """The meeting and action-item routes."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["meetings"])
    Caller = Annotated[Actor, Depends(access.caller)]  # noqa: N806 (a type alias, named as one)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806

    def shown(uow: UnitOfWork, actor: Actor, code: str) -> dict[str, Any]:
        with uow:
            view = meeting_view(uow.connection, code, wired.clock.now())
        readable(actor, view.compact_id, "meeting", code)
        return _meeting(view)

    @api.get("/meetings")
    def meetings(
        uow: Unit,
        actor: Caller,
        compact: str | None = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
        status: str | None = None,
        level: str | None = None,
    ) -> list[dict[str, Any]]:
        """The joint meetings of the caller's compacts starting in [from, to), newest first."""
        one_of("status", status, STATUSES)
        one_of("level", level, MEETING_LEVELS)
        sane_days(from_=start, to=end)
        if start is not None and end is not None and end <= start:
            raise ValidationFailed("to", f"must be after from ({start.isoformat()})")
        compacts = compacts_named(uow, actor, compact)
        with uow:
            rows = list_meetings(
                uow.connection,
                compacts,
                start=datetime.combine(start, time(0), tzinfo=SHANGHAI) if start else None,
                end=datetime.combine(end, time(0), tzinfo=SHANGHAI) if end else None,
                status=status,
                level=level,
            )
        return [
            {
                "code": r.code,
                "compact": r.compact,
                "level": r.level,
                "title": r.title,
                "starts_at": iso(r.starts_at),
                "place": r.place,
                "status": r.status,
                "issues": r.issues,
            }
            for r in rows
        ]

    @api.post("/meetings", status_code=201)
    def convene(uow: Unit, body: MeetingIn, actor: Caller) -> dict[str, Any]:
        """Convene a joint meeting on any number of issues (coordinators): each is put to it, all or none."""
        draft = MeetingDraft(**body.model_dump())
        done = convene_meeting(uow, actor, draft)
        return shown(uow, actor, done.code)

    @api.get("/meetings/{code}")
    def meeting(uow: Unit, code: str, actor: Caller) -> dict[str, Any]:
        """One meeting: invitees and attendance, agenda and decisions, action items."""
        return shown(uow, actor, code)

    @api.patch("/meetings/{code}")
    def change(uow: Unit, code: str, body: MeetingPatch, actor: Caller) -> dict[str, Any]:
        """Move, rename, mark held or cancel a meeting (coordinators); invitees hear of a move or cancellation."""
        changes = body.model_dump(exclude={"expected_version"})
        change_meeting(uow, actor, code, body.expected_version, **changes)
        return shown(uow, actor, code)

    @api.post("/meetings/{code}/attendance")
    def attendance(uow: Unit, code: str, body: AttendanceIn, actor: Caller) -> dict[str, Any]:
        """Record who came (coordinators): present, absent or excused, by person code."""
        for person, value in body.attendance.items():
            if value not in ATTENDANCE:
                raise ValidationFailed(f"attendance.{person}", f"{value!r} is not one of {', '.join(ATTENDANCE)}")
        record_attendance(uow, actor, code, body.attendance, body.stand_ins)
        return shown(uow, actor, code)

    @api.post("/meetings/{code}/decisions")
    def decision(uow: Unit, code: str, body: DecisionIn, actor: Caller) -> dict[str, Any]:
        """Record the decision on an agenda issue (coordinators): its ``resolve`` step, with plan and deadline."""
        decide(uow, actor, code, body.issue, body.resolution, body.plan, body.deadline)
        return shown(uow, actor, code)

    @api.post("/meetings/{code}/actions", status_code=201)
    def action(uow: Unit, code: str, body: ActionIn, actor: Caller) -> dict[str, Any]:
        """Add an action item the meeting decided (coordinators); its owner's chiefs and offices are told."""
        with uow:
            view = meeting_view(uow.connection, code, wired.clock.now())
        readable(actor, view.compact_id, "meeting", code)
        created = add_action_item(uow, actor, view.compact, body.title, body.owner, body.due_on, meeting=code)
        with uow:
            (found,) = action_items(uow.connection, [view.compact_id], wired.clock.now(), code=created)
        return _action(found)

    @api.post("/meetings/{code}/minutes", status_code=201)
    def minutes(uow: Unit, code: str, actor: Caller) -> dict[str, Any]:
        """File the meeting's minutes (纪要) PDF (coordinators), in the ledger of every issue it decided."""
        with uow:
            view = meeting_view(uow.connection, code, wired.clock.now())
        only_coordinator(actor, view.compact_id, "file minutes", ("meeting", code))
        if view.status != "held":
            raise ValidationFailed("meeting", "minutes are filed for a meeting that was held")
        uow.rollback()  # the report is made and filed in units of its own
        filed = wired.file_report("minutes", meeting=code)
        return {
            "report": filed.id,
            "sha256": filed.sha256,
            "new": filed.new,
            "file": f"/api/v1/reports/{filed.id}/file",
        }

    @api.post("/bulletins", status_code=201)
    def bulletin(uow: Unit, body: BulletinIn, actor: Caller) -> dict[str, Any]:
        """Issue a progress bulletin (通报整改情况) over [from, to) (coordinators): numbered, filed as a PDF."""
        issued = issue_progress_bulletin(uow, actor, body.compact, body.start, body.end)
        uow.rollback()  # the PDF is made and filed in units of its own
        filed = wired.file_report("progress", compact=body.compact, period=issued.period)
        return {
            "number": issued.number,
            "period": issued.period,
            "report": filed.id,
            "file": f"/api/v1/reports/{filed.id}/file",
        }

    @api.get("/bulletins")
    def bulletins(uow: Unit, actor: Caller, compact: str | None = None) -> list[dict[str, Any]]:
        """The progress bulletins of the caller's compacts, newest first."""
        compacts = compacts_named(uow, actor, compact)
        with uow:
            return progress_bulletins(uow.connection, compacts)

    @api.get("/actions")
    def actions(
        uow: Unit,
        actor: Caller,
        compact: str | None = None,
        status: str | None = None,
        overdue: bool | None = None,
    ) -> list[dict[str, Any]]:
        """The action items of the caller's compacts, due first; ``overdue=true`` for those past their day."""
        one_of("status", status, ("open", "done", "cancelled"))
        compacts = compacts_named(uow, actor, compact)
        with uow:
            rows = action_items(uow.connection, compacts, wired.clock.now(), status=status, overdue=overdue)
        return [_action(a) for a in rows]

    @api.post("/actions/{code}/done")
    def action_done(uow: Unit, code: str, body: ActionDone, actor: Caller) -> dict[str, Any]:
        """Close an action item with what was done: a coordinator, or a chief or office of its owner."""
        complete_action_item(uow, actor, code, body.outcome)
        with uow:
            (found,) = action_items(uow.connection, compacts_of(actor), wired.clock.now(), code=code)
        return _action(found)

    return api
