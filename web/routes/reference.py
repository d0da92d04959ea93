"""Reference data: jurisdictions, compacts, rivers, segments and people, and the admin's changes to them.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from web.access import DB_INT_MAX, Access, compacts_of, one_of
from workflow.core.actors import Actor
from workflow.core.errors import NotFound, NotPermitted, TooLarge, UnsupportedMediaType, ValidationFailed
from workflow.core.reference import Level, Role, load, parse_text, update_person
from workflow.core.uow import UnitOfWork
from workflow.reading.directory import (
    CompactRow,
    JurisdictionRow,
    PersonRow,
    RiverRow,
    SegmentRow,
    compact_rows,
    jurisdiction_rows,
    person_rows,
    river_rows,
    segment_rows,
)

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
FORMATS = {
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
}


def _jurisdiction(j: JurisdictionRow) -> dict[str, Any]:
    return {"code": j.code, "name": j.name, "level": j.level, "parent": j.parent, "path": j.path}


def _compact(c: CompactRow) -> dict[str, Any]:
    def named(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"code": code, "name": name} for code, name in pairs]

    return {
        "code": c.code,
        "name": c.name,
        "members": named(c.members),
        "coordinators": named(c.coordinators),
        "auditors": named(c.auditors),
    }


def _river(r: RiverRow) -> dict[str, Any]:
    return {"code": r.code, "name": r.name, "segments": r.segments}


def _segment(s: SegmentRow) -> dict[str, Any]:
    return {
        "code": s.code,
        "name": s.name,
        "river": s.river,
        "jurisdiction": s.jurisdiction,
        "chief": s.chief,
        "counterpart": s.counterpart,
        "relation": s.relation,
        "length_km": s.length_km,
        "geometry": {"type": "LineString", "coordinates": s.geometry} if s.geometry else None,
    }


def sees_contacts(actor: Actor, person: PersonRow) -> bool:
    """Whether the caller may read how to reach the person: themselves, an admin, or a coordinator of their compact."""
    return actor.id == person.id or actor.role == "admin" or bool(actor.coordinates & person.compacts)


def _contacts(contacts: dict[str, Any]) -> dict[str, Any]:
    # A robot's signing secret is a credential: it is loaded, never read back.
    shown = dict(contacts)
    robot = shown.get("dingtalk")
    if isinstance(robot, dict):
        shown["dingtalk"] = {"url": robot.get("url"), "signed": bool(robot.get("secret"))}
    return shown


def _person(p: PersonRow, actor: Actor) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "code": p.code,
        "name": p.name,
        "role": p.role,
        "jurisdiction": p.jurisdiction,
        "organisation": p.organisation,
        "title": p.title,
        "active": p.active,
    }
    if sees_contacts(actor, p):
        shown.update(email=p.email, phone=p.phone, channels=p.channels, contacts=_contacts(p.contacts))
    return shown


def _only_admin(actor: Actor, what: str) -> None:
    if actor.role != "admin":
        raise NotPermitted(actor.code, what, ["admin"], [actor.role])


def router(access: Access) -> APIRouter:
    """The reference-data routes."""
    # Reference data is for any signed-in caller: every route needs a token, even those that need no more.
    api = APIRouter(prefix="/api/v1", tags=["reference"], dependencies=[Depends(access.caller)])
    Caller = Annotated[Actor, Depends(access.caller)]  # noqa: N806 (a type alias, named as one)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806

    def known_jurisdiction(uow: UnitOfWork, field: str, code: str | None) -> None:
        if code is None:
            return
        with uow:
            if not jurisdiction_rows(uow.connection, code=code):
                raise ValidationFailed(field, f"no jurisdiction with code {code!r}")

    @api.get("/jurisdictions")
    def jurisdictions(uow: Unit, parent: str | None = None, level: str | None = None) -> list[dict[str, Any]]:
        """Jurisdictions in tree order: the children of ``parent``, or those of a ``level``."""
        one_of("level", level, get_args(Level))
        known_jurisdiction(uow, "parent", parent)
        with uow:
            return [_jurisdiction(j) for j in jurisdiction_rows(uow.connection, parent=parent, level=level)]

    @api.get("/jurisdictions/{code}")
    def jurisdiction(uow: Unit, code: str) -> dict[str, Any]:
        """One jurisdiction, with its parent and its path from the root."""
        with uow:
            found = jurisdiction_rows(uow.connection, code=code)
        if not found:
            raise NotFound("jurisdiction", code)
        return _jurisdiction(found[0])

    @api.get("/compacts")
    def compacts(uow: Unit) -> list[dict[str, Any]]:
        """Every compact with its members and staff."""
        with uow:
            return [_compact(c) for c in compact_rows(uow.connection)]

    @api.get("/compacts/{code}")
    def compact(uow: Unit, code: str) -> dict[str, Any]:
        """One compact with its members and staff."""
        with uow:
            found = compact_rows(uow.connection, code=code)
        if not found:
            raise NotFound("compact", code)
        return _compact(found[0])

    @api.get("/rivers")
    def rivers(uow: Unit) -> list[dict[str, Any]]:
        """Every river with its segments' codes."""
        with uow:
            return [_river(r) for r in river_rows(uow.connection)]

    @api.get("/rivers/{code}")
    def river(uow: Unit, code: str) -> dict[str, Any]:
        """One river with its segments' codes."""
        with uow:
            found = river_rows(uow.connection, code=code)
        if not found:
            raise NotFound("river", code)
        return _river(found[0])

    @api.get("/segments")
    def segments(uow: Unit, river: str | None = None, jurisdiction: str | None = None) -> list[dict[str, Any]]:
        """Segments, of a river or of a jurisdiction and those under it; the course as a GeoJSON LineString."""
        known_jurisdiction(uow, "jurisdiction", jurisdiction)
        with uow:
            if river is not None and not river_rows(uow.connection, code=river):
                raise ValidationFailed("river", f"no river with code {river!r}")
            return [_segment(s) for s in segment_rows(uow.connection, river=river, jurisdiction=jurisdiction)]

    @api.get("/segments/{code}")
    def segment(uow: Unit, code: str) -> dict[str, Any]:
        """One segment; its course as a GeoJSON LineString ([lon, lat], WGS 84)."""
        with uow:
            found = segment_rows(uow.connection, code=code)
        if not found:
            raise NotFound("segment", code)
        return _segment(found[0])

    @api.get("/people")
    def people(
        uow: Unit,
        actor: Caller,
        role: str | None = None,
        jurisdiction: str | None = None,
        limit: Annotated[int, Query(ge=1, le=2000)] = 500,
        offset: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
    ) -> list[dict[str, Any]]:
        """People of the caller's compacts (everyone, to an admin); contacts only to those who may reach them."""
        one_of("role", role, get_args(Role))
        known_jurisdiction(uow, "jurisdiction", jurisdiction)
        within = None if actor.role == "admin" else compacts_of(actor)
        with uow:
            rows = person_rows(uow.connection, within=within, role=role, under=jurisdiction, limit=limit, offset=offset)
        return [_person(p, actor) for p in rows]

    @api.get("/people/{code}")
    def person(uow: Unit, code: str, actor: Caller) -> dict[str, Any]:
        """One person of the caller's compacts (or the caller); contacts only to those who may reach them."""
        within = None if actor.role == "admin" or code == actor.code else compacts_of(actor)
        with uow:
            found = person_rows(uow.connection, code=code, within=within)
        if not found:
            raise NotFound("person", code)
        return _person(found[0], actor)

    @api.post("/admin/reference")
    async def load_reference(uow: Unit, request: Request, actor: Caller) -> dict[str, int]:
        """Load a reference document (as ``riverchief load`` does) in one transaction; admins only."""
        _only_admin(actor, "load reference data")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fmt = FORMATS.get(media)
        if fmt is None:
            raise UnsupportedMediaType(
                "content-type", f"{media or '(none)'} is not read here: send application/json or application/yaml"
            )
        too_large = TooLarge("body", f"the document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
            raise too_large
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                raise too_large
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("body", f"is not UTF-8 text (byte {exc.start})") from exc

        def parse_and_load() -> dict[str, int]:
            return load(uow, parse_text(text, "json" if fmt == "json" else "yaml"))

        return await run_in_threadpool(parse_and_load)

    @api.patch("/admin/people/{code}")
    def change_person(
        uow: Unit, code: str, actor: Caller, changes: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        """Deactivate or reactivate a person, or change their role or jurisdiction; admins only."""
        _only_admin(actor, "change people")
        update_person(uow, code, changes)
        with uow:
            return _person(person_rows(uow.connection, code=code)[0], actor)

    return api
