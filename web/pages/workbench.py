"""The coordinator's workbench: the compact's issues filtered, sorted, paged and exported; several selected to
convene one joint meeting or to dispatch; the meetings, their attendance, decisions and action items.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import csv
import io
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from openpyxl import Workbook
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from states import CHART
from states.chart import MEETING_LEVELS, PHASES
from states.policy import CATEGORIES, DIFFICULTIES
from web.access import Access, compacts_of
from web.pages.deps import Posted, Viewer
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import NotFound, NotPermitted, ValidationFailed, WorkflowError
from workflow.core.lookups import compact_row, member_paths
from workflow.core.models import Compact, Issue, Jurisdiction, table_of
from workflow.core.services import apply_within
from workflow.meetings.actions import add_action_item, complete_action_item
from workflow.meetings.basics import only_coordinator
from workflow.meetings.bulletins import issue_progress_bulletin
from workflow.meetings.records import (
    MeetingDraft,
    change_meeting,
    convene_meeting,
    decide,
    record_attendance,
    suggest_level,
)
from workflow.reading.directory import rivers_within
from workflow.reading.issues import ORDERS, WAITS, IssueSummary, list_issues
from workflow.reading.meetings import action_items, list_meetings, meeting_view

T = TypeVar("T")

PAGE_SIZE = 50
EXPORT_MAX = 50_000  # rows in one export: a compact's whole ledger, not a province's
DIFFICULTY_EN = {"easy": "easy", "normal": "normal", "hard": "hard"}
EXPORT_COLUMNS = ("code", "title", "category", "state", "reporting", "receiving", "deadline", "overdue", "created")

_compact = table_of(Compact)
_issue = table_of(Issue)


@dataclass(frozen=True)
class Filters:
    """The list's filter, as the URL carries it (so a filtered list can be bookmarked and shared)."""

    compact: str | None = None
    state: str | None = None
    phase: str | None = None
    party: str | None = None
    side: str | None = None
    category: str | None = None
    river: str | None = None
    difficulty: str | None = None
    waiting_on: str | None = None
    overdue: bool = False
    q: str | None = None
    order: str = "newest"

    def query(self, **override: Any) -> str:
        """The URL query string of this filter (with changes), leaving out what is not set."""
        values = {**self.__dict__, **override}
        kept = {k: ("1" if v is True else v) for k, v in values.items() if v not in (None, "", False)}
        if kept.get("order") == "newest":
            kept.pop("order")
        return urlencode(kept)


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def filters_of(
    compact: str | None = None,
    state: str | None = None,
    phase: str | None = None,
    party: str | None = None,
    side: str | None = None,
    category: str | None = None,
    river: str | None = None,
    difficulty: str | None = None,
    waiting_on: str | None = None,
    overdue: bool = False,
    q: Annotated[str | None, Query(max_length=200)] = None,
    order: str = "newest",
) -> Filters:
    """The filter from the URL; empty fields (a form's "any") are no filter."""
    return Filters(
        _blank(compact),
        _blank(state),
        _blank(phase),
        _blank(party),
        _blank(side),
        _blank(category),
        _blank(river),
        _blank(difficulty),
        _blank(waiting_on),
        overdue,
        _blank(q),
        _blank(order) or "newest",
    )


Filtered = Annotated[Filters, Depends(filters_of)]


def _rows(uow: Any, actor: Any, f: Filters, now: datetime, *, offset: int, limit: int) -> list[IssueSummary]:
    with uow:
        return list_issues(
            uow.session,
            now=now,
            compacts=compacts_of(actor),
            compact=f.compact,
            states=[f.state] if f.state else [],
            phase=f.phase,
            party=f.party,
            side=f.side,
            category=f.category,
            river=f.river,
            difficulty=f.difficulty,
            waiting_on=f.waiting_on,
            overdue=f.overdue,
            text=f.q,
            order=f.order,
            offset=offset,
            limit=limit,
        )


class Kept:
    """Answers kept ``seconds`` by key in this process, at most ``size`` of them (the oldest let go first)."""

    def __init__(self, seconds: float, size: int = 256) -> None:
        self.seconds = seconds
        self.size = size
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The answer kept under ``key`` if younger than ``seconds``, else ``make``'s, then kept."""
        now = monotonic()
        with self._lock:
            found = self._kept.get(key)
        if found is not None and now - found[0] < self.seconds:
            return found[1]  # type: ignore[no-any-return]
        answer = make()
        with self._lock:
            self._kept.pop(key, None)
            self._kept[key] = (now, answer)
            while len(self._kept) > self.size:
                del self._kept[next(iter(self._kept))]
        return answer


def router(
    access: Access,
    viewer: Callable[..., Viewer],
    render: Callable[..., HTMLResponse],
    check_csrf: Callable[[Viewer, FormData], None],
) -> APIRouter:
    """The workbench pages, with the page helpers of ``web.pages.routes``."""
    wired = access.wired
    pages = APIRouter(include_in_schema=False)
    Seen = Annotated[Viewer, Depends(viewer)]  # noqa: N806 (a type alias, named as one)

    def label_of(view: Any, state: str) -> str:
        found = CHART.state(state)
        return found.label_zh if view.t.zh else found.label_en

    # The rivers a set of compacts may filter by, kept a minute: they change only when reference data is loaded
    # (a river new there is offered within the minute; asked for by its code, it is filtered on at once), and
    # reading them was most of the list page's database time at province scale.
    rivers_kept = Kept(seconds=60)

    def choices(view: Any) -> dict[str, Any]:
        zh = view.t.zh
        compacts = compacts_of(view.actor)

        def read_rivers() -> list[tuple[str, str]]:
            with view.uow as uow:
                # The rivers of the viewer's compacts, not the province's (5,352 options a page at province scale).
                return rivers_within(uow.connection, compacts)

        rivers = rivers_kept.get(frozenset(compacts), read_rivers)
        who = view.who  # the compacts the viewer reads, named when the session was looked up
        return {
            "states": [(s.name, s.label_zh if zh else s.label_en) for s in CHART.states if s.name != "new"],
            "phases": [(p.name, p.label_zh if zh else p.label_en) for p in PHASES],
            "categories": [(c.code, c.label_zh if zh else c.label_en) for c in CATEGORIES.values()],
            "difficulties": [(k, v if zh else DIFFICULTY_EN[k]) for k, v in DIFFICULTIES.items()],
            "waits": [(w, view.t("wait_" + w)) for w in WAITS],
            "orders": [(o, view.t("order_" + o)) for o in ORDERS],
            "compacts": sorted({*who.coordinates, *who.audits, *who.member_of}),
            "rivers": rivers,
        }

    @pages.get("/issues")
    def issues_page(
        request: Request,
        view: Seen,
        f: Filtered,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        dispatched: Annotated[str | None, Query(max_length=6)] = None,
    ) -> HTMLResponse:
        now = wired.clock.now()
        try:
            rows = _rows(view.uow, view.actor, f, now, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
            errors: dict[str, str] = {}
        except ValidationFailed as exc:
            rows, errors = [], view.t.errors(exc)
        more = len(rows) > PAGE_SIZE
        return render(
            request,
            "issues.html",
            view,
            422 if errors else 200,
            rows=rows[:PAGE_SIZE],
            f=f,
            page=page,
            more=more,
            errors=errors,
            label_of=lambda s: label_of(view, s),
            day_of=lambda at: at.astimezone(SHANGHAI).strftime("%Y-%m-%d"),
            now=now,
            coordinator=bool(view.actor.coordinates),
            flash=("ok", view.t("dispatched_n", n=dispatched)) if dispatched and dispatched.isdigit() else None,
            **choices(view),
        )

    @pages.get("/issues/export.{fmt}")
    def export(view: Seen, f: Filtered, fmt: str) -> Response:
        if fmt not in ("csv", "xlsx"):
            raise NotFound("export format", fmt)
        rows = _rows(view.uow, view.actor, f, wired.clock.now(), offset=0, limit=EXPORT_MAX)
        header = [view.t("col_" + c) for c in EXPORT_COLUMNS]
        table = [
            [
                r.code,
                r.title,
                (CATEGORIES[r.category].label_zh if view.t.zh else CATEGORIES[r.category].label_en)
                if r.category in CATEGORIES
                else r.category,
                label_of(view, r.state),
                r.reporting,
                r.receiving or "",
                r.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if r.due_at else "",
                view.t("yes") if r.overdue else "",
                r.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            ]
            for r in rows
        ]
        stamp = local_today(wired.clock.now()).isoformat()
        name = f"issues-{stamp}.{fmt}"
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows([[_inert(c) for c in row] for row in table])
            # A BOM so that spreadsheet programs read the Chinese as UTF-8.
            body = ("\ufeff" + out.getvalue()).encode("utf-8")
            media = "text/csv; charset=utf-8"
        else:
            book = Workbook()
            sheet = book.active
            assert sheet is not None
            sheet.title = view.t("nav_issues")
            sheet.append(header)
            for row in table:
                sheet.append([_inert(c) for c in row])
            buffer = io.BytesIO()
            book.save(buffer)
            body = buffer.getvalue()
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
        return Response(body, media_type=media, headers={"Content-Disposition": disposition})

    @pages.post("/issues/dispatch")
    async def dispatch_selected(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        codes = [str(c) for c in form.getlist("issue") if str(c).strip()]
        order = str(form.get("order") or "").strip()
        back = str(form.get("back") or "/issues")
        back = back if back.startswith("/issues") else "/issues"

        def fire() -> None:
            if not codes:
                raise ValidationFailed("issue", view.t("select_some"))
            if not order:
                raise ValidationFailed("order", view.t("required"))
            with view.uow as uow:
                for code in codes:
                    access.scope(uow, view.actor, code)
                    apply_within(uow, code, "dispatch", view.actor, {"order": order})
                uow.commit()

        try:
            await run_in_threadpool(fire)
        except WorkflowError as exc:
            message = view.t.refusal(exc)
            return render(request, "message.html", view, exc.http_status, message=message)
        return RedirectResponse(f"{back}{'&' if '?' in back else '?'}dispatched={len(codes)}", status_code=303)

    # -- meetings -------------------------------------------------------------------------------

    def level_label(view: Any, level: str) -> str:
        return str(view.t.choice(level))

    @pages.get("/meetings")
    def meetings_page(request: Request, view: Seen) -> HTMLResponse:
        now = wired.clock.now()
        with view.uow as uow:
            rows = list_meetings(uow.connection, compacts_of(view.actor))
            actions = action_items(uow.connection, compacts_of(view.actor), now, status="open")
        upcoming = [m for m in rows if m.status == "planned" and m.starts_at >= now - timedelta(hours=12)]
        past = [m for m in rows if m not in upcoming]
        today = local_today(now)
        return render(
            request,
            "meetings.html",
            view,
            bulletin_from=today.replace(day=1).isoformat(),
            today=today.isoformat(),
            compacts=[(c, n) for c, n in _coordinated(view)],
            upcoming=list(reversed(upcoming)),
            past=past,
            actions=actions,
            level_label=lambda lv: level_label(view, lv),
            coordinator=bool(view.actor.coordinates),
        )

    def new_context(view: Any, agenda: list[str], values: dict[str, Any]) -> dict[str, Any]:
        with view.uow as uow:
            compacts = uow.connection.execute(sa_select_compacts(view.actor.coordinates)).all()
            picked = []
            if agenda:
                picked = list_issues(
                    uow.session, now=wired.clock.now(), compacts=view.actor.coordinates, limit=500, text=None
                )
                picked = sorted((r for r in picked if r.code in agenda), key=lambda r: agenda.index(r.code))
            rows = uow.connection.execute(
                _issue.select().where(
                    _issue.c.code.in_(agenda), _issue.c.compact_id.in_(sorted(view.actor.coordinates))
                )
            ).all()
            suggested = suggest_level(uow.connection, rows)
        return {
            "compacts": [(c.code, c.name) for c in compacts],
            "suggested": level_label(view, suggested),
            "picked": picked,
            "levels": [(lv, level_label(view, lv)) for lv in MEETING_LEVELS],
            "values": values,
        }

    @pages.get("/meetings/new")
    def new_meeting(request: Request, view: Seen, issue: Annotated[list[str] | None, Query()] = None) -> HTMLResponse:
        if not view.actor.coordinates:
            raise NotPermitted(view.actor.code, "convene a joint meeting", ["coordinator"], [view.actor.role])
        agenda = [c for c in (issue or []) if c.strip()]
        tomorrow = local_today(wired.clock.now()) + timedelta(days=1)
        values = {"date": tomorrow.isoformat(), "time": "09:30", "agenda": agenda}
        return render(request, "meeting_new.html", view, errors={}, **new_context(view, agenda, values))

    @pages.post("/meetings/new")
    async def new_meeting_for_selection(form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        codes = [str(c) for c in form.getlist("issue") if str(c).strip()]
        query = urlencode([("issue", c) for c in codes])
        return RedirectResponse(f"/meetings/new?{query}", status_code=303)

    @pages.post("/meetings")
    async def convene(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        agenda = [str(c) for c in form.getlist("agenda") if str(c).strip()]
        values = {k: form.get(k) for k in form if k != "agenda"} | {"agenda": agenda}

        def make() -> str:
            try:
                day = date.fromisoformat(str(form.get("date") or ""))
                at = time.fromisoformat(str(form.get("time") or ""))
            except ValueError as exc:
                raise ValidationFailed("date", view.t("bad_date")) from exc
            draft = MeetingDraft(
                compact=str(form.get("compact") or ""),
                title=str(form.get("title") or ""),
                starts_at=datetime.combine(day, at, tzinfo=SHANGHAI),
                place=str(form.get("place") or ""),
                level=str(form.get("level") or "") or None,
                level_reason=str(form.get("level_reason") or "") or None,
                agenda=tuple(agenda),
            )
            return convene_meeting(view.uow, view.actor, draft).code

        try:
            code = await run_in_threadpool(make)
        except ValidationFailed as exc:
            context = await run_in_threadpool(new_context, view, agenda, values)
            flash = ("bad", view.t("fix_fields"))
            return render(request, "meeting_new.html", view, 422, errors=view.t.errors(exc), flash=flash, **context)
        except WorkflowError as exc:
            context = await run_in_threadpool(new_context, view, agenda, values)
            flash = ("bad", view.t.refusal(exc))
            return render(request, "meeting_new.html", view, exc.http_status, errors={}, flash=flash, **context)
        return RedirectResponse(f"/meetings/{quote(code)}?done=convened", status_code=303)

    def meeting_context(view: Any, code: str) -> dict[str, Any]:
        with view.uow as uow:
            m = meeting_view(uow.connection, code, wired.clock.now())
        if m.compact_id not in compacts_of(view.actor):
            raise NotFound("meeting", code)
        return {
            "m": m,
            "level_label": lambda lv: level_label(view, lv),
            "label_of": lambda s: label_of(view, s),
            "may_run": m.compact_id in view.actor.coordinates,
            "begun": local_today(wired.clock.now()) >= m.starts_at.astimezone(SHANGHAI).date(),
            "today": local_today(wired.clock.now()).isoformat(),
            "members": _members(view, m.compact),
        }

    def _members(view: Any, compact: str) -> list[tuple[str, str]]:
        juris = table_of(Jurisdiction)
        with view.uow as uow:
            row = compact_row(uow.connection, compact)
            paths = member_paths(uow.connection, row.id)
            found = uow.connection.execute(juris.select().order_by(juris.c.path)).all()
        return [(j.code, j.name) for j in found if any(j.path.startswith(p) for p in paths)]

    @pages.get("/meetings/{code}")
    def meeting_page(request: Request, view: Seen, code: str, done: str | None = None) -> HTMLResponse:
        context = meeting_context(view, code)
        flash = ("ok", view.t("done_" + done)) if done in DONE_KEYS else None
        return render(request, "meeting.html", view, flash=flash, errors={}, **context)

    def meeting_step(name: str, step: Callable[[Any, FormData, str], Any]) -> Any:
        async def handler(request: Request, form: Posted, view: Seen, code: str) -> Response:
            check_csrf(view, form)
            try:
                await run_in_threadpool(step, view, form, code)
            except ValidationFailed as exc:
                context = await run_in_threadpool(meeting_context, view, code)
                flash = ("bad", view.t("fix_fields"))
                errors = view.t.errors(exc)
                return render(request, "meeting.html", view, 422, flash=flash, errors=errors, open_form=name, **context)
            except (NotPermitted, NotFound):
                raise
            except WorkflowError as exc:
                context = await run_in_threadpool(meeting_context, view, code)
                return render(
                    request,
                    "meeting.html",
                    view,
                    exc.http_status,
                    flash=("bad", view.t.refusal(exc)),
                    errors={},
                    **context,
                )
            return RedirectResponse(f"/meetings/{quote(code)}?done={name}", status_code=303)

        handler.__name__ = f"meeting_{name}"
        return handler

    def _attendance(view: Any, form: FormData, code: str) -> None:
        marks = {k[len("att_") :]: str(v) for k, v in form.items() if k.startswith("att_") and str(v) != "invited"}
        stand = {k[len("stand_") :]: str(v) for k, v in form.items() if k.startswith("stand_") and str(v).strip()}
        if not marks:
            raise ValidationFailed("attendance", view.t("mark_someone"))
        record_attendance(view.uow, view.actor, code, marks, stand)

    def _decision(view: Any, form: FormData, code: str) -> None:
        try:
            deadline = date.fromisoformat(str(form.get("deadline") or ""))
        except ValueError as exc:
            raise ValidationFailed("deadline", view.t("bad_date")) from exc
        resolution, plan = str(form.get("resolution") or "").strip(), str(form.get("plan") or "").strip()
        missing = [(f, view.t("required")) for f, v in (("resolution", resolution), ("plan", plan)) if not v]
        if missing:
            raise ValidationFailed.of(missing)
        decide(view.uow, view.actor, code, str(form.get("issue") or ""), resolution, plan, deadline)

    def _action(view: Any, form: FormData, code: str) -> None:
        try:
            due = date.fromisoformat(str(form.get("due_on") or ""))
        except ValueError as exc:
            raise ValidationFailed("due_on", view.t("bad_date")) from exc
        with view.uow as uow:
            m = meeting_view(uow.connection, code, wired.clock.now())
        add_action_item(
            view.uow,
            view.actor,
            m.compact,
            str(form.get("title") or ""),
            str(form.get("owner") or ""),
            due,
            meeting=code,
        )

    def _change(view: Any, form: FormData, code: str) -> None:
        version = int(str(form.get("version") or "0") or 0)
        if form.get("cancel"):
            change_meeting(view.uow, view.actor, code, version, status="cancelled", note=str(form.get("note") or ""))
            return
        try:
            day = date.fromisoformat(str(form.get("date") or ""))
            at = time.fromisoformat(str(form.get("time") or ""))
        except ValueError as exc:
            raise ValidationFailed("date", view.t("bad_date")) from exc
        starts = datetime.combine(day, at, tzinfo=SHANGHAI)
        change_meeting(view.uow, view.actor, code, version, starts_at=starts, place=str(form.get("place") or ""))

    def _minutes(view: Any, _form: FormData, code: str) -> None:
        with view.uow as uow:
            m = meeting_view(uow.connection, code, wired.clock.now())
        only_coordinator(view.actor, m.compact_id, "file minutes", ("meeting", code))
        if m.status != "held":
            raise ValidationFailed("meeting", view.t("not_held"))
        view.uow.rollback()
        wired.file_report("minutes", meeting=code)

    for name, step in (
        ("attendance", _attendance),
        ("decision", _decision),
        ("action", _action),
        ("change", _change),
        ("minutes", _minutes),
    ):
        pages.add_api_route(f"/meetings/{{code}}/{name}", meeting_step(name, step), methods=["POST"])

    @pages.post("/bulletins")
    async def issue_bulletin(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)

        def issue() -> str:
            try:
                start = date.fromisoformat(str(form.get("from") or ""))
                end = date.fromisoformat(str(form.get("to") or "")) + timedelta(days=1)  # the last day, included
            except ValueError as exc:
                raise ValidationFailed("from", view.t("bad_date")) from exc
            compact = str(form.get("compact") or "")
            issued = issue_progress_bulletin(view.uow, view.actor, compact, start, end)
            view.uow.rollback()
            wired.file_report("progress", compact=compact, period=issued.period)
            return issued.number

        try:
            number = await run_in_threadpool(issue)
        except ValidationFailed as exc:
            message = view.t("list_sep").join(
                f"{view.t('bulletin_' + f) if f in ('from', 'to') else view.t.field_name(f)}"
                f"{view.t('label_sep')}{view.t.reason(r)}"
                for f, r in exc.errors
            )
            return render(request, "message.html", view, 422, message=message)
        return RedirectResponse(f"/reports?issued={quote(number)}", status_code=303)

    # -- action items ---------------------------------------------------------------------------

    @pages.get("/actions")
    def actions_page(request: Request, view: Seen, done: str | None = None) -> HTMLResponse:
        now = wired.clock.now()
        with view.uow as uow:
            rows = action_items(uow.connection, compacts_of(view.actor), now)
        flash = ("ok", view.t("done_action_done")) if done else None
        return render(request, "actions.html", view, rows=rows, flash=flash, errors={}, code=None)

    @pages.post("/actions/{code}/done")
    async def action_done(request: Request, form: Posted, view: Seen, code: str) -> Response:
        check_csrf(view, form)
        try:
            await run_in_threadpool(complete_action_item, view.uow, view.actor, code, str(form.get("outcome") or ""))
        except ValidationFailed as exc:
            with view.uow as uow:
                rows = action_items(uow.connection, compacts_of(view.actor), wired.clock.now())
            flash = ("bad", view.t("fix_fields"))
            return render(
                request, "actions.html", view, 422, rows=rows, flash=flash, errors=view.t.errors(exc), code=code
            )
        return RedirectResponse("/actions?done=1", status_code=303)

    return pages


def _coordinated(view: Any) -> list[tuple[str, str]]:
    with view.uow as uow:
        return [(c.code, c.name) for c in uow.connection.execute(sa_select_compacts(view.actor.coordinates))]


DONE_KEYS = frozenset({"convened", "attendance", "decision", "action", "change", "minutes"})


def sa_select_compacts(ids: Any) -> Any:
    """The compacts with the given ids, by code."""
    return _compact.select().where(_compact.c.id.in_(sorted(ids))).order_by(_compact.c.code)


def _inert(value: Any) -> Any:
    """A cell a spreadsheet would take for a formula is stored as text (CSV/XLSX injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
