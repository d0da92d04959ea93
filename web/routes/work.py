"""The compact's work around its issues: joint meetings, revisits, filed reports, and the caller's inbox.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import hashlib
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from web.access import DB_INT_MAX, Access, Presented, compacts_named, compacts_of, iso, one_of, sane_days
from workflow.core.actors import Actor
from workflow.core.errors import NotFound, ValidationFailed, WorkflowError
from workflow.core.outbox import inbox, mark_read
from workflow.core.uow import UnitOfWork
from workflow.reading.records import MeetingItem, ReportRow, RevisitRow, meeting_items, report_rows, revisit_rows

REPORT_KINDS = ("followup", "revisit", "bulletin", "progress", "interview", "minutes", "ledger")
REVISIT_STATUSES = ("planned", "done", "cancelled")
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
_UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


class ArchiveDamaged(WorkflowError):
    """A filed report's file is missing or no longer matches its recorded SHA-256: it is not served."""

    http_status = 409


class ReadIn(BaseModel):
    """Inbox messages to mark read."""

    ids: list[Annotated[int, Field(ge=1, le=DB_INT_MAX)]] = Field(min_length=1, max_length=1000)


def _meeting(m: MeetingItem) -> dict[str, Any]:
    return {
        "issue": m.issue_code,
        "title": m.issue_title,
        "compact": m.compact,
        "date": m.day.isoformat(),
        "level": m.level,
        "agenda": m.agenda,
        "convened_at": iso(m.convened_at),
        "convened_by": m.convened_by,
        "state": m.state,
        "resolution": m.resolution,
        "plan": m.plan,
        "deadline": m.deadline,
        "resolved_at": iso(m.resolved_at),
        "attendees": [{"code": a.code, "name": a.name, "role": a.role, "title": a.title} for a in m.attendees],
    }


def _revisit(r: RevisitRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "issue": r.issue_code,
        "compact": r.compact,
        "cycle": r.cycle,
        "seq": r.seq,
        "offset_days": r.offset_days,
        "due_on": iso(r.due_on),
        "status": r.status,
        "outcome": r.outcome,
        "done_at": iso(r.done_at),
    }


def _report(r: ReportRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "compact": r.compact,
        "kind": r.kind,
        "period": r.period,
        "title": r.title,
        "issue": r.issue_code,
        "sha256": r.sha256,
        "size": r.size,
        "created_at": iso(r.created_at),
        "file": f"/api/v1/reports/{r.id}/file",
    }


def attachment_disposition(name: str, fallback: str) -> str:
    """A Content-Disposition that downloads as ``name`` (RFC 5987 UTF-8) or, in older clients, as ``fallback``."""
    safe = _UNSAFE_IN_NAMES.sub("_", name).strip(" .") or fallback
    plain = _UNSAFE_IN_NAMES.sub("_", fallback).encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(safe, safe='')}"


def _report_download(content: bytes, extension: str, name: str, fallback: str, headers: Mapping[str, str]) -> Response:
    """A report's bytes, downloaded as ``name``.``extension`` (``fallback`` for older clients), with ``headers``.
    (Never sniffed: ``web.security`` says so on every response.)"""
    return Response(
        content,
        media_type=MEDIA_TYPES.get(extension, "application/octet-stream"),
        headers={"Content-Disposition": attachment_disposition(f"{name}.{extension}", fallback), **headers},
    )


def router(access: Access) -> APIRouter:
    """The meeting, revisit, report and inbox routes."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["work"])
    Caller = Annotated[Actor, Depends(access.caller)]  # noqa: N806 (a type alias, named as one)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806
    Shown = Annotated[Presented, Depends(access.presented)]  # noqa: N806

    @api.get("/meeting-items")
    def meetings(
        uow: Unit,
        actor: Caller,
        compact: str | None = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> list[dict[str, Any]]:
        """Every issue put to a joint meeting (a record or its own convene step), by meeting day in [from, to)."""
        sane_days(from_=start, to=end)
        if start is not None and end is not None and end <= start:
            raise ValidationFailed("to", f"must be after from ({start.isoformat()})")
        compacts = compacts_named(uow, actor, compact)
        with uow:
            return [_meeting(m) for m in meeting_items(uow.connection, compacts, start=start, end=end)]

    @api.get("/revisits")
    def revisits(
        uow: Unit, actor: Caller, compact: str | None = None, status: str | None = None, due_before: date | None = None
    ) -> list[dict[str, Any]]:
        """Revisits (回头看) of the caller's compacts' issues, by due day."""
        sane_days(due_before=due_before)
        one_of("status", status, REVISIT_STATUSES)
        compacts = compacts_named(uow, actor, compact)
        with uow:
            rows = revisit_rows(uow.connection, compacts, status=status, due_before=due_before)
        return [_revisit(r) for r in rows]

    @api.get("/issues/{code}/revisits")
    def issue_revisits(uow: Unit, code: str, actor: Caller) -> list[dict[str, Any]]:
        """The revisits planned, done or cancelled for one issue."""
        issue_scope = access.scope(uow, actor, code)
        with uow:
            rows = revisit_rows(uow.connection, {issue_scope.compact_id}, issue=code)
        return [_revisit(r) for r in rows]

    @api.get("/reports")
    def reports(
        uow: Unit,
        actor: Caller,
        compact: str | None = None,
        kind: str | None = None,
        period: Annotated[str | None, Query(max_length=20)] = None,
    ) -> list[dict[str, Any]]:
        """Reports filed for the caller's compacts, newest first."""
        one_of("kind", kind, REPORT_KINDS)
        compacts = compacts_named(uow, actor, compact)
        with uow:
            return [_report(r) for r in report_rows(uow.connection, compacts, kind=kind, period=period)]

    @api.get("/reports/{report_id}/file")
    def report_file(
        uow: Unit,
        report_id: Annotated[int, PathParam(ge=1, le=DB_INT_MAX)],
        actor: Caller,
        lang: Annotated[str | None, Query(max_length=10)] = None,
    ) -> Response:
        """The filed report's file, only when its bytes still match the SHA-256 recorded when it was filed.

        ``lang=en``: an English copy instead, made now from the ledger as the report's kind makes it, not filed
        (a follow-up or a ledger shows what happened since it was filed; a bulletin is made from its stored
        record). An auditor's revisit report over revisits they chose has none: its record does not keep the choice.
        """
        with uow:
            found = report_rows(uow.connection, compacts_of(actor), report_id=report_id)
        if not found:
            raise NotFound("report", report_id)
        row = found[0]
        if lang is not None:
            one_of("lang", lang, ("zh-CN", "en"))
        if lang == "en":
            return english_copy(row)
        root = wired.settings.data_dir.resolve()
        path = (root / row.path).resolve()
        check = "run `riverchief ledger verify` to see the whole archive"
        if not path.is_relative_to(root) or not path.is_file():
            raise ArchiveDamaged(f"report #{row.id} ({row.path}): the file is missing from the archive; {check}")
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() != row.sha256:
            raise ArchiveDamaged(
                f"report #{row.id} ({row.path}): the file no longer matches the SHA-256 it was filed with; {check}"
            )
        extension = Path(row.path).suffix.lstrip(".").lower()
        # Every follow-up has the same title unless it names its issue.
        name = row.title if not row.issue_code or row.issue_code in row.title else f"{row.title} {row.issue_code}"
        return _report_download(content, extension, name, Path(row.path).name, {"ETag": f'"{row.sha256}"'})

    def english_copy(row: ReportRow) -> Response:
        options = row.remade()
        if options is None:
            raise ValidationFailed("lang", "this report has no English copy: it covers revisits an auditor chose")
        made = wired.make_report(**options, lang="en")
        extension = made.extension
        # Made anew each time, from the ledger as it stands: never cached.
        fallback = f"report-{row.id}-en.{extension}"
        return _report_download(made.content, extension, made.title, fallback, {"Cache-Control": "no-store"})

    @api.get("/inbox", response_model=list[dict[str, Any]])
    async def messages(
        uow: Unit, shown: Shown, unread: bool = False, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> Response:
        """The caller's in-app messages, newest first."""

        def listed(actor: Actor) -> list[dict[str, Any]]:
            with uow:
                entries = inbox(uow.connection, actor.code, unread_only=unread, limit=limit)
            return [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "subject": e.subject,
                    "body": e.body,
                    "link": e.link,
                    "created_at": iso(e.created_at),
                    "occurred_at": iso(e.occurred_at),
                    "read_at": iso(e.read_at),
                }
                for e in entries
            ]

        return await access.answer(uow, shown, listed)

    @api.post("/inbox/read")
    def read(uow: Unit, body: ReadIn, actor: Caller) -> dict[str, int]:
        """Mark the caller's messages read; others' ids are left alone. Returns how many changed."""
        with uow:
            marked = mark_read(uow.connection, actor.code, body.ids, wired.clock.now())
            uow.commit()
        return {"marked": marked}

    return api
