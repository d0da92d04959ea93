"""A boundary chief's patrols on a phone: my patrols against my quota, start one (my segment or, under a live
swap pairing, the neighbour's), walk it recording the track, report what it finds from inside it, stop it;
upload a track afterwards. The walking page's script talks to the patrol API (web/static/patrol.js).

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import math
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from states import CHART
from states.policy import CATEGORIES
from web.access import Access, compacts_of
from web.pages.deps import Posted, Viewer
from web.pages.maps import Shape, draw, shapes_of_geojson
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.models import Compact, Issue, Jurisdiction, Patrol, PatrolIssue, Segment, table_of
from workflow.patrols.basics import KINDS, MAX_TRACK_BYTES, percent
from workflow.patrols.completion import ChiefCompletion, completion
from workflow.patrols.records import record_patrol, start_patrol
from workflow.patrols.tracks import parse_track
from workflow.patrols.views import Patrollable, PatrolView, list_patrols, may_read, patrol_track, patrollable

_patrol = table_of(Patrol)
_link = table_of(PatrolIssue)
_issue = table_of(Issue)
_segment = table_of(Segment)
_juris = table_of(Jurisdiction)
_compact = table_of(Compact)

LIST_LIMIT = 60


def my_completion(conn: sa.Connection, person: str, compact_ids: frozenset[int], today: date) -> ChiefCompletion | None:
    """This month's assessment of one chief against their quota; None when no quota applies.

    The one place the pages ask the completion module (it is growing quarters and years).
    """
    found = completion(conn, today.strftime("%Y-%m"), min(compact_ids) if compact_ids else None)
    return next((c for c in found.chiefs if c.person == person and c.required), None)


def duration_text(view: Viewer, seconds: int | None) -> str:
    """3725 → 1 小时 2 分; a blank for none."""
    if seconds is None:
        return "—"
    hours, minutes = divmod(round(seconds / 60), 60)
    return view.t("duration_hm", h=hours, m=minutes) if hours else view.t("duration_m", m=minutes)


def length_text(view: Viewer, metres: int | None) -> str:
    """2345 → 2.3 公里; a blank for none."""
    return "—" if metres is None else view.t("length_km", km=f"{metres / 1000:.1f}")


def _segment_of(conn: sa.Connection, code: str) -> Any:
    """The patrolled segment's line, and its owner side's name and code."""
    return conn.execute(
        sa.select(_segment.c.geometry, _juris.c.name.label("owner"), _juris.c.code.label("owner_code"))
        .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
        .where(_segment.c.code == code)
    ).one()


def _compact_code(conn: sa.Connection, compacts: frozenset[int]) -> str | None:
    """The code of the first of a patrol's compacts (an issue found on it is that compact's)."""
    if not compacts:
        return None
    return conn.execute(sa.select(_compact.c.code).where(_compact.c.id == min(compacts))).scalar()


def _problems(conn: sa.Connection, patrol_id: int) -> list[Any]:
    """The issues reported from a patrol, with the side each went to."""
    return list(
        conn.execute(
            sa.select(_issue.c.code, _issue.c.title, _issue.c.state, _juris.c.name.label("receiving"))
            .join(_link, _link.c.issue_id == _issue.c.id)
            .outerjoin(_juris, _juris.c.id == _issue.c.receiving_jurisdiction_id)
            .where(_link.c.patrol_id == patrol_id)
            .order_by(_issue.c.code)
        ).all()
    )


def router(
    access: Access,
    viewer: Callable[..., Viewer],
    render: Callable[..., HTMLResponse],
    check_csrf: Callable[[Viewer, FormData], None],
) -> APIRouter:
    """The patrol pages."""
    wired = access.wired
    pages = APIRouter(include_in_schema=False)
    Seen = Annotated[Viewer, Depends(viewer)]  # noqa: N806 (a type alias, named as one)

    def kind_label(view: Viewer, kind: str) -> str:
        return view.t(f"kind_{kind}") if kind in KINDS else kind

    def list_context(view: Viewer) -> dict[str, Any]:
        today = local_today(wired.clock.now())
        actor = view.actor
        with view.uow as uow:
            conn = uow.connection
            mine: list[PatrolView] = list_patrols(conn, person=actor.code, limit=LIST_LIMIT)
            choices = patrollable(conn, actor, today)
            done = my_completion(conn, actor.code, compacts_of(actor), today) if actor.role == "chief" else None
        under_way = [p for p in mine if p.ended_at is None]
        return {
            "under_way": under_way,
            "patrols": [p for p in mine if p.ended_at is not None],
            "choices": choices,
            "quota": done,
            "rate": percent(done.rate) if done is not None else None,
            "kind_label": lambda kind: kind_label(view, kind),
            "duration": lambda s: duration_text(view, s),
            "length": lambda m: length_text(view, m),
            "kinds": [(k, view.t(f"kind_{k}")) for k in KINDS],
            "max_mb": MAX_TRACK_BYTES // (1024 * 1024),
        }

    def list_page(
        request: Request,
        view: Viewer,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        flash: tuple[str, str] | None = None,
        form: str | None = None,
    ) -> HTMLResponse:
        context = list_context(view)
        return render(
            request,
            "patrols.html",
            view,
            status,
            errors=errors or {},
            values=values or {},
            flash=flash,
            form=form,
            **context,
        )

    @pages.get("/patrols")
    def my_patrols(request: Request, view: Seen, uploaded: int | None = None) -> HTMLResponse:
        flash = ("ok", view.t("uploaded")) if uploaded else None
        return list_page(request, view, flash=flash)

    @pages.post("/patrols/start")
    async def start(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        segment = str(form.get("segment") or "").strip()
        values = {"segment": segment}
        try:
            patrol_id = await run_in_threadpool(start_now, view, segment)
        except ValidationFailed as exc:
            # Every refusal of a start is about the segment chosen (the start's time is the server's own).
            errors = {"segment": view.t("list_sep").join(view.t.reason(why) for _, why in exc.errors)}
            return list_page(request, view, 422, errors, values, ("bad", view.t("fix_fields")), "start")
        return RedirectResponse(f"/patrols/{patrol_id}", status_code=303)

    def mine(view: Viewer) -> list[Patrollable]:
        """What the viewer may patrol today."""
        with view.uow as uow:
            return patrollable(uow.connection, view.actor, local_today(wired.clock.now()))

    def start_now(view: Viewer, segment: str) -> int:
        """Start a patrol under way now, on a segment the viewer may patrol today (refusals in their words)."""
        now = wired.clock.now()
        if not segment:
            raise ValidationFailed("segment", view.t("pick_segment"))
        choices = mine(view)
        with view.uow as uow:
            going = uow.connection.execute(
                sa.select(_patrol.c.id).where(_patrol.c.patroller_id == view.actor.id, _patrol.c.ended_at.is_(None))
            ).first()
        if segment not in {c.code for c in choices}:
            raise ValidationFailed("segment", view.t("not_your_segment"))
        if going is not None:
            raise ValidationFailed("segment", view.t("already_under_way"))
        return start_patrol(view.uow, view.actor, segment, now).id

    @pages.post("/patrols/upload")
    async def upload(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        values = {k: form.get(k) for k in ("segment", "kind", "notes")}
        file = form.get("file")
        try:
            errors: list[tuple[str, str]] = []
            if not isinstance(file, UploadFile) or not file.filename:
                errors.append(("file", view.t("pick_file")))
            segment = str(values["segment"] or "").strip()
            if not segment:
                errors.append(("segment", view.t("pick_segment")))
            kind = str(values["kind"] or "").strip() or None
            if kind is not None and kind not in KINDS:
                errors.append(("kind", view.t("bad_kind")))
            if segment and kind != "covert" and segment not in {c.code for c in mine(view)}:
                errors.append(("segment", view.t("not_your_segment")))
            if errors:
                raise ValidationFailed.of(errors)
            assert isinstance(file, UploadFile)
            content = await file.read(MAX_TRACK_BYTES + 1)
            if len(content) > MAX_TRACK_BYTES:
                raise ValidationFailed("file", view.t("file_too_big", mb=MAX_TRACK_BYTES // (1024 * 1024)))
            try:
                track = parse_track(content, file.filename or "track")
            except ValidationFailed as exc:
                raise ValidationFailed("file", view.t("track_unreadable", why=view.t.reason(exc.reason))) from exc
            notes = str(values["notes"] or "")
            await run_in_threadpool(
                lambda: record_patrol(view.uow, view.actor, segment, track=track, kind=kind, notes=notes)
            )
        except ValidationFailed as exc:
            # The track's own times are its start and end: a refusal of either is the file's.
            errors_by = {("file" if f in ("start", "end", "track") else f): r for f, r in view.t.errors(exc).items()}
            return list_page(request, view, 422, errors_by, values, ("bad", view.t("fix_fields")), "upload")
        return RedirectResponse("/patrols?uploaded=1", status_code=303)

    # -- one patrol ---------------------------------------------------------------------------

    @pages.get("/patrols/{patrol_id}")
    def patrol_page(request: Request, patrol_id: int, view: Seen) -> HTMLResponse:
        with view.uow as uow:
            conn = uow.connection
            found = list_patrols(conn, ids=[patrol_id], limit=1)
            patrol = found[0] if found else None
            if patrol is None or patrol.scope is None or not may_read(view.actor, patrol.scope):
                return render(request, "message.html", view, 404, message=view.t("not_found"), flash=None)
            segment = _segment_of(conn, patrol.segment)
            track = patrol_track(conn, patrol_id)
            problems = _problems(conn, patrol_id)
            compact = _compact_code(conn, patrol.scope.compacts)
        line = [[p[0], p[1]] for p in segment.geometry or []]
        shapes: list[Shape] = []
        if line:
            shapes.append(Shape("line", [[(p[0], p[1]) for p in line]], "segment", patrol.segment_name))
        # The map is framed on the track walked, the segment drawn around it.
        walked = shapes_of_geojson(_geometry(track), "track", view.t("track_title")) if track else []
        shapes += walked
        walking = patrol.under_way and patrol.patroller == view.actor.code
        return render(
            request,
            "patrol.html",
            view,
            patrol=patrol,
            owner=segment.owner,
            track=track,
            walking=walking,
            problems=problems,
            compact=compact,
            drawing=draw(shapes, width=360, margin=0.2, frame=walked or None) if shapes else None,
            segment_line=line,
            # The walk's times are kept on the server's clock, from the start's millisecond on.
            started_ms=math.ceil(patrol.started_at.timestamp() * 1000),
            now_ms=math.floor(wired.clock.now().timestamp() * 1000),
            kind_label=kind_label(view, patrol.kind),
            duration=duration_text(view, patrol.duration_s),
            length=length_text(view, patrol.length_m),
            categories=[(c.code, c.label_zh if view.t.zh else c.label_en) for c in CATEGORIES.values()],
            state_label=lambda s: CHART.state(s).label_zh if view.t.zh else CHART.state(s).label_en,
            local=lambda at: at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at else "—",
            max_bytes=wired.settings.upload_max_bytes,
            flash=None,
        )

    return pages


def _geometry(track: dict[str, Any]) -> dict[str, Any]:
    """A stored track's geometry (a Feature's, or the geometry itself)."""
    inner = track.get("geometry")
    return inner if isinstance(inner, dict) else track
