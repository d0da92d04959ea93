"""Patrols (巡河): start one and end it, record ended ones (one or a batch), upload a track, list and read them,
and the segments the caller may patrol today.

Who may read a patrol is decided in one place, ``workflow.patrols.views.may_read``; a patrol not the caller's
to read does not exist for them (404). Only its patroller writes to a patrol.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from web.access import DB_INT_MAX, Access, Presented, iso
from web.idempotency import once
from workflow.core.actors import Actor
from workflow.core.calendar import local_today
from workflow.core.errors import NotFound, TooLarge, UnsupportedMediaType, ValidationFailed
from workflow.core.evidence import readable_size
from workflow.core.uow import UnitOfWork
from workflow.patrols.basics import BATCH_MAX, kind_label, parse_month
from workflow.patrols.batches import PatrolItem, indexed, record_patrols
from workflow.patrols.records import API_FIELDS, end_patrol, record_patrol, start_patrol
from workflow.patrols.tracks import Track, parse_track, read_geojson
from workflow.patrols.views import PatrolView, list_patrols, may_read, patrol_track, patrollable

LIST_MAX = 500  # patrols a list at most
# A batch of BATCH_MAX patrols with a phone's track each (500 timed points are about 27 KB of GeoJSON).
MAX_BATCH_BYTES = 64 * 1024 * 1024
PatrolId = Annotated[int, PathParam(ge=1, le=DB_INT_MAX)]


class PatrolIn(BaseModel):
    """One patrol: under way when ``ended_at`` is absent (only on its own, never in a list)."""

    segment: str = Field(max_length=60)
    started_at: datetime
    ended_at: datetime | None = None
    track: dict[str, Any] | None = None
    kind: str | None = None
    notes: str = Field(default="", max_length=2000)


class PatrolEnd(BaseModel):
    """The end of a patrol under way, with its track when the phone kept one."""

    ended_at: datetime
    track: dict[str, Any] | None = None


def patrol_json(view: PatrolView) -> dict[str, Any]:
    """A patrol as the API answers it."""
    return {
        "id": view.id,
        "patroller": {"code": view.patroller, "name": view.patroller_name},
        "segment": {"code": view.segment, "name": view.segment_name},
        "kind": view.kind,
        "kind_label": kind_label(view.kind),
        "pairing": view.pairing_id,
        "started_at": iso(view.started_at),
        "ended_at": iso(view.ended_at),
        "under_way": view.under_way,
        "duration_s": view.duration_s,
        "length_m": view.length_m,
        "issues": view.issues,
    }


def _field(prefix: str, loc: tuple[int | str, ...]) -> str:
    """``[3].ended_at`` for a list's patrol, ``ended_at`` for one on its own; ``[3]`` or ``body`` for the whole."""
    return prefix + ".".join(str(part) for part in loc) if loc else prefix.rstrip(".") or "body"


def _parsed(document: Any, prefix: str = "") -> PatrolIn:
    """One patrol object of the body, each bad field named (``[3].ended_at`` in a list)."""
    try:
        patrol = PatrolIn.model_validate(document)
    except pydantic.ValidationError as exc:
        raise ValidationFailed.of([(_field(prefix, e["loc"]), e["msg"]) for e in exc.errors()]) from None
    errors = [
        (prefix + name, "needs a UTC offset, e.g. 2026-03-05T09:00+08:00")
        for name in API_FIELDS
        if (value := getattr(patrol, name)) is not None and value.tzinfo is None
    ]
    if errors:
        raise ValidationFailed.of(errors)
    return patrol


def _track(document: dict[str, Any] | None) -> Track | None:
    return read_geojson(document) if document is not None else None


def _sniffed(content: bytes) -> str:
    """``.gpx`` or ``.geojson`` by the file's content (not its name or its declared type); 415 for anything else."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") and re.search(rb"<(\w+:)?gpx[\s>]", head):
        return ".gpx"
    if head.startswith(b"{"):
        return ".geojson"
    raise UnsupportedMediaType("file", "is not a GPX or GeoJSON track (judged by its content)")


def router(access: Access) -> APIRouter:
    """The patrol routes."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["patrols"])
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806 (a type alias, named as one)
    Shown = Annotated[Presented, Depends(access.presented)]  # noqa: N806

    def one(uow: UnitOfWork, actor: Actor, patrol_id: int) -> PatrolView:
        """The patrol if the caller may read it; NotFound otherwise."""
        with uow:
            found = list_patrols(uow.connection, ids=[patrol_id], limit=1)
        if not found or found[0].scope is None or not may_read(actor, found[0].scope):
            raise NotFound("patrol", patrol_id)
        return found[0]

    @api.post("/patrols", status_code=201, response_model=Any)
    async def create(
        uow: Unit,
        shown: Shown,
        request: Request,
        body: Annotated[
            Any, Body(description=f"one patrol object, or a list of up to {BATCH_MAX} ended ones (all or nothing)")
        ],
    ) -> Response:
        """Start a patrol (no ``ended_at``), record an ended one, or record a list of ended ones at once.

        A list is recorded whole or not at all; each refusal names the patrol's index (``[3].ended_at``).
        With an ``Idempotency-Key``, the same request sent again gets the first answer and records nothing more.
        """

        def made(actor: Actor) -> Any:
            if isinstance(body, list):
                if not body:
                    raise ValidationFailed("body", "holds no patrol")
                if len(body) > BATCH_MAX:
                    raise ValidationFailed("body", f"holds {len(body)} patrols; send at most {BATCH_MAX} at once")
                items: list[PatrolItem] = []
                errors: list[tuple[str, str]] = []
                for i, document in enumerate(body):
                    try:
                        patrol = _parsed(document, f"[{i}].")
                        if patrol.ended_at is None:
                            raise ValidationFailed(
                                f"[{i}].ended_at", "is required in a list: start a patrol under way on its own"
                            )
                        items.append(
                            PatrolItem(
                                patrol.segment,
                                patrol.started_at,
                                patrol.ended_at,
                                _track(patrol.track) if patrol.track is not None else None,
                                patrol.kind,
                                patrol.notes,
                            )
                        )
                    except ValidationFailed as exc:
                        errors.extend(exc.errors if exc.field.startswith("[") else indexed(i, exc.errors))
                if errors:
                    raise ValidationFailed.of(errors)

                def make_many() -> dict[str, Any]:
                    ids = [r.id for r in record_patrols(uow, actor, items)]
                    with uow:
                        views = {v.id: v for v in list_patrols(uow.connection, ids=ids, limit=len(ids))}
                    return {"items": [patrol_json(views[pid]) for pid in ids]}

                return once(uow, actor, request, body, make_many)
            patrol = _parsed(body)

            def make() -> dict[str, Any]:
                if patrol.ended_at is None:
                    if patrol.track is not None:
                        raise ValidationFailed("track", "comes with ended_at: a patrol under way has no track yet")
                    done = start_patrol(uow, actor, patrol.segment, patrol.started_at, patrol.kind, patrol.notes)
                else:
                    done = record_patrol(
                        uow,
                        actor,
                        patrol.segment,
                        started_at=patrol.started_at,
                        ended_at=patrol.ended_at,
                        track=_track(patrol.track),
                        kind=patrol.kind,
                        notes=patrol.notes,
                        fields=API_FIELDS,
                    )
                return patrol_json(one(uow, actor, done.id))

            return once(uow, actor, request, body, make)

        return await access.answer(uow, shown, made, status_code=201)

    @api.post("/patrols/upload", status_code=201, response_model=Any)
    async def upload(
        uow: Unit,
        shown: Shown,
        request: Request,
        file: Annotated[UploadFile, File(description="a GPX or GeoJSON track with times")],
        segment: Annotated[str, Form(max_length=60)],
        kind: Annotated[str | None, Form()] = None,
        notes: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Record an ended patrol timed by its track's first and last times.

        413 if the file is over the upload limit, 415 if it is neither GPX nor GeoJSON (judged by its content).
        """
        limit = wired.settings.upload_max_bytes
        content = await file.read(limit + 1)

        def made(actor: Actor) -> Any:
            if len(content) > limit:
                raise TooLarge("file", f"is over the upload limit of {readable_size(limit)}")
            suffix = _sniffed(content)
            body = {"segment": segment, "kind": kind, "notes": notes, "file": hashlib.sha256(content).hexdigest()}

            def make() -> dict[str, Any]:
                try:
                    track = parse_track(content, f"{file.filename or 'track'}{suffix}"[-200:])
                    done = record_patrol(
                        uow, actor, segment, track=track, kind=kind or None, notes=notes, fields=("file", "file")
                    )
                except ValidationFailed as exc:
                    raise ValidationFailed.of([("file" if f == "track" else f, r) for f, r in exc.errors]) from None
                return patrol_json(one(uow, actor, done.id))

            return once(uow, actor, request, body, make)

        return await access.answer(uow, shown, made, status_code=201)

    @api.post("/patrols/{patrol_id}/end", response_model=Any)
    async def end(uow: Unit, shown: Shown, request: Request, patrol_id: PatrolId, body: PatrolEnd) -> Response:
        """End a patrol under way, as its patroller: 409 if it has ended already."""

        def ended(actor: Actor) -> Any:
            if body.ended_at.tzinfo is None:
                raise ValidationFailed("ended_at", "needs a UTC offset, e.g. 2026-03-05T11:00+08:00")

            def make() -> dict[str, Any]:
                end_patrol(uow, actor, patrol_id, body.ended_at, _track(body.track))
                return patrol_json(one(uow, actor, patrol_id))

            return once(uow, actor, request, body, make, status=200)

        return await access.answer(uow, shown, ended)

    @api.get("/patrols", response_model=dict[str, Any])
    async def patrols(
        uow: Unit,
        shown: Shown,
        person: Annotated[
            str | None, Query(max_length=60, description="a patroller's code; default the caller")
        ] = None,
        month: Annotated[str | None, Query(description="2026-03")] = None,
        under_way: Annotated[bool | None, Query(description="true: under way only; false: ended only")] = None,
        limit: int = 100,
    ) -> Response:
        """Patrols, newest first: the caller's own, or another person's that the caller may read."""

        def listed(actor: Actor) -> dict[str, Any]:
            errors: list[tuple[str, str]] = []
            if not 1 <= limit <= LIST_MAX:
                errors.append(("limit", f"must be from 1 to {LIST_MAX}"))
            if month is not None:
                try:
                    parse_month(month)
                except ValidationFailed as exc:
                    errors.extend(exc.errors)
            if errors:
                raise ValidationFailed.of(errors)
            with uow:
                rows = list_patrols(
                    uow.connection, person=person or actor.code, month=month, under_way=under_way, limit=limit
                )
            return {"items": [patrol_json(v) for v in rows if v.scope is not None and may_read(actor, v.scope)]}

        return await access.answer(uow, shown, listed)

    @api.get("/patrols/segments", response_model=dict[str, Any])
    async def segments(uow: Unit, shown: Shown) -> Response:
        """The segments the caller may patrol today: their own (routine), a neighbour's under a live pairing (swap)."""

        def listed(actor: Actor) -> dict[str, Any]:
            with uow:
                found = patrollable(uow.connection, actor, local_today(wired.clock.now()))
            return {
                "items": [
                    {
                        "code": s.code,
                        "name": s.name,
                        "jurisdiction": {"code": s.jurisdiction, "name": s.jurisdiction_name},
                        "kind": s.kind,
                        "kind_label": kind_label(s.kind),
                        "pairing": s.pairing_id,
                        "geometry": {"type": "LineString", "coordinates": s.geometry} if s.geometry else None,
                    }
                    for s in found
                ]
            }

        return await access.answer(uow, shown, listed)

    @api.get("/patrols/{patrol_id}", response_model=dict[str, Any])
    async def patrol(uow: Unit, shown: Shown, patrol_id: PatrolId) -> Response:
        """One patrol with its track (GeoJSON, or null); 404 when it is not the caller's to see."""

        def read(actor: Actor) -> dict[str, Any]:
            view = one(uow, actor, patrol_id)
            with uow:
                track = patrol_track(uow.connection, patrol_id)
            return {**patrol_json(view), "track": track}

        return await access.answer(uow, shown, read)

    return api
