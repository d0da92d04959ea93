"""The versioned HTTP API: issues, their timeline and transitions, behind personal access tokens.

(No postponed annotations here: FastAPI reads the route signatures at run time.)

``create_api(wired)`` receives everything the composition root wired; no
route touches rows: each change goes through ``workflow.services``.
"""

import re
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from states import CHART, TABLE
from states.chart import SERVICE_TRIGGERS
from workflow.actors import Actor, parties
from workflow.calendar import local_today
from workflow.clock import SHANGHAI
from workflow.errors import NotFound, Unauthenticated, ValidationFailed, WorkflowError
from workflow.evidence import MAX_BYTES, add_evidence, attachment_type, store_path
from workflow.jobs import stats
from workflow.queries import IssueScope, IssueView, codes_in, compact_id_of, issue_scope, issue_view, list_issues
from workflow.services import IssueDraft, apply, report_issue
from workflow.tokens import actor_for_token

if TYPE_CHECKING:
    from riverchief.bootstrap import App

_bearer = HTTPBearer(auto_error=False)


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


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _compacts(actor: Actor) -> frozenset[int]:
    return actor.member_of | actor.coordinates | actor.audits


def create_api(wired: "App") -> FastAPI:
    """The API application for the wired app."""
    api = FastAPI(
        title="riverchief", version="1", openapi_url="/api/v1/openapi.json", docs_url="/api/docs", redoc_url=None
    )

    @api.exception_handler(WorkflowError)
    async def _refused(_request: Request, exc: WorkflowError) -> JSONResponse:
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
        if isinstance(exc, ValidationFailed):
            body["fields"] = [{"field": f, "reason": r} for f, r in exc.errors]
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
        if credentials is None:
            raise Unauthenticated("send a personal access token: Authorization: Bearer <token>")
        return actor_for_token(wired.uow(), credentials.credentials, wired.clock.now())

    Caller = Annotated[Actor, Depends(caller)]  # noqa: N806 (a type alias, named as one)

    def readable(actor: Actor, code: str) -> tuple[IssueView, IssueScope]:
        with wired.reader() as uow:
            scope = issue_scope(uow.connection, code)
            # Another compact's issues do not exist for the caller.
            if scope.compact_id not in _compacts(actor):
                raise NotFound("issue", code)
            return issue_view(uow.session, code), scope

    @api.get("/api/v1/issues")
    def issues(actor: Caller, state: str | None = None, overdue: bool = False) -> list[dict[str, Any]]:
        """Issues of the caller's compacts, newest first."""
        with wired.reader() as uow:
            rows = list_issues(uow.session, now=wired.clock.now(), state=state, overdue=overdue, limit=500)
            mine = codes_in(uow.connection, _compacts(actor))
        return [
            {
                "code": r.code,
                "title": r.title,
                "state": r.state,
                "version": r.version,
                "due_at": _iso(r.due_at),
                "reporting": r.reporting,
                "receiving": r.receiving,
                "overdue": r.overdue,
            }
            for r in rows
            if r.code in mine
        ]

    @api.get("/api/v1/issues/{code}")
    def issue(code: str, actor: Caller) -> dict[str, Any]:
        """One issue, with the triggers the caller may fire now."""
        view, scope = readable(actor, code)
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
            "due_at": _iso(view.due_at),
            "compact": view.compact,
            "reporting": view.reporting,
            "receiving": view.receiving,
            "rebound_count": view.rebound_count,
            "ledger_head": view.ledger_head,
            "allowed_triggers": allowed,
        }

    @api.get("/api/v1/issues/{code}/timeline")
    def timeline(code: str, actor: Caller) -> list[dict[str, Any]]:
        """Every ledger step of the issue."""
        view, _ = readable(actor, code)
        return [
            {
                "seq": e.seq,
                "at": _iso(e.occurred_at),
                "trigger": e.trigger,
                "label": CHART.trigger_label(e.trigger),
                "from": e.from_state,
                "to": e.to_state,
                "actor": e.actor_name,
                "payload": e.payload,
                "due_at": _iso(e.due_at),
                "hash": e.hash,
            }
            for e in view.timeline
        ]

    @api.post("/api/v1/issues/{code}/transitions")
    def transition(code: str, body: TransitionIn, actor: Caller) -> dict[str, Any]:
        """Fire a trigger: 409 on a stale version or a state that does not allow it, 403, 422 naming each field."""
        readable(actor, code)
        result = apply(wired.uow(), code, body.trigger, actor, body.payload, body.expected_version)
        return {
            "code": result.issue_code,
            "state": result.state,
            "version": result.version,
            "due_at": _iso(result.due_at),
            "notified": result.notified,
        }

    @api.post("/api/v1/issues/{code}/attachments", status_code=201)
    async def attach(
        code: str,
        actor: Caller,
        file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo, or a PDF")],
        caption: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        """Add evidence to the issue's current step: checked by content, stored by SHA-256, in the ledger."""
        limit = MAX_BYTES
        content = await file.read(limit + 1)
        readable(actor, code)
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
            "taken_at": _iso(facts.taken_at),
            "lon": facts.lon,
            "lat": facts.lat,
            "new": stored.step is not None,
        }

    @api.get("/api/v1/issues/{code}/attachments/{sha256}")
    def attachment(code: str, sha256: str, actor: Caller) -> Response:
        """A stored file, only to those who may read the issue."""
        readable(actor, code)
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

    @api.get("/api/v1/stats")
    def figures(
        actor: Caller,
        compact: str = "QJ",
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> dict[str, Any]:
        """The compact's figures over [from, to) (Asia/Shanghai days; default: this year so far), overdue by party."""
        today = local_today(wired.clock.now())
        first = start or today.replace(month=1, day=1)
        last = end or today + timedelta(days=1)
        if last <= first:
            raise ValidationFailed("to", f"must be after from ({first.isoformat()})")
        with wired.reader() as uow:
            scope = compact_id_of(uow.connection, compact)
            if scope not in _compacts(actor):
                raise NotFound("compact", compact)
            return stats(
                uow.connection,
                compact,
                datetime.combine(first, time(0), tzinfo=SHANGHAI),
                datetime.combine(last, time(0), tzinfo=SHANGHAI),
            )

    @api.post("/api/v1/issues", status_code=201)
    def report(body: IssueIn, actor: Caller) -> dict[str, Any]:
        """Report a new problem as the caller."""
        result = report_issue(wired.uow(), actor, IssueDraft(**body.model_dump()))
        return {"code": result.issue_code, "state": result.state, "version": result.version}

    return api
