"""The auditor's day (第三方回访): the revisits due and late, one started from the list, its finding recorded on the
issue's page with the photos taken on site, and a revisit report filed for the revisits the auditor chooses.

Everything works as plain forms (no script): the revisit form posts the finding, the photos and the outcome
together and redirects; the report's period is chosen with a GET form, the revisits to report with a POST.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from states import TABLE
from states.policy import REBOUND_RECTIFY_WORKING_DAYS
from web.access import Access
from web.idempotency import once_posted
from web.pages.deps import Posted, Viewer
from web.pages.text import Text
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed
from workflow.core.evidence import Stored, Upload, fire_with_files, photos
from workflow.core.filing import file_report
from workflow.core.models import Compact, Event, Issue, ReportFile, table_of
from workflow.core.payload import validate
from workflow.core.services import apply
from workflow.reading.dossier import revisits_done
from workflow.reading.records import report_rows, revisit_rows
from workflow.reading.worklist import open_issues

_issue = table_of(Issue)
_event = table_of(Event)
_compact = table_of(Compact)
_report = table_of(ReportFile)

REVISITING = "du.revisiting"
OUTCOMES = ("no_rebound", "rebound")
# An auditor's own report is filed under its first and last day (see reports.builders.span_period).
SPAN = re.compile(r"(\d{8})-(\d{8})")
FORM_KEY = "form_key"


def place_text(lon: float | None, lat: float | None) -> str | None:
    """Where a photo was taken, as people read a position: 30.2080°N 105.7030°E; None without both."""
    if lon is None or lat is None:
        return None
    return f"{abs(lat):.4f}°{'N' if lat >= 0 else 'S'} {abs(lon):.4f}°{'E' if lon >= 0 else 'W'}"


def facts_text(t: Text, taken_at: datetime | None, lon: float | None, lat: float | None) -> str:
    """When and where a photo says it was taken: 拍摄于 2026-03-02 10:15 · 30.2080°N 105.7030°E."""
    when = taken_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if taken_at else None
    where = place_text(lon, lat)
    if when is None and where is None:
        return t("photo_no_facts")
    said = t("photo_taken", when=when) if when else t("photo_no_time")
    return f"{said} · {where or t('photo_no_place')}"


def revisit_photos(conn: sa.Connection, issue_id: int, t: Text) -> list[dict[str, Any]]:
    """The photos added since the issue's revisit started, each with what it says of its time and place."""
    started = conn.execute(
        sa.select(sa.func.max(_event.c.seq)).where(_event.c.issue_id == issue_id, _event.c.trigger == "start_revisit")
    ).scalar()
    return [
        {**p, "sha": p["path"].split("/")[-1], "facts": facts_text(t, p["taken_at"], p["lon"], p["lat"])}
        for p in photos(conn, issue_id)
        if started is not None and p["seq"] > started
    ]


def form_context(conn: sa.Connection, issue_id: int, outcomes: list[str], t: Text, today: date) -> dict[str, Any]:
    """What the issue page's revisit form shows: the outcomes offered and the photos of this revisit so far."""
    return {
        "outcomes": outcomes,
        "photos": revisit_photos(conn, issue_id, t),
        "rebound_days": REBOUND_RECTIFY_WORKING_DAYS,
        "today": today.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class IssueForms:
    """What the revisit form borrows from the issue page: drawing the page again, and reading and checking
    photos as its own photo form does."""

    redraw: Callable[..., HTMLResponse]
    posted_photos: Callable[[FormData, str | None], Awaitable[list[Upload]]]
    refused_photos: Callable[[Viewer, list[Upload]], list[str]]
    store_photos: Callable[[Viewer, str, list[Upload]], list[Stored]]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def router(
    access: Access,
    viewer: Callable[..., Viewer],
    render: Callable[..., HTMLResponse],
    check_csrf: Callable[[Viewer, FormData], None],
    forms: IssueForms,
) -> APIRouter:
    """The auditor's pages: the revisits list, the revisit form's posts, the revisit report."""
    wired = access.wired
    pages = APIRouter(include_in_schema=False)
    Seen = Annotated[Viewer, Depends(viewer)]  # noqa: N806 (a type alias, named as one)

    # -- the list ---------------------------------------------------------------------------

    @pages.get("/revisits")
    def revisits(request: Request, view: Seen, filed: int | None = None) -> HTMLResponse:
        with view.uow as uow:
            planned = revisit_rows(uow.connection, view.actor.audits, status="planned")
            items = [i for i in open_issues(uow.connection, view.actor) if i.state == REVISITING]
            reports = report_rows(uow.connection, view.actor.audits, kind="revisit", limit=50)
            closed = {
                r.code: r.version
                for r in uow.connection.execute(
                    sa.select(_issue.c.code, _issue.c.version).where(
                        _issue.c.code.in_({p.issue_code for p in planned}), _issue.c.state == "du.closed"
                    )
                )
            }
        today = local_today(wired.clock.now())
        # Due and overdue revisits are the auditor's to do now, each said late by working days and startable here.
        # One visit starts an issue's revisit, so an issue with several revisits come due is one entry (the
        # earliest), saying how many more it covers, with one start button.
        # An issue whose revisit is under way is listed once, as under way, not again as due.
        under_way = {i.code for i in items}
        by_issue: dict[str, list[Any]] = {}
        due_now = (p for p in planned if p.due_on <= today and p.issue_code not in under_way)
        for p in sorted(due_now, key=lambda p: (p.due_on, p.issue_code)):
            if p.issue_code in by_issue:
                by_issue[p.issue_code][3] += 1
            else:
                late = wired.calendar.working_days_between(p.due_on, today)
                by_issue[p.issue_code] = [p, late, closed.get(p.issue_code), 0]
        just_filed = next((r for r in reports if r.id == filed), None)
        return render(
            request,
            "revisits.html",
            view,
            due=[tuple(entry) for entry in by_issue.values()],
            planned=[p for p in planned if p.due_on > today],
            revisiting=items,
            filed=reports,
            just_filed=just_filed.id if just_filed else None,
            flash=("ok", view.t("revisit_report_filed", title=just_filed.title)) if just_filed else None,
            today=today,
            may_start=bool(view.actor.audits),
        )

    @pages.post("/revisits/{code}/start")
    async def start_revisit(request: Request, form: Posted, code: str, view: Seen) -> Response:
        check_csrf(view, form)
        try:
            version = int(str(form.get("expected_version") or ""))
        except ValueError:
            version = -1
        try:
            await run_in_threadpool(apply, view.uow, code, "start_revisit", view.actor, {}, version)
        except (Conflict, InvalidTransition):
            return render(request, "message.html", view, 409, message=view.t("stale"))
        return RedirectResponse(f"/issues/{quote(code)}?done=start_revisit#revisit", status_code=303)

    # -- the revisit form on the issue's page -----------------------------------------------

    @pages.post("/issues/{code}/revisit")
    async def record_revisit(request: Request, form: Posted, code: str, view: Seen) -> Response:
        check_csrf(view, form)
        try:
            issue, _ = await run_in_threadpool(access.readable, view.uow, view.actor, code, timeline=False)
        except NotFound:
            return render(request, "message.html", view, 404, message=view.t("not_found"))
        values = {name: str(form.get(name) or "") for name in ("finding", "outcome", "deadline")}
        uploads = await forms.posted_photos(form, None)

        async def again(status: int, flash: tuple[str, str], errors: dict[str, str] | None = None) -> HTMLResponse:
            # The page as it now stands, the finding written kept (a file chosen cannot be: the browser drops it).
            if uploads and status != 200:
                flash = (flash[0], f"{flash[1]} {view.t('revisit_photos_again')}")
            return await run_in_threadpool(
                forms.redraw, request, view, status, code, flash, errors or {}, values, "revisit"
            )

        if issue.state != REVISITING:
            # Someone else recorded this revisit meanwhile: the form is gone, so the finding is said back.
            kept = view.t("revisit_finding_kept", finding=values["finding"]) if values["finding"].strip() else ""
            return await again(409, ("warn", f"{view.t('stale')} {kept}".strip()))
        refused = await run_in_threadpool(forms.refused_photos, view, uploads)
        if refused:
            errors = {"photos": view.t("list_sep").join(refused)}
            return await again(422, ("bad", view.t("revisit_fix", fields=said(view.t, errors))), errors)
        if str(form.get("step") or "") == "photos":
            return await photos_only(view, code, uploads, again)
        try:
            expected = int(str(form.get("expected_version") or ""))
        except ValueError:
            expected = -1
        try:
            await run_in_threadpool(record_outcome, view, code, values, uploads, expected)
        except (Conflict, InvalidTransition):
            return await again(409, ("warn", view.t("stale")))
        except NotPermitted:
            return await again(403, ("bad", view.t("forbidden")))
        except ValidationFailed as exc:
            errors = view.t.errors(exc)
            return await again(422, ("bad", view.t("revisit_fix", fields=said(view.t, errors))), errors)
        return RedirectResponse(f"/issues/{quote(code)}?done={values['outcome']}", status_code=303)

    async def photos_only(
        view: Viewer, code: str, uploads: list[Upload], again: Callable[..., Awaitable[HTMLResponse]]
    ) -> HTMLResponse:
        """Add the photos now, to see what each says of its time and place before the outcome is chosen.

        The page is drawn at once, the finding kept, rather than redirected to: sending it again (a reload)
        adds nothing, since a photo already on the issue is not added twice.
        """
        if not uploads:
            errors = {"photos": view.t("revisit_choose_photos")}
            return await again(422, ("bad", view.t("revisit_fix", fields=said(view.t, errors))), errors)
        try:
            stored = await run_in_threadpool(forms.store_photos, view, code, uploads)
        except (Conflict, InvalidTransition):
            return await again(409, ("warn", view.t("stale")))
        added = sum(1 for s in stored if s.step is not None)
        return await again(200, ("ok", view.t("revisit_photos_added", n=added)))

    def record_outcome(view: Viewer, code: str, values: dict[str, str], uploads: list[Upload], expected: int) -> None:
        """The photos, then the outcome with the finding, on the version the page showed: all or nothing."""
        outcome = values["outcome"]
        if outcome not in OUTCOMES:
            # Without an outcome there is no step to ask; the finding is checked as the step would.
            problems = [("outcome", view.t("revisit_choose_outcome"))]
            try:
                validate(TABLE[(REVISITING, OUTCOMES[0])], {"finding": values["finding"]})
            except ValidationFailed as exc:
                problems += exc.errors
            raise ValidationFailed.of(problems)
        payload = {"finding": values["finding"]}
        if outcome == "rebound" and values["deadline"].strip():
            payload["deadline"] = values["deadline"].strip()
        fire_with_files(
            view.uow,
            code,
            view.actor,
            uploads,
            wired.settings.data_dir,
            outcome,
            payload,
            expected,
            max_bytes=wired.settings.upload_max_bytes,
        )

    # -- the revisit report -----------------------------------------------------------------

    def audited(view: Viewer) -> dict[str, Any]:
        """The compacts the viewer audits, by code."""
        with view.uow as uow:
            rows = uow.connection.execute(
                sa.select(_compact.c.id, _compact.c.code, _compact.c.name)
                .where(_compact.c.id.in_(sorted(view.actor.audits)))
                .order_by(_compact.c.code)
            ).all()
        return {r.code: r for r in rows}

    def default_first(view: Viewer, compact: Any, today: date) -> date:
        """Where a new report starts: the day after the compact's last report filed here, else its first
        finished revisit, else today (never after today)."""
        with view.uow as uow:
            periods = uow.connection.execute(
                sa.select(_report.c.period)
                .where(
                    _report.c.compact_id == compact.id,
                    _report.c.kind == "revisit",
                    sa.func.length(_report.c.period) == 17,
                )
                .order_by(_report.c.id.desc())
            ).scalars()
            last = next((m for p in periods if (m := SPAN.fullmatch(p or ""))), None)
            if last is not None:
                return min(datetime.strptime(last.group(2), "%Y%m%d").date() + timedelta(days=1), today)
            first = uow.connection.execute(
                sa.select(sa.func.min(_event.c.occurred_at)).where(
                    _event.c.compact_id == compact.id, _event.c.trigger.in_(OUTCOMES)
                )
            ).scalar()
        return min(local_today(first), today) if first is not None else today

    def span_of(view: Viewer, first: str, last: str) -> tuple[date | None, date | None, dict[str, str]]:
        """The period's days as given, and what is wrong with them (by field)."""
        errors: dict[str, str] = {}
        start, end = _day(first), _day(last)
        if start is None:
            errors["from"] = view.t("bad_date")
        if end is None:
            errors["to"] = view.t("bad_date")
        if start is not None and end is not None and end < start:
            errors["to"] = view.t("revisit_report_to_before_from")
        return start, end, errors

    def done_by_issue(view: Viewer, compact: str, first: date, last: date) -> list[dict[str, Any]]:
        """The revisits finished in the period, one entry per issue with its revisits in order."""
        start = datetime.combine(first, time(0), tzinfo=SHANGHAI)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=SHANGHAI)
        with view.uow as uow:
            done = revisits_done(uow.connection, compact, start, end)
        issues: dict[str, dict[str, Any]] = {}
        for r in done:
            entry = issues.setdefault(r["code"], {"code": r["code"], "title": r["title"], "visits": []})
            entry["visits"].append(r)
        return list(issues.values())

    def report_form(
        request: Request,
        view: Viewer,
        status: int,
        mine: dict[str, Any],
        compact: str,
        first: str,
        last: str,
        errors: dict[str, str],
        ticked: set[str] | None = None,
        flash: tuple[str, str] | None = None,
    ) -> HTMLResponse:
        start, end, wrong = span_of(view, first, last)
        issues = done_by_issue(view, compact, start, end) if start and end and not wrong else []
        return render(
            request,
            "revisit_report.html",
            view,
            status,
            compacts=[(c.code, c.name) for c in mine.values()],
            compact=compact,
            first=first,
            last=last,
            issues=issues,
            ticked={i["code"] for i in issues} if ticked is None else ticked,
            errors={**wrong, **errors},
            form_key=secrets.token_urlsafe(16),
            flash=flash,
        )

    def refuse_compact(request: Request, view: Viewer, mine: dict[str, Any], compact: str) -> HTMLResponse | None:
        """The refusal for a compact the viewer does not audit (or for someone who audits none)."""
        if not mine:
            return render(request, "message.html", view, 403, message=view.t("revisit_report_no_compact"))
        if compact not in mine:
            return render(request, "message.html", view, 403, message=view.t("revisit_report_not_yours", c=compact))
        return None

    @pages.get("/revisits/report")
    def report_page(
        request: Request,
        view: Seen,
        compact: Annotated[str | None, Query(max_length=30)] = None,
        first: Annotated[str | None, Query(alias="from", max_length=30)] = None,
        last: Annotated[str | None, Query(alias="to", max_length=30)] = None,
    ) -> HTMLResponse:
        mine = audited(view)
        chosen = compact or next(iter(mine), "")
        refused = refuse_compact(request, view, mine, chosen)
        if refused is not None:
            return refused
        today = local_today(wired.clock.now())
        first = first or default_first(view, mine[chosen], today).isoformat()
        last = last or today.isoformat()
        status = 422 if span_of(view, first, last)[2] else 200
        return report_form(request, view, status, mine, chosen, first, last, {})

    @pages.post("/revisits/report")
    async def file_revisit_report(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        mine = await run_in_threadpool(audited, view)
        compact = str(form.get("compact") or "")
        refused = refuse_compact(request, view, mine, compact)
        if refused is not None:
            return refused
        first, last = str(form.get("from") or ""), str(form.get("to") or "")
        chosen = sorted({str(c) for c in form.getlist("issues") if str(c)})
        start, end, errors = span_of(view, first, last)
        if start is not None and end is not None and not errors:
            finished = {i["code"] for i in await run_in_threadpool(done_by_issue, view, compact, start, end)}
            if not chosen:
                errors["issues"] = view.t("revisit_report_choose")
            elif outside := [c for c in chosen if c not in finished]:
                errors["issues"] = view.t("revisit_report_not_in_span", codes="、".join(outside))
        if errors or start is None or end is None:
            flash = ("bad", view.t("revisit_fix", fields=said(view.t, errors)))
            return await run_in_threadpool(
                report_form, request, view, 422, mine, compact, first, last, errors, set(chosen), flash
            )
        built = await run_in_threadpool(
            wired.make_report, "revisit", compact=compact, span=(start, end), issues=tuple(chosen)
        )
        body = {"compact": compact, "from": first, "to": last, "issues": chosen}

        def filed() -> dict[str, int]:
            return {"report": file_report(view.uow, built, wired.settings.data_dir, view.actor).id}

        try:
            answer, _ = await run_in_threadpool(
                once_posted,
                view.uow,
                view.actor,
                str(form.get(FORM_KEY) or ""),
                "/revisits/report",
                body,
                filed,
                field=FORM_KEY,
            )
        except ValidationFailed:
            # The form was sent before with other choices (or carries no key): one form files one report.
            return render(request, "message.html", view, 409, message=view.t("revisit_report_sent_before"))
        return RedirectResponse(f"/revisits?filed={answer['report']}", status_code=303)

    return pages


# The fields of the revisit form and the report form, each named in the message above a refused form.
FIELDS = frozenset({"finding", "photos", "outcome", "deadline", "from", "to", "issues"})


def said(t: Text, errors: dict[str, str]) -> str:
    """The fields refused and why, for the message above a form: 回访情况：必填."""
    return t("list_sep").join(
        t("field_said", field=t(f"revisit_field_{f}"), reason=r) if f in FIELDS else r for f, r in errors.items()
    )
