"""The pages: sign in, my queue, report a problem, an issue with its actions, and each role's desk.

Forms post back to the pages (they work without script); every change goes
through ``workflow.core.services`` exactly as the API's do, so refusals come back
as the same errors and are shown beside the field they name.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import hmac
import json
import logging
from collections.abc import Collection, Sequence
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from states import CHART, TABLE, Party
from states.chart import SERVICE_TRIGGERS, FieldKind, phase_of
from states.policy import CATEGORIES
from states.words import LANGUAGES
from web.access import CSRF_FIELD, SESSION_COOKIE, Access, compacts_of
from web.pages import LANG_COOKIE, TEMPLATES, enforcement, language, patrols, revisits, watershed, workbench
from web.pages.deps import Posted, Viewer
from web.pages.maps import Shape, draw
from web.pages.text import Text
from web.pages.watershed import MAP_LAYERS, frame_shape, map_shapes, neighbourhood
from web.security import client_address
from workflow.accounts.signin import SESSION_LIFETIME, login, logout, session_for
from workflow.core.actors import parties
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.deadlines import due_texts, unknown_deadline_years
from workflow.core.errors import (
    Conflict,
    CsrfRefused,
    InvalidTransition,
    NotFound,
    NotPermitted,
    Throttled,
    Unauthenticated,
    ValidationFailed,
    WorkflowError,
)
from workflow.core.evidence import Stored, Upload, add_files, bare_name, examine, photos
from workflow.core.models import Compact, CompactMember, Jurisdiction, Segment, table_of
from workflow.core.payload import load_json
from workflow.core.reference import load, parse_text
from workflow.core.services import IssueDraft, apply, not_yet, report_issue
from workflow.core.uow import UnitOfWork
from workflow.maps.layers import import_geojson
from workflow.maps.router import CachedRouter
from workflow.maps.shared import frame_of_compacts
from workflow.patrols.completion import district_figures
from workflow.patrols.pairings import live_pairing
from workflow.reading.figures import FIGURE_SIDES, stats
from workflow.reading.issues import TimelineEntry
from workflow.reading.nearby import NearbyIssue, duplicate_links, nearby_open
from workflow.reading.records import report_rows
from workflow.reading.worklist import DUE_SOON_WORKING_DAYS, open_issues, queue

ADMIN_MAX_BYTES = 20 * 1024 * 1024
STALE_FORM = "表单已过期，请刷新页面后重试 (the form's CSRF token is missing or stale; reload the page)"
# The overdue issues the dashboard names for each late party before saying how many there are in all.
LATE_LISTED = 8


def late_parties(parties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dashboard's rows of late parties: one per jurisdiction, late as the side that found an issue or as the
    side that received one (``overdue_parties`` keeps the two apart: one town had two rows of the same name),
    the most overdue first (a province's compact has dozens, some late on dozens of issues)."""
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    for p in parties:
        key = ("place", p["jurisdiction_id"]) if p["jurisdiction_id"] is not None else ("party", p["party"])
        if key in rows:
            rows[key] = {**rows[key], "issues": sorted({*rows[key]["issues"], *p["issues"]})}
        else:
            rows[key] = p
    return sorted(rows.values(), key=lambda p: -len(p["issues"]))


ROLE_HOME = {"chief": "/queue", "office": "/queue", "coordinator": "/dashboard", "auditor": "/revisits"}
# Why a photo checked as fit still failed to be added: each a catalogue key ``why_<code>``.
WHY_NOT_ADDED = ("stale", "forbidden", "refused", "not_stored")
ISSUE_MAP_WIDTH = 360  # the issue page's small map, in the SVG's units
REPORT_MAP_WIDTH = 480  # the report form's map to tap a place on

log = logging.getLogger(__name__)

_jurisdiction = table_of(Jurisdiction)
CODE_LENGTH = 20  # a jurisdiction's code is no longer (Jurisdiction.code's max_length)
_segment = table_of(Segment)
_member = table_of(CompactMember)
_compact = table_of(Compact)
_MEMBER = _jurisdiction.alias("member")
# A compact's places: its members and every jurisdiction under one (paths hold digits and slashes only), by path;
# built once, as every issue page asks.
_PLACES = (
    sa.select(_jurisdiction.c.code, _jurisdiction.c.name)
    .where(
        sa.exists()
        .where(_member.c.compact_id == sa.bindparam("compact_id"), _member.c.jurisdiction_id == _MEMBER.c.id)
        .where(_jurisdiction.c.path.startswith(_MEMBER.c.path))
    )
    .order_by(_jurisdiction.c.path)
)
_NAMED_PLACES = _PLACES.where(_jurisdiction.c.code.in_(sa.bindparam("codes", expanding=True)))


class LoginRequired(Exception):
    """Raised by a page dependency when nobody is signed in; the app answers with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def login_redirect(_request: Request, exc: Exception) -> Response:
    """The answer to LoginRequired: back to the sign-in page, then on to where the person was going."""
    target = exc.next_url if isinstance(exc, LoginRequired) else "/"
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def frame_of(shapes: list[Shape], pad: float = 0.02) -> tuple[float, float, float, float]:
    """The bounding box (west, south, east, north) of some shapes, widened by ``pad`` degrees."""
    points = [p for shape in shapes for part in shape.parts for p in part]
    return (
        min(p[0] for p in points) - pad,
        min(p[1] for p in points) - pad,
        max(p[0] for p in points) + pad,
        max(p[1] for p in points) + pad,
    )


def safe_next(value: str | None) -> str:
    """A same-site path to go on to after signing in; anything else goes home."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def router(access: Access) -> APIRouter:
    """The page routes (not part of the API's schema)."""
    wired = access.wired
    pages = APIRouter(include_in_schema=False)
    templates = Jinja2Templates(directory=TEMPLATES)
    routers = CachedRouter()

    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806 (a type alias, named as one)

    def viewer(request: Request, uow: Unit) -> Viewer:
        cookie = request.cookies.get(SESSION_COOKIE)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not cookie:
            raise LoginRequired(target)
        try:
            signed_in = session_for(uow, cookie, wired.clock.now(), stamp=wired.uow)
        except Unauthenticated as exc:
            raise LoginRequired(target) from exc
        return Viewer(signed_in.actor, signed_in, signed_in.profile, Text(language(request)), uow)

    Seen = Annotated[Viewer, Depends(viewer)]  # noqa: N806 (a type alias, named as one)
    # The dashboard's and the map's reads, which may lag a moment: on the read replica when one is set.
    Replica = Annotated[UnitOfWork, Depends(access.replica)]  # noqa: N806

    def render(request: Request, name: str, view: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
        t = view.t if view else Text(language(request))
        return templates.TemplateResponse(
            request,
            name,
            {"t": t, "view": view, "chart": CHART, "path": request.url.path, "tz": SHANGHAI, **context},
            status_code=status,
        )

    def calendar_gaps(view: Viewer, uow: UnitOfWork) -> dict[str, Any]:
        """For admins and coordinators: the years pending deadlines run into that the calendar does not know."""
        if view.actor.role != "admin" and not view.actor.coordinates:
            return {}
        unknown = unknown_deadline_years(uow.connection, wired.calendar, wired.clock.now())
        count = sum(sum(by_compact.values()) for by_compact in unknown.values())
        return {"calendar_gaps": list(unknown), "calendar_gap_count": count}

    def check_csrf(view: Viewer, form: FormData) -> None:
        token = form.get(CSRF_FIELD)
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), view.csrf.encode()):
            raise CsrfRefused(STALE_FORM)

    def render_issue(
        request: Request,
        view: Viewer,
        status: int,
        context: dict[str, Any],
        flash: tuple[str, str] | None = None,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        open_form: str | None = None,
    ) -> HTMLResponse:
        extra = {"flash": flash, "errors": errors or {}, "values": values or {}, "open_form": open_form}
        return render(request, "issue.html", view, status, **extra, **context)

    def due_text(view: Viewer, due_at: datetime | None) -> str | None:
        zh, en = due_texts(wired.calendar, due_at, wired.clock.now())
        return zh if view.t.zh else en

    # The workbench first: its /issues/export.csv must not be taken for an issue's code.
    pages.include_router(workbench.router(access, viewer, render, check_csrf))
    pages.include_router(enforcement.router(access, viewer, render, check_csrf))
    pages.include_router(patrols.router(access, viewer, render, check_csrf))
    pages.include_router(watershed.router(access, viewer, render))

    # -- signing in and out, language ---------------------------------------------------------

    @pages.get("/login")
    def login_page(request: Request, next: str | None = None) -> HTMLResponse:
        return render(request, "login.html", None, next=safe_next(next), error=None, person="")

    @pages.post("/login")
    async def sign_in(request: Request, form: Posted) -> Response:
        person = str(form.get("person") or "").strip()
        password = str(form.get("password") or "")
        target = safe_next(str(form.get("next") or "/"))
        t = Text(language(request))
        try:
            token, _, _ = await run_in_threadpool(
                login,
                wired.uow(),
                person,
                password,
                client_address(request, wired.settings.trusted_proxies),
                request.headers.get("user-agent"),
                wired.clock.now(),
            )
        except Throttled as exc:
            return render(request, "login.html", None, 429, next=target, error=t.refusal(exc), person=person)
        except (Unauthenticated, ValidationFailed):
            return render(request, "login.html", None, 401, next=target, error=t("login_failed"), person=person)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path="/",
            secure=request.url.scheme == "https" or wired.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    @pages.post("/logout")
    async def sign_out(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        await run_in_threadpool(logout, view.uow, cookie, wired.clock.now())
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @pages.get("/lang/{lang}")
    def switch_language(lang: str, next: str | None = None) -> Response:
        response = RedirectResponse(safe_next(next), status_code=303)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="lax")
        return response

    @pages.get("/")
    def home(view: Seen) -> Response:
        return RedirectResponse(ROLE_HOME.get(view.actor.role, "/map"), status_code=303)

    # -- my queue ---------------------------------------------------------------------------

    @pages.get("/queue")
    def my_queue(request: Request, view: Seen) -> HTMLResponse:
        now = wired.clock.now()
        with view.uow as uow:
            items = open_issues(uow.connection, view.actor)
        mine = queue(items, now=now, soon=wired.calendar.due_after(now, DUE_SOON_WORKING_DAYS))
        return render(request, "queue.html", view, queue=mine, due_text=lambda d: due_text(view, d), now=now)

    # -- one issue --------------------------------------------------------------------------

    def issue_context(view: Viewer, code: str) -> dict[str, Any]:
        issue, scope = access.readable(view.uow, view.actor, code)
        held = parties(view.actor, scope.compact_id, scope.reporting_path, scope.receiving_path)
        actions = []
        for trigger in issue.allowed:
            transition = TABLE[(issue.state, trigger)]
            if trigger in SERVICE_TRIGGERS or not held & transition.parties or transition.parties == {Party.SYSTEM}:
                continue
            actions.append(transition)
        # What this person may do but not yet (a signature or a clean revisit is missing): said, not offered.
        blocked = not_yet(view.uow, code, view.actor, [a.trigger for a in actions])
        actions = [a for a in actions if a.trigger not in blocked]
        # A revisit's outcome has a form of its own, with the photos taken on site (web.pages.revisits).
        outcomes = [a.trigger for a in actions if a.trigger in revisits.OUTCOMES]
        actions = [a for a in actions if a.trigger not in revisits.OUTCOMES]
        row = issue  # its id, place and segment came with it
        with view.uow as uow:
            original, duplicates = duplicate_links(uow.connection, row.id)
            candidates: list[NearbyIssue] = []
            if row.lon is not None and row.lat is not None and any(a.trigger == "mark_duplicate" for a in actions):
                # The open issues of its kind near it: those it most likely repeats, to pick as the original.
                on = uow.connection.execute(sa.select(_segment.c.code).where(_segment.c.id == row.segment_id)).scalar()
                candidates = nearby_open(
                    uow.connection,
                    row.compact_id,
                    row.lon,
                    row.lat,
                    issue.category,
                    on,
                    now=wired.clock.now(),
                    exclude=code,
                )
            files = photos(uow.connection, row.id)
            today = local_today(wired.clock.now())
            revisit = revisits.form_context(uow.connection, row.id, outcomes, view.t, today) if outcomes else None
            segment = None
            if row.segment_id is not None:
                segment = uow.connection.execute(
                    sa.select(_segment.c.name, _segment.c.geometry).where(_segment.c.id == row.segment_id)
                ).first()
            # The compact's places as options only for a form that picks one; else only those the timeline names.
            offered = any(f.kind == FieldKind.JURISDICTION for a in actions for f in a.fields)
            named = None if offered else payload_codes(issue.timeline)
            choices = jurisdiction_choices(uow.connection, row.compact_id, named)
            proposed = None
            if any(a.trigger == "hand_off" for a in actions):
                proposed = proposed_receiving(uow.connection, scope.reporting_path, row.segment_id, row.lon, row.lat)
        focus: list[Shape] = []
        if segment is not None and segment.geometry:
            focus.append(Shape("line", [[(p[0], p[1]) for p in segment.geometry]], "segment", segment.name))
        if row.lon is not None and row.lat is not None:
            focus.append(Shape("point", [[(row.lon, row.lat)]], "issue", issue.title))
        drawing = None
        if focus:
            # The neighbourhood: the areas and lines around the issue, drawn under it and clipped to its frame.
            with view.uow as uow:
                drawing = neighbourhood(uow.connection, focus, frame_of(focus), ISSUE_MAP_WIDTH)
        return {
            "issue": issue,
            "state_label": view.t.state(issue.state),
            "phase": phase_of(issue.state),
            "held": held,
            "actions": actions,
            "revisit": revisit,
            "blocked": blocked,
            "files": files,
            "segment_name": segment.name if segment else None,
            "drawing": drawing,
            "due": due_text(view, issue.due_at),
            "overdue": issue.due_at is not None and issue.due_at < wired.clock.now(),
            "checklist": CATEGORIES[issue.category].checklist if issue.category in CATEGORIES else (),
            "category_label": view.t.category(issue.category),
            "jurisdictions": choices,
            "names": dict(choices),
            "proposed": proposed,
            "field_kinds": FieldKind,
            "today": local_today(wired.clock.now()).isoformat(),
            "tz": SHANGHAI,
            "place": revisits.place_text,
            "max_bytes": wired.settings.upload_max_bytes,
            "refused_photos": [],
            "enforcement": enforcement.linked_to_issue(view, code),
            "duplicate_of": original,
            "duplicates": duplicates,
            "candidates": candidates,
        }

    def proposed_receiving(
        conn: sa.Connection, reporting_path: str, segment_id: int | None, lon: float | None, lat: float | None
    ) -> str | None:
        """The side a hand-off most likely goes to: the owner of the segment, else the other side of a border."""
        if segment_id is not None:
            owner = conn.execute(
                sa.select(_jurisdiction.c.code, _jurisdiction.c.path)
                .join(_segment, _segment.c.jurisdiction_id == _jurisdiction.c.id)
                .where(_segment.c.id == segment_id)
            ).first()
            if owner is not None and not owner.path.startswith(reporting_path):
                return str(owner.code)
        if lon is None or lat is None:
            return None
        others = other_sides(conn, routers.get(conn).route(lon, lat).sides, reporting_path)
        return others[0] if others else None

    def other_sides(conn: sa.Connection, sides: tuple[str, ...], own_path: str | None) -> list[str]:
        """The routed sides that are not ``own_path`` nor under it, in the router's order."""
        if not own_path:
            return list(sides)
        paths = dict(
            conn.execute(
                sa.select(_jurisdiction.c.code, _jurisdiction.c.path).where(_jurisdiction.c.code.in_(sides))
            ).all()
        )
        return [code for code in sides if not paths.get(code, "").startswith(own_path)]

    def payload_codes(timeline: Sequence[TimelineEntry]) -> set[str]:
        """The payloads' words that could be a jurisdiction's code (the timeline says such a value by its name)."""
        return {v for e in timeline for v in e.payload.values() if isinstance(v, str) and 0 < len(v) <= CODE_LENGTH}

    def jurisdiction_choices(
        conn: sa.Connection, compact_id: int, only: Collection[str] | None = None
    ) -> list[tuple[str, str]]:
        """The compact's member jurisdictions and everything under them, as (code, name) by path; with ``only``,
        just those of these codes (none asked: nothing read)."""
        if only is None:
            return [(r.code, r.name) for r in conn.execute(_PLACES, {"compact_id": compact_id})]
        if not only:
            return []
        rows = conn.execute(_NAMED_PLACES, {"compact_id": compact_id, "codes": sorted(only)})
        return [(r.code, r.name) for r in rows]

    @pages.get("/issues/{code}")
    def issue_page(
        request: Request,
        code: str,
        view: Seen,
        done: str | None = None,
        refused: Annotated[list[str] | None, Query()] = None,
    ) -> HTMLResponse:
        try:
            context = issue_context(view, code)
        except NotFound:
            return render(request, "message.html", view, 404, message=view.t("not_found"))
        flash = ("ok", view.t("done", what=view.t.trigger(done))) if done in CHART.trigger_names() else None
        # Photos a report could not add once its issue existed, as "why:name" (see ``report``).
        for note in refused or ():
            why, _, name = note.partition(":")
            if why in WHY_NOT_ADDED and name:
                context["refused_photos"].append(view.t("photo_not_added", name=name[:200], why=view.t(f"why_{why}")))
        return render_issue(request, view, 200, context, flash)

    def payload_of(form: FormData, trigger: str, state: str) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        for f in TABLE[(state, trigger)].fields:
            if f.kind == FieldKind.ITEMS:
                items = [str(v) for v in form.getlist(f.name) if str(v)]
                if items or f.required:
                    payload[f.name] = items
                continue
            raw = form.get(f.name)
            value = raw.strip() if isinstance(raw, str) else ""
            if not value and not f.required:
                continue
            if f.kind == FieldKind.PERCENT and value:
                try:
                    payload[f.name] = int(value)
                except ValueError:
                    payload[f.name] = value  # the service names the field and the reason
                continue
            payload[f.name] = value
        return payload

    @pages.post("/issues/{code}/act")
    async def act(request: Request, form: Posted, code: str, view: Seen) -> Response:
        check_csrf(view, form)
        trigger = str(form.get("trigger") or "")
        try:
            expected = int(str(form.get("expected_version") or ""))
        except ValueError:
            expected = -1
        try:
            issue, _ = await run_in_threadpool(access.readable, view.uow, view.actor, code, timeline=False)
        except NotFound:
            return render(request, "message.html", view, 404, message=view.t("not_found"))
        values = {k: form.getlist(k) if len(form.getlist(k)) > 1 else form.get(k) for k in form}
        refused: tuple[int, tuple[str, str], dict[str, str]] | None = None
        if (issue.state, trigger) not in TABLE or expected != issue.version:
            # The page was drawn for another version: whatever the person meant may no longer apply.
            refused = (409, ("warn", view.t("stale")), {})
        else:
            payload = payload_of(form, trigger, issue.state)
            try:
                await run_in_threadpool(apply, view.uow, code, trigger, view.actor, payload, expected)
            except (Conflict, InvalidTransition):
                refused = (409, ("warn", view.t("stale")), {})
            except ValidationFailed as exc:
                refused = (422, refused_flash(view, trigger, issue.state, exc), view.t.errors(exc))
            except NotPermitted:
                refused = (403, ("bad", view.t("forbidden")), {})
        if refused is None:
            return RedirectResponse(f"/issues/{quote(code)}?done={quote(trigger)}", status_code=303)
        # Only a refused step draws the page again, as it now stands, with the person's input kept.
        status, flash, errors = refused
        context = await run_in_threadpool(issue_context, view, code)
        if status == 422:
            return render_issue(request, view, status, context, flash, errors, values, trigger)
        return render_issue(request, view, status, context, flash)

    def refused_flash(view: Viewer, trigger: str, state: str, exc: ValidationFailed) -> tuple[str, str]:
        """What a refused step says above its form: to correct the marked fields, or, for a reason no field
        of the form shows (a guard on the issue as it stands), that reason in the reader's words."""
        shown = {f.name for f in TABLE[(state, trigger)].fields}
        unshown = [view.t.reason(r) for f, r in exc.errors if f not in shown]
        if not unshown:
            return "bad", view.t("fix_fields")
        why = view.t("list_sep").join(unshown)
        return "bad", view.t("not_yet_because", action=view.t.trigger(trigger), why=why)

    @pages.post("/issues/{code}/photos")
    async def add_photos(request: Request, form: Posted, code: str, view: Seen) -> Response:
        check_csrf(view, form)
        try:
            await run_in_threadpool(access.scope, view.uow, view.actor, code)
            uploads = await posted_photos(form, str(form.get("caption") or "") or None)
            refused = await run_in_threadpool(refused_photos, view, uploads)
            if not refused and uploads:
                await run_in_threadpool(store_photos, view, code, uploads)
        except NotFound:
            raise
        except Exception as exc:
            if not isinstance(exc, WorkflowError):
                log.exception("photos for %s were not stored", code)
            why = view.t(f"why_{why_not_added(exc)}")
            context = await run_in_threadpool(issue_context, view, code)
            status = exc.http_status if isinstance(exc, WorkflowError) else 500
            return render_issue(request, view, status, context, ("bad", view.t("photos_not_added", why=why)))
        if refused:
            context = await run_in_threadpool(issue_context, view, code)
            context["refused_photos"] = refused
            return render_issue(request, view, 422, context, ("bad", view.t("photos_none_added")))
        return RedirectResponse(f"/issues/{quote(code)}?done=add_evidence", status_code=303)

    async def posted_photos(form: FormData, caption: str | None) -> list[Upload]:
        """The photos a form sent, each read up to one byte past the limit (enough to know it is over)."""
        limit = wired.settings.upload_max_bytes
        return [
            Upload(await upload.read(limit + 1), upload.filename, caption)
            for upload in form.getlist("photos")
            if isinstance(upload, UploadFile) and upload.filename
        ]

    def refused_photos(view: Viewer, uploads: list[Upload]) -> list[str]:
        """Each photo that cannot be evidence, named with its reasons in the viewer's words."""
        refused = []
        for upload in uploads:
            _, refusals = examine(
                upload.content, upload.filename, caption=upload.caption, max_bytes=wired.settings.upload_max_bytes
            )
            if refusals:
                why = view.t("list_sep").join(view.t(f"refused_{r.code}", **dict(r.values)) for r in refusals)
                refused.append(view.t("photo_refused", name=bare_name(upload.filename) or upload.filename, why=why))
        return refused

    def store_photos(view: Viewer, code: str, uploads: list[Upload]) -> list[Stored]:
        """Photos checked as fit, added to the issue as evidence (one already on it is not added again)."""
        return add_files(
            view.uow,
            code,
            view.actor,
            uploads,
            wired.settings.data_dir,
            max_bytes=wired.settings.upload_max_bytes,
        )

    def why_not_added(exc: BaseException) -> str:
        """The catalogue's reason for photos checked as fit that still were not added."""
        if isinstance(exc, Conflict | InvalidTransition):
            return "stale"
        if isinstance(exc, NotPermitted):
            return "forbidden"
        return "refused" if isinstance(exc, ValidationFailed) else "not_stored"

    def redraw_issue(
        request: Request,
        view: Viewer,
        status: int,
        code: str,
        flash: tuple[str, str] | None,
        errors: dict[str, str],
        values: dict[str, Any],
        open_form: str | None,
    ) -> HTMLResponse:
        """The issue page as it now stands, with a refused form's input kept and its reasons beside the fields."""
        return render_issue(request, view, status, issue_context(view, code), flash, errors, values, open_form)

    pages.include_router(
        revisits.router(
            access,
            viewer,
            render,
            check_csrf,
            revisits.IssueForms(redraw_issue, posted_photos, refused_photos, store_photos),
        )
    )

    # -- report a problem -------------------------------------------------------------------

    @pages.get("/route.json")
    def route_point(view: Seen, lon: float, lat: float, segment: str | None = None) -> dict[str, Any]:
        """Where a point on the report form falls: its jurisdiction, nearest segment and the sides near it;
        and the one side a hand-off would go to, from the segment chosen (else the nearest) and the point."""
        with view.uow as uow:
            router = routers.get(uow.connection)
            found = router.route(lon, lat)
            others = other_sides(uow.connection, found.sides, view.actor.jurisdiction_path)
            chosen = segment or found.segment
            segment_id = (
                uow.connection.execute(sa.select(_segment.c.id).where(_segment.c.code == chosen)).scalar()
                if chosen
                else None
            )
            own = view.actor.jurisdiction_path
            receiving: str | None = others[0] if others else None
            if own:
                receiving = proposed_receiving(uow.connection, own, segment_id, lon, lat)
        names = router.jurisdiction_names
        return {
            "jurisdiction": found.jurisdiction,
            "jurisdiction_name": names.get(found.jurisdiction or ""),
            "segment": found.segment,
            "segment_name": router.segment_names.get(found.segment or ""),
            "bank": found.bank,
            "distance_m": None if found.distance_m is None else round(found.distance_m),
            "proposed": [{"code": c, "name": names.get(c, c)} for c in others],
            "receiving": {"code": receiving, "name": names.get(receiving, receiving)} if receiving else None,
        }

    def report_context(view: Viewer) -> dict[str, Any]:
        with view.uow as uow:
            # Only segments in the viewer's compacts: a report on any other is refused.
            member_paths = (
                uow.connection.execute(
                    sa.select(_jurisdiction.c.path)
                    .join(_member, _member.c.jurisdiction_id == _jurisdiction.c.id)
                    .where(_member.c.compact_id.in_(compacts_of(view.actor)))
                )
                .scalars()
                .all()
            )
            segments = (
                uow.connection.execute(
                    sa.select(_segment.c.id, _segment.c.code, _segment.c.name, _jurisdiction.c.name.label("owner"))
                    .join(_jurisdiction, _jurisdiction.c.id == _segment.c.jurisdiction_id)
                    .where(sa.or_(*(_jurisdiction.c.path.startswith(p, autoescape=True) for p in member_paths)))
                    .order_by(_segment.c.code)
                ).all()
                if member_paths
                else []
            )
            today = local_today(wired.clock.now())
            # The neighbour's segments this chief may patrol today, under a live swap pairing (交叉巡河).
            swaps = {
                s.code: view.t("swap_context", segment=s.name, owner=s.owner)
                for s in segments
                if view.actor.id is not None and live_pairing(uow.connection, view.actor.id, s.id, today, today)
            }
            compacts = uow.connection.execute(
                sa.select(_compact.c.code, _compact.c.name).where(_compact.c.id.in_(compacts_of(view.actor)))
            ).all()
            # The map to tap a place on: the compacts the viewer reports to, not the province.
            frame = frame_of_compacts(uow.connection, compacts_of(view.actor))
            shapes, _ = map_shapes(uow.connection, near=frame, pixels=REPORT_MAP_WIDTH)
        return {
            "drawing": draw(shapes, width=REPORT_MAP_WIDTH, frame=[frame_shape(frame)] if frame is not None else None),
            "categories": [(c.code, c.label_zh if view.t.zh else c.label_en) for c in CATEGORIES.values()],
            "segments": [(s.code, s.name) for s in segments],
            "swaps": swaps,
            "compacts": [(c.code, c.name) for c in compacts],
            "max_mb": wired.settings.upload_max_bytes // (1024 * 1024),
            "max_bytes": wired.settings.upload_max_bytes,
        }

    @pages.get("/report")
    def report_page(request: Request, view: Seen) -> HTMLResponse:
        return render(request, "report.html", view, errors={}, values={}, flash=None, **report_context(view))

    @pages.post("/report")
    async def report(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        values = {k: form.get(k) for k in form if k != "photos"}

        def number(name: str) -> float | None:
            raw = str(form.get(name) or "").strip()
            if not raw:
                return None
            try:
                return float(raw)
            except ValueError as exc:
                raise ValidationFailed(name, view.t("not_a_number")) from exc

        try:
            draft = IssueDraft(
                compact=str(form.get("compact") or "QJ"),
                title=str(form.get("title") or "").strip(),
                category=str(form.get("category") or ""),
                description=str(form.get("description") or "").strip(),
                place=str(form.get("place") or "").strip(),
                lon=number("lon"),
                lat=number("lat"),
                segment=str(form.get("segment") or "") or None,
            )
            uploads = await posted_photos(form, None)
            # Every photo is checked before the issue is created, so a refused one creates nothing.
            refused = await run_in_threadpool(refused_photos, view, uploads)
            if refused:
                raise ValidationFailed("photos", view.t("list_sep").join(refused))
            result = await run_in_threadpool(report_issue, view.uow, view.actor, draft)
        except ValidationFailed as exc:
            errors = view.t.errors(exc)
            flash = ("bad", view.t("report_not_sent" if "photos" in errors else "fix_fields"))
            return render(
                request, "report.html", view, 422, errors=errors, values=values, flash=flash, **report_context(view)
            )
        target = f"/issues/{quote(result.issue_code)}?done=report"
        if uploads:
            try:
                await run_in_threadpool(store_photos, view, result.issue_code, uploads)
            except Exception as exc:
                # The issue is reported; what failed after the checks (a concurrent step, the
                # disk) is said on the issue page, with the photos named, instead of a 500.
                if not isinstance(exc, WorkflowError):
                    log.exception("photos for %s were not stored", result.issue_code)
                why = why_not_added(exc)
                target += "".join(f"&refused={quote(f'{why}:{bare_name(u.filename)}')}" for u in uploads)
        return RedirectResponse(target, status_code=303)

    # -- coordinator, auditor, map, reports -------------------------------------------------

    @pages.get("/dashboard")
    def dashboard(request: Request, view: Seen, lagging: Replica) -> HTMLResponse:
        now = wired.clock.now()
        today = local_today(now)
        start = datetime.combine(today.replace(month=1, day=1), time(0), tzinfo=SHANGHAI)
        end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=SHANGHAI)
        boards = []
        with lagging as uow:
            codes = uow.connection.execute(
                sa.select(_compact.c.id, _compact.c.code, _compact.c.name)
                .where(_compact.c.id.in_(compacts_of(view.actor)))
                .order_by(_compact.c.code)
            ).all()
            for compact in codes:
                figures = stats(uow.connection, compact.code, start, end, practice=False)
                # The year's patrols, problems found on them and completion per district: a few statements.
                patrols = district_figures(uow.connection, compact.id, start.date(), end.date())
                late = late_parties(figures.get("overdue_parties") or [])
                boards.append(
                    {"code": compact.code, "name": compact.name, "figures": figures, "patrols": patrols, "late": late}
                )
            items = open_issues(uow.connection, view.actor)
            gaps = calendar_gaps(view, uow)
        blocked = [i for i in items if i.state in ("ban.negotiating", "ban.joint_meeting")]
        waiting = [i for i in items if i.on_me]
        return render(
            request,
            "dashboard.html",
            view,
            boards=boards,
            party_keys=("handed_over", "accepted", "rectified", "closed", "rebounds", "overdue"),
            # Which side of an issue each figure counts for, so the table can say so and link to that list.
            sides_of={k: ("both" if len(v) > 1 else next(iter(v))) for k, v in FIGURE_SIDES.items()}
            | {"overdue": "waited"},
            blocked=blocked,
            waiting=waiting,
            late_listed=LATE_LISTED,
            due_text=lambda d: due_text(view, d),
            now=now,
            **gaps,
        )

    @pages.get("/reports")
    def reports(
        request: Request, view: Seen, issued: Annotated[str | None, Query(max_length=60)] = None
    ) -> HTMLResponse:
        with view.uow as uow:
            filed = report_rows(uow.connection, compacts_of(view.actor), limit=200)
        flash = ("ok", view.t("bulletin_issued", number=issued)) if issued else None
        copies = {r.id for r in filed if r.remade() is not None}  # an English copy can be made of these
        return render(request, "reports.html", view, filed=filed, copies=copies, flash=flash)

    @pages.get("/admin")
    def admin(request: Request, view: Seen) -> HTMLResponse:
        only_admin(view)
        with view.uow as uow:
            gaps = calendar_gaps(view, uow)
        return render(request, "admin.html", view, flash=None, errors={}, layers=MAP_LAYERS, **gaps)

    @pages.post("/admin/import")
    async def admin_import(request: Request, form: Posted, view: Seen) -> HTMLResponse:
        only_admin(view)
        check_csrf(view, form)
        upload = form.get("document")
        layer = str(form.get("layer") or "")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationFailed("document", view.t("admin_pick_file"))
            content = await upload.read(ADMIN_MAX_BYTES + 1)
            if len(content) > ADMIN_MAX_BYTES:
                raise ValidationFailed("document", view.t("file_too_big", mb=ADMIN_MAX_BYTES // 2**20))
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise ValidationFailed("document", view.t("admin_not_utf8", at=exc.start)) from exc
            name = upload.filename.lower()
            if layer:
                if layer not in MAP_LAYERS:
                    raise ValidationFailed("layer", view.t("admin_unknown_layer"))
                try:
                    document = load_json(text, "document")
                except json.JSONDecodeError as exc:
                    raise ValidationFailed("document", view.t("admin_bad_json", line=exc.lineno, why=exc.msg)) from exc
                if not isinstance(document, dict):
                    raise ValidationFailed("document", view.t("admin_not_collection"))
                count = await run_in_threadpool(import_geojson, view.uow, layer, document)
                counts = {view.t("layer_" + layer): count}
            else:
                fmt: Literal["json", "yaml"] = "json" if name.endswith(".json") else "yaml"
                source = upload.filename
                loaded = await run_in_threadpool(lambda: load(view.uow, parse_text(text, fmt, source)))
                counts = {view.t("imported_" + kind): n for kind, n in loaded.items()}
        except ValidationFailed as exc:
            flash = ("bad", view.t("fix_fields"))
            errors = [(name, view.t.reason(why)) for name, why in exc.errors]
            return render(request, "admin.html", view, 422, flash=flash, errors=errors, layers=MAP_LAYERS)
        summary = view.t("item_sep").join(f"{k} {v}" for k, v in counts.items())
        flash = ("ok", view.t("imported", counts=summary))
        return render(request, "admin.html", view, flash=flash, errors=(), layers=MAP_LAYERS)

    def only_admin(view: Viewer) -> None:
        if view.actor.role != "admin":
            raise NotPermitted(view.actor.code, "admin", ["admin"], [view.actor.role])

    return pages
