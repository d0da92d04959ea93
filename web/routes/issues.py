"""Issues: report, list, read, fire triggers, the timeline and evidence.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from states import CHART, TABLE, allowed_triggers
from states.chart import SERVICE_TRIGGERS, phase_of
from states.policy import DUPLICATE_DAYS, DUPLICATE_RADIUS_M
from web.access import DB_INT_MAX, Access, Presented, compacts_named, compacts_of, iso, sane_days
from web.idempotency import once
from workflow.core.actors import Actor, parties
from workflow.core.clock import SHANGHAI
from workflow.core.errors import NotFound, TooLarge, UnsupportedMediaType, ValidationFailed
from workflow.core.evidence import add_evidence, attachment_type, readable_size, sniff, store_path
from workflow.core.payload import check_text
from workflow.core.services import IssueDraft, apply, report_issue, step_beside
from workflow.core.uow import UnitOfWork
from workflow.patrols.records import report_from_patrol
from workflow.reading.issues import (
    IssueScope,
    IssueSummary,
    compact_id_of,
    cursor_key,
    list_issues,
    page_cursor,
    scope_of,
    view_beside,
    view_of,
)
from workflow.reading.nearby import nearby_open

PAGE_MAX = 200  # issues a page at most
TEXT_MAX = 200  # characters of a text search


def allowed_for(actor: Actor, state: str, scope: IssueScope) -> list[str]:
    """The triggers ``actor`` may fire now on an issue in ``state`` with ``scope``, in chart order.

    Those the chart allows from the state, less the steps the services record
    themselves, and only those whose parties include one the actor holds.
    """
    held = parties(actor, scope.compact_id, scope.reporting_path, scope.receiving_path)
    return [t for t in allowed_triggers(state) if t not in SERVICE_TRIGGERS and held & TABLE[(state, t)].parties]


def _summary(row: IssueSummary, actor: Actor) -> dict[str, Any]:
    return {
        "code": row.code,
        "title": row.title,
        "category": row.category,
        "state": row.state,
        "state_label": CHART.state(row.state).label_zh,
        "phase": phase_of(row.state),
        "version": row.version,
        "due_at": iso(row.due_at),
        "created_at": iso(row.created_at),
        "reporting": {"code": row.reporting_code, "name": row.reporting},
        "receiving": {"code": row.receiving_code, "name": row.receiving} if row.receiving_code else None,
        "overdue": row.overdue,
        "allowed_triggers": allowed_for(actor, row.state, row.scope),
    }


class TransitionIn(BaseModel):
    """A trigger to fire, with its payload and the version the caller saw."""

    trigger: str
    payload: dict[str, Any] = Field(default_factory=dict)
    # Strict: true is not the version 1, nor "1" a number.
    expected_version: Annotated[int, Field(strict=True, ge=0, le=DB_INT_MAX)] | None = None


class IssueIn(BaseModel):
    """A new problem reported through the API."""

    compact: str = "QJ"
    title: str
    category: str
    description: str = ""
    difficulty: str = "normal"
    place: str = ""
    lon: float | None = None
    lat: float | None = None
    segment: str | None = None
    # Reported from inside this patrol (by its patroller): linked to it, and from a swap patrol handed to the owner.
    patrol: Annotated[int, Field(strict=True, ge=1, le=DB_INT_MAX)] | None = None
    observed_at: datetime | None = Field(default=None, description="when it was seen, ISO 8601 with an offset")


def router(access: Access) -> APIRouter:
    """The issue routes."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["issues"])
    Caller = Annotated[Actor, Depends(access.caller)]  # noqa: N806 (a type alias, named as one)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806
    Shown = Annotated[Presented, Depends(access.presented)]  # noqa: N806

    @api.get("/issues", response_model=dict[str, Any])
    async def issues(
        uow: Unit,
        shown: Shown,
        state: Annotated[list[str] | None, Query(description="a full state, e.g. ban.handed_off; repeatable")] = None,
        phase: Annotated[str | None, Query(description="kan, xun, cha, ban or du")] = None,
        party: Annotated[str | None, Query(description="a jurisdiction code: it or one under it is a side")] = None,
        side: Annotated[str | None, Query(description="with party: reporting or receiving only")] = None,
        category: str | None = None,
        river: Annotated[str | None, Query(description="a river's code: issues on its segments")] = None,
        difficulty: Annotated[str | None, Query(description="easy, normal or hard")] = None,
        waiting_on: Annotated[
            str | None, Query(description="whom the issue's state waits on: reporting, receiving, coordinator, auditor")
        ] = None,
        overdue: bool = False,
        start: Annotated[date | None, Query(alias="from", description="created on or after (Asia/Shanghai)")] = None,
        end: Annotated[date | None, Query(alias="to", description="created before (Asia/Shanghai)")] = None,
        q: Annotated[str | None, Query(description="text in the code, title, description or place")] = None,
        compact: str | None = None,
        limit: int = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
    ) -> Response:
        """Issues of the caller's compacts, newest first, a page at a time; every filter given applies."""

        def listed(actor: Actor) -> dict[str, Any]:
            sane_days(from_=start, to=end)
            errors: list[tuple[str, str]] = []
            if not 1 <= limit <= PAGE_MAX:
                errors.append(("limit", f"must be from 1 to {PAGE_MAX}"))
            if q is not None and len(q) > TEXT_MAX:
                errors.append(("q", f"must be at most {TEXT_MAX} characters"))
            after = None
            try:
                after = cursor_key(cursor) if cursor is not None else None
            except ValidationFailed as exc:
                errors.extend(exc.errors)
            if errors:
                raise ValidationFailed.of(errors)
            scope = compacts_of(actor)
            with uow:
                if compact is not None and compact_id_of(uow.connection, compact) not in scope:
                    raise NotFound("compact", compact)
                rows = list_issues(
                    uow.session,
                    now=wired.clock.now(),
                    compacts=scope,
                    compact=compact,
                    states=state or (),
                    phase=phase,
                    party=party,
                    side=side,
                    category=category,
                    river=river,
                    difficulty=difficulty,
                    waiting_on=waiting_on,
                    overdue=overdue,
                    created_from=_day_start(start),
                    created_to=_day_start(end),
                    text=q or None,
                    after=after,
                    limit=limit + 1,
                )
            page = rows[:limit]
            return {
                "items": [_summary(r, actor) for r in page],
                "next_cursor": page_cursor(page[-1]) if len(rows) > limit else None,
            }

        return await access.answer(uow, shown, listed)

    # Registered before /issues/{code}, so "nearby" is not taken for an issue's code.
    @api.get("/issues/nearby")
    def nearby(
        uow: Unit,
        actor: Caller,
        lon: float,
        lat: float,
        category: str,
        compact: Annotated[str | None, Query(description="one of the caller's compacts; needed if several")] = None,
        segment: Annotated[str | None, Query(description="a segment's code: issues on another are left out")] = None,
    ) -> dict[str, Any]:
        """Open issues of the category near a point (possible duplicates of a new report), nearest first."""
        if compact is None:
            mine = compacts_of(actor)
            if len(mine) != 1:
                raise ValidationFailed("compact", "is required: name one of your compacts")
            (compact_id,) = mine
        else:
            (compact_id,) = compacts_named(uow, actor, compact)
        with uow:
            found = nearby_open(uow.connection, compact_id, lon, lat, category, segment or None, now=wired.clock.now())
        return {
            "radius_m": DUPLICATE_RADIUS_M,
            "days": DUPLICATE_DAYS,
            "items": [
                {
                    "code": n.code,
                    "title": n.title,
                    "category": n.category,
                    "state": n.state,
                    "state_label": CHART.state(n.state).label_zh,
                    "segment": n.segment,
                    "created_at": iso(n.created_at),
                    "distance_m": round(n.distance_m),
                }
                for n in found
            ],
        }

    # The two busiest routes find their caller in the same trip through the thread pool as their work
    # (``Access.answer``), and in the same statement as the issue they name (its view, its scope): one round
    # trip to the database for both. The answer is documented as the others' are, and encoded once.
    @api.get("/issues/{code}", response_model=dict[str, Any])
    async def issue(uow: Unit, code: str, shown: Shown) -> Response:
        """One issue, with the triggers the caller may fire now."""

        def read(actor: Actor, found: Mapping[str, Any] | None) -> dict[str, Any]:
            view = view_of(code, found, compacts_of(actor))
            scope = view.scope
            return {
                "code": view.code,
                "title": view.title,
                "description": view.description,
                "category": view.category,
                "state": view.state,
                "state_label": CHART.state(view.state).label_zh,
                "version": view.version,
                "due_at": iso(view.due_at),
                "created_at": iso(view.created_at),
                "observed_at": iso(view.observed_at),
                "compact": view.compact,
                "reporting": view.reporting,
                "receiving": view.receiving,
                "rebound_count": view.rebound_count,
                "ledger_head": view.ledger_head,
                "allowed_triggers": allowed_for(actor, view.state, scope),
            }

        return await access.answer_beside(uow, shown, view_beside(code), read, quick=True)

    @api.get("/issues/{code}/timeline")
    def timeline(uow: Unit, code: str, actor: Caller) -> list[dict[str, Any]]:
        """Every ledger step of the issue."""
        view, _ = access.readable(uow, actor, code)
        return [
            {
                "seq": e.seq,
                "at": iso(e.occurred_at),
                "trigger": e.trigger,
                "label": CHART.trigger_label(e.trigger),
                "from": e.from_state,
                "to": e.to_state,
                "actor": e.actor_name,
                "payload": e.payload,
                "due_at": iso(e.due_at),
                "hash": e.hash,
            }
            for e in view.timeline
        ]

    @api.post("/issues/{code}/transitions", response_model=dict[str, Any])
    async def transition(uow: Unit, code: str, body: TransitionIn, shown: Shown) -> Response:
        """Fire a trigger: 409 on a stale version or a state that does not allow it, 403, 422 naming each field."""

        def fire(actor: Actor, found: Mapping[str, Any] | None) -> dict[str, Any]:
            # The issue came with the caller, before the step's transaction: its compact never changes, and
            # the step's write checks that its version still stands.
            access.scoped(actor, code, scope_of(code, found))
            result = apply(uow, code, body.trigger, actor, body.payload, body.expected_version, first=found)
            return {
                "code": result.issue_code,
                "state": result.state,
                "version": result.version,
                "due_at": iso(result.due_at),
                "notified": result.notified,
            }

        return await access.answer_beside(uow, shown, step_beside(code, body.trigger), fire, quick=True)

    @api.post("/issues/{code}/attachments", status_code=201)
    async def attach(
        uow: Unit,
        code: str,
        actor: Caller,
        file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo, or a PDF")],
        caption: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        """Add evidence to the current step (by SHA-256, in the ledger).

        413 if too big, 415 if not a photo or PDF, 422 naming ``file`` for a photo of more
        pixels than the limit (80 megapixels: a decompression bomb). A refused upload
        stores nothing, whether the file is refused or the step that would record it.
        """
        check_text("caption", caption)
        limit = wired.settings.upload_max_bytes
        content = await file.read(limit + 1)
        access.scope(uow, actor, code)
        if len(content) > limit:
            raise TooLarge("file", f"is over the upload limit of {readable_size(limit)}")
        if content and sniff(content) is None:
            raise UnsupportedMediaType("file", "is not a JPEG, PNG or WebP photo or a PDF (judged by its content)")
        stored = add_evidence(
            uow,
            code,
            actor,
            content,
            file.filename or "upload",
            wired.settings.data_dir,
            caption=caption,
            max_bytes=limit,
        )
        facts = stored.facts
        return {
            "sha256": stored.sha256,
            "content_type": stored.content_type,
            "version": stored.step.version if stored.step else None,
            "taken_at": iso(facts.taken_at),
            "lon": facts.lon,
            "lat": facts.lat,
            "new": stored.step is not None,
        }

    @api.get("/issues/{code}/attachments/{sha256}")
    def attachment(uow: Unit, code: str, sha256: str, actor: Caller) -> Response:
        """A stored file, only to those who may read the issue."""
        access.scope(uow, actor, code)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise NotFound("attachment", sha256)
        with uow:
            kind = attachment_type(uow.connection, code, sha256)
        path = store_path(wired.settings.data_dir, sha256)
        if kind is None or not path.exists():
            raise NotFound("attachment", sha256)
        return Response(
            path.read_bytes(),
            media_type=kind,
            headers={"Content-Disposition": "inline"},  # never sniffed: web.security says so on every response
        )

    @api.post("/issues", status_code=201, response_model=Any)
    async def report(uow: Unit, body: IssueIn, shown: Shown, request: Request) -> Response:
        """Report a new problem as the caller; with ``patrol``, from inside that patrol (as its patroller).

        With an ``Idempotency-Key`` header, sending the same report again returns the first answer
        (``Idempotent-Replayed: true``) and creates nothing more.
        """

        def reported(actor: Actor) -> Any:
            def make() -> dict[str, Any]:
                draft = IssueDraft(**body.model_dump(exclude={"patrol"}))
                if body.patrol is None:
                    result = report_issue(uow, actor, draft)
                    return {"code": result.issue_code, "state": result.state, "version": result.version}
                found = report_from_patrol(uow, actor, body.patrol, draft)
                return {
                    "code": found.issue_code,
                    "state": found.state,
                    "version": found.version,
                    "patrol": found.patrol_id,
                    "handed_to": {"code": found.handed_to, "name": found.handed_to_name} if found.handed_to else None,
                }

            return once(uow, actor, request, body, make)

        return await access.answer(uow, shown, reported, status_code=201)

    return api


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI) if day is not None else None
