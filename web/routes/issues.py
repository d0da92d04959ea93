"""Issues: report, list, read, fire triggers, the timeline and evidence.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import BaseModel, Field

from states import CHART, TABLE
from states.chart import SERVICE_TRIGGERS
from web.access import Access, compacts_of, iso
from workflow.actors import Actor, parties
from workflow.errors import NotFound
from workflow.evidence import MAX_BYTES, add_evidence, attachment_type, store_path
from workflow.queries import codes_in, list_issues
from workflow.services import IssueDraft, apply, report_issue


class TransitionIn(BaseModel):
    """A trigger to fire, with its payload and the version the caller saw."""

    trigger: str
    payload: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = None


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


def router(access: Access) -> APIRouter:
    """The issue routes."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["issues"])
    Caller = Annotated[Actor, Depends(access.caller)]  # noqa: N806 (a type alias, named as one)

    @api.get("/issues")
    def issues(actor: Caller, state: str | None = None, overdue: bool = False) -> list[dict[str, Any]]:
        """Issues of the caller's compacts, newest first."""
        with wired.reader() as uow:
            rows = list_issues(uow.session, now=wired.clock.now(), state=state, overdue=overdue, limit=500)
            mine = codes_in(uow.connection, compacts_of(actor))
        return [
            {
                "code": r.code,
                "title": r.title,
                "state": r.state,
                "version": r.version,
                "due_at": iso(r.due_at),
                "reporting": r.reporting,
                "receiving": r.receiving,
                "overdue": r.overdue,
            }
            for r in rows
            if r.code in mine
        ]

    @api.get("/issues/{code}")
    def issue(code: str, actor: Caller) -> dict[str, Any]:
        """One issue, with the triggers the caller may fire now."""
        view, scope = access.readable(actor, code)
        held = parties(actor, scope.compact_id, scope.reporting_path, scope.receiving_path)
        allowed = [t for t in view.allowed if t not in SERVICE_TRIGGERS and held & TABLE[(view.state, t)].parties]
        return {
            "code": view.code,
            "title": view.title,
            "description": view.description,
            "category": view.category,
            "state": view.state,
            "state_label": CHART.state(view.state).label_zh,
            "version": view.version,
            "due_at": iso(view.due_at),
            "compact": view.compact,
            "reporting": view.reporting,
            "receiving": view.receiving,
            "rebound_count": view.rebound_count,
            "ledger_head": view.ledger_head,
            "allowed_triggers": allowed,
        }

    @api.get("/issues/{code}/timeline")
    def timeline(code: str, actor: Caller) -> list[dict[str, Any]]:
        """Every ledger step of the issue."""
        view, _ = access.readable(actor, code)
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

    @api.post("/issues/{code}/transitions")
    def transition(code: str, body: TransitionIn, actor: Caller) -> dict[str, Any]:
        """Fire a trigger: 409 on a stale version or a state that does not allow it, 403, 422 naming each field."""
        access.readable(actor, code)
        result = apply(wired.uow(), code, body.trigger, actor, body.payload, body.expected_version)
        return {
            "code": result.issue_code,
            "state": result.state,
            "version": result.version,
            "due_at": iso(result.due_at),
            "notified": result.notified,
        }

    @api.post("/issues/{code}/attachments", status_code=201)
    async def attach(
        code: str,
        actor: Caller,
        file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo, or a PDF")],
        caption: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        """Add evidence to the issue's current step: checked by content, stored by SHA-256, in the ledger."""
        limit = MAX_BYTES
        content = await file.read(limit + 1)
        access.readable(actor, code)
        stored = add_evidence(
            wired.uow(),
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
    def attachment(code: str, sha256: str, actor: Caller) -> Response:
        """A stored file, only to those who may read the issue."""
        access.readable(actor, code)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise NotFound("attachment", sha256)
        with wired.reader() as uow:
            kind = attachment_type(uow.connection, code, sha256)
        path = store_path(wired.settings.data_dir, sha256)
        if kind is None or not path.exists():
            raise NotFound("attachment", sha256)
        return Response(
            path.read_bytes(),
            media_type=kind,
            headers={"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"},
        )

    @api.post("/issues", status_code=201)
    def report(body: IssueIn, actor: Caller) -> dict[str, Any]:
        """Report a new problem as the caller."""
        result = report_issue(wired.uow(), actor, IssueDraft(**body.model_dump()))
        return {"code": result.issue_code, "state": result.state, "version": result.version}

    return api
