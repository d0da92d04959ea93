"""Each report: gather its data through workflow's queries, then render it."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from reports.figures import bar_chart, map_figure
from reports.render import DocumentInfo, ReportRenderer
from reports.words import DEFAULT, Words, say
from workflow.core.clock import SHANGHAI
from workflow.reading import dossier
from workflow.reading.figures import FIGURES, month_bounds
from workflow.reading.practice import FIGURES as PRACTICE_FIGURES


@dataclass(frozen=True, slots=True)
class Built:
    """A rendered document and what it concerns."""

    kind: str
    title: str
    compact_code: str
    period: str | None
    issue_code: str | None
    content: bytes
    extension: str = "pdf"
    issues: tuple[str, ...] = ()  # besides issue_code, the issues whose ledgers record it (a meeting's agenda)


def _number(compact_code: str, kind: str, year: int, serial: str, lang: str = DEFAULT) -> str:
    """A document's number: QJ联防通报〔2026〕03号 / QJ joint bulletin No. 03 (2026) (no slash: it names files too)."""
    words = Words(lang)
    return words(
        "documents.number", compact=compact_code, kind=words(f"documents.number.{kind}"), year=year, serial=serial
    )


def _keywords(words: Words, *keys: str, last: str) -> tuple[str, ...]:
    """A document's keywords: 河长制, then its own words, then what names it (a code, a period)."""
    return (words("documents.keyword.river_chiefs"), *(words(key) for key in keys), last)


def followup(
    renderer: ReportRenderer, conn: sa.Connection, code: str, *, archival: bool = False, lang: str = DEFAULT
) -> Built:
    """问题跟踪报告 for one issue."""
    data = dossier.followup(conn, code)
    last = data.steps[-1].at if data.steps else datetime(2000, 1, 1, tzinfo=SHANGHAI)
    words = Words(lang)
    info = DocumentInfo(
        title=words("followup.title"),
        compact=data.compact,
        number=_number(data.compact_code, "followup", last.astimezone(SHANGHAI).year, data.code, lang),
        subject=f"{data.code} {data.title}",
        keywords=_keywords(words, "followup.keyword.cross_border", "followup.keyword.followup", last=data.code),
        generated_at=last,
    )
    point = (data.lon, data.lat) if data.lon is not None and data.lat is not None else None
    pdf = renderer.render(
        "followup.html.j2",
        info,
        archival=archival,
        lang=lang,
        r=data,
        map=map_figure(data.segment_geometry, point, data.segment or ""),
        photos=data.photos,
    )
    return Built("followup", words("followup.filed_as", code=data.code), data.compact_code, None, data.code, pdf)


def _month_label(period: str, lang: str = DEFAULT) -> str:
    return Words(lang).month(period)


# A party late on many issues is named with its first few codes and a count: the full list is in the ledger,
# and a bulletin over thousands of issues stays a few pages.
BULLETIN_CODES_LISTED = 10


def bulletin(
    renderer: ReportRenderer,
    conn: sa.Connection,
    compact_code: str,
    period: str,
    *,
    archival: bool = False,
    lang: str = DEFAULT,
) -> Built:
    """月通报 for a compact and month (the stored bulletin record)."""
    data = dossier.bulletin(conn, compact_code, period)
    _, end = month_bounds(period)
    words, month = Words(lang), _month_label(period, lang)
    info = DocumentInfo(
        title=words("bulletin.title", month=month),
        compact=data["compact"],
        number=_number(compact_code, "bulletin", int(period[:4]), period[5:7], lang),
        subject=words("bulletin.subject", compact=data["compact"], month=month),
        keywords=_keywords(words, "bulletin.keyword", last=period),
        generated_at=end - timedelta(seconds=1),
    )
    # The figures by their key, worded in the document's language.
    figures = [(key, words(f"bulletin.figure.{key}")) for key, _ in FIGURES]
    rows = [(label, int(data["figures"]["month"].get(key, 0))) for key, label in figures]
    year_rows = [(label, int(data["figures"]["year_to_date"].get(key, 0))) for key, label in figures]
    pdf = renderer.render(
        "bulletin.html.j2",
        info,
        archival=archival,
        lang=lang,
        b=data,
        figures=figures,
        period_label=month,
        month_chart=bar_chart(rows),
        year_chart=bar_chart(year_rows),
        listed=BULLETIN_CODES_LISTED,
    )
    title = words("bulletin.filed_as", code=compact_code, period=period)
    return Built("bulletin", title, compact_code, period, None, pdf)


def _range(period: str, lang: str = DEFAULT) -> tuple[datetime, datetime, str]:
    """A month ("2026-03") or a day ("2026-03-18") as a half-open range with its label."""
    if len(period) == 7:
        start, end = month_bounds(period)
        return start, end, _month_label(period, lang)
    day = datetime.fromisoformat(period).replace(tzinfo=SHANGHAI)
    return day, day + timedelta(days=1), Words(lang).day(day.date())


def revisit(
    renderer: ReportRenderer,
    conn: sa.Connection,
    compact_code: str,
    period: str,
    *,
    archival: bool = False,
    lang: str = DEFAULT,
) -> Built:
    """回访报告: the revisits finished in a month or on a day."""
    start, end, label = _range(period, lang)
    data = dossier.revisit_batch(conn, compact_code, start, end)
    last = max((i["at"] for i in data["items"]), default=end - timedelta(seconds=1))
    words = Words(lang)
    info = DocumentInfo(
        title=words("revisit.title"),
        compact=data["compact"],
        number=_number(compact_code, "revisit", start.year, period.replace("-", ""), lang),
        subject=words("revisit.named", compact=data["compact"], period=label),
        keywords=_keywords(words, "revisit.keyword.look_back", "revisit.keyword.report", last=period),
        generated_at=last,
    )
    pdf = renderer.render(
        "revisit.html.j2", info, archival=archival, lang=lang, data=data, period_label=label, photos=data["photos"]
    )
    title = words("revisit.named", compact=compact_code, period=period)
    return Built("revisit", title, compact_code, period, None, pdf)


def span_period(first: date, last: date) -> str:
    """The period an auditor's own revisit report is filed under: its first and last day, 20260301-20260314
    (the scheduler's are a month or a day)."""
    return f"{first:%Y%m%d}-{last:%Y%m%d}"


def _span_serial(first: date, last: date) -> str:
    """The serial in an auditor's report number: 0302 for a day, 0301-0314 within a year, both days in full
    across one (the scheduler's daily report has the whole date, 20260302, so the two never share a number)."""
    if first == last:
        return f"{first:%m%d}"
    return f"{first:%m%d}-{last:%m%d}" if first.year == last.year else span_period(first, last)


def _span_label(first: date, last: date, lang: str = DEFAULT) -> str:
    """2026年3月1日至3月14日 (the year again only when it changes; one day is just that day) /
    1 March 2026 to 14 March 2026."""
    words = Words(lang)
    if last == first:
        return words.day(first)
    if lang == DEFAULT and last.year == first.year:
        same_year = words("documents.day_in_year", month=last.month, day=last.day)
        return words("documents.span", first=words.day(first), last=same_year)
    return words("documents.span", first=words.day(first), last=words.day(last))


def revisit_chosen(
    renderer: ReportRenderer,
    conn: sa.Connection,
    compact_code: str,
    first: date,
    last: date,
    issues: Collection[str],
    *,
    archival: bool = False,
    lang: str = DEFAULT,
) -> Built:
    """回访报告 an auditor files for the revisits they chose among those finished from ``first`` to ``last``
    (both days included): several revisits in one report, as the practice has it."""
    start = datetime.combine(first, time(0), tzinfo=SHANGHAI)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    label, period = _span_label(first, last, lang), span_period(first, last)
    data = dossier.revisit_batch(conn, compact_code, start, end, issues=issues)
    words = Words(lang)
    info = DocumentInfo(
        title=words("revisit.title"),
        compact=data["compact"],
        number=_number(compact_code, "revisit", first.year, _span_serial(first, last), lang),
        subject=words("revisit.named", compact=data["compact"], period=label),
        keywords=_keywords(words, "revisit.keyword.look_back", "revisit.keyword.report", last=period),
        generated_at=max((i["at"] for i in data["items"]), default=end - timedelta(seconds=1)),
    )
    pdf = renderer.render(
        "revisit.html.j2", info, archival=archival, lang=lang, data=data, period_label=label, photos=data["photos"]
    )
    title = words("revisit.named_span", compact=data["compact"], first=first.isoformat(), last=last.isoformat())
    return Built("revisit", title, compact_code, period, None, pdf)


def minutes(
    renderer: ReportRenderer,
    conn: sa.Connection,
    compact_code: str,
    period: str,
    *,
    archival: bool = False,
    lang: str = DEFAULT,
) -> Built:
    """联席会议纪要 of the joint meetings convened in a month."""
    start, end, label = _range(period, lang)
    data = dossier.joint_meetings(conn, compact_code, start, end)
    words = Words(lang)
    info = DocumentInfo(
        title=words("minutes.title", period=label),
        compact=data["compact"],
        number=_number(compact_code, "minutes", start.year, period.replace("-", ""), lang),
        subject=words("minutes.named", compact=data["compact"], period=label),
        keywords=_keywords(words, "minutes.keyword.joint_meeting", "minutes.keyword.minutes", last=period),
        generated_at=end - timedelta(seconds=1),
    )
    pdf = renderer.render("minutes.html.j2", info, archival=archival, lang=lang, data=data)
    title = words("minutes.named", compact=compact_code, period=period)
    return Built("minutes", title, compact_code, period, None, pdf)


def interview(
    renderer: ReportRenderer,
    conn: sa.Connection,
    compact_code: str,
    period: str,
    *,
    archival: bool = False,
    lang: str = DEFAULT,
) -> Built:
    """季度约谈名单 of a compact and quarter (the stored list the scheduler made), filed as a report."""
    data = dossier.bulletin(conn, compact_code, period, kind="interview")
    year, quarter = period.split("-Q")
    words = Words(lang)
    label = words(f"interview.quarter.{int(quarter)}", year=year)
    kind = words("interview.number_kind")
    info = DocumentInfo(
        title=words("interview.title", quarter=label),
        compact=data["compact"],
        number=words("documents.number", compact=compact_code, kind=kind, year=year, serial=quarter),
        subject=words("interview.subject", compact=data["compact"], quarter=label),
        keywords=_keywords(words, "interview.keyword", last=period),
        generated_at=data["created_at"],
    )
    pdf = renderer.render(
        "interview.html.j2",
        info,
        archival=archival,
        lang=lang,
        b=data,
        quarter_label=label,
        listed=BULLETIN_CODES_LISTED,
    )
    title = words("interview.filed_as", code=compact_code, period=period)
    return Built("interview", title, compact_code, period, None, pdf)


def progress_bulletin(
    renderer: ReportRenderer,
    conn: sa.Connection,
    compact_code: str,
    period: str,
    *,
    archival: bool = False,
    lang: str = DEFAULT,
) -> Built:
    """通报跨界问题整改情况: a progress bulletin the coordinators issued (``period`` is its key, 2026-003)."""
    data = dossier.bulletin(conn, compact_code, period, kind="progress")
    first, last = data["figures"]["from"], data["figures"]["to"]
    words = Words(lang)
    span = words("documents.span", first=_day_label(first, lang=lang), last=_day_label(last, before=True, lang=lang))
    number = data["figures"]["number"]  # stored in Chinese when issued: QJ联防通报〔2026〕3号
    if lang != DEFAULT and period[5:].isdigit():
        number = _number(compact_code, "bulletin", int(period[:4]), str(int(period[5:])), lang)
    info = DocumentInfo(
        title=words("progress.title"),
        compact=data["compact"],
        number=number,
        subject=words("progress.subject", compact=data["compact"], span=span),
        keywords=_keywords(words, "progress.keyword.bulletin", "progress.keyword.rectification", last=number),
        generated_at=data["created_at"],
    )
    # The practice's figures by their key, worded in the document's language.
    shown = [(key, words(f"progress.figure.{key}")) for key in PRACTICE_FIGURES if key != "monthly_bulletins"]
    chart = bar_chart([(label, int(data["figures"]["practice"].get(key, 0))) for key, label in shown[5:13]])
    levels = ["township", "district", "city", "province"]
    pdf = renderer.render(
        "progress_bulletin.html.j2",
        info,
        archival=archival,
        lang=lang,
        b=data,
        figures=shown,
        chart=chart,
        span=span,
        levels=levels,
        listed=BULLETIN_CODES_LISTED,
    )
    return Built("progress", words("progress.filed_as", number=number), compact_code, period, None, pdf)


def _day_label(iso: str, *, before: bool = False, lang: str = DEFAULT) -> str:
    """2026-03-01 → 2026年3月1日; with ``before``, the day before (a half-open range's last day)."""
    day = datetime.fromisoformat(iso).date() - (timedelta(days=1) if before else timedelta(0))
    return Words(lang).day(day)


def meeting_minutes(
    renderer: ReportRenderer,
    conn: sa.Connection,
    code: str,
    now: datetime,
    *,
    archival: bool = False,
    lang: str = DEFAULT,
) -> Built:
    """会议纪要 of one joint meeting, filed in the ledger of every issue it decided."""
    data = dossier.meeting_minutes(conn, code, now)
    words = Words(lang)
    info = DocumentInfo(
        title=words("meeting.title", compact=data["compact"]),
        compact=data["compact"],
        number=_number(
            data["compact_code"], "minutes", data["starts_at"].astimezone(SHANGHAI).year, code.rsplit("-")[-1], lang
        ),
        subject=f"{code} {data['title']}",
        keywords=_keywords(words, "minutes.keyword.joint_meeting", "minutes.keyword.minutes", last=code),
        generated_at=data["starts_at"],
    )
    pdf = renderer.render("meeting_minutes.html.j2", info, archival=archival, lang=lang, m=data)
    title = words("meeting.named", code=code, title=data["title"])
    return Built("minutes", title, data["compact_code"], code, None, pdf, issues=data["issues"])


def _ledger_range(period: str | None, lang: str = DEFAULT) -> str:
    """A ledger file's range in its title: 2026年3月, or 全部 for the whole."""
    return _month_label(period, lang) if period else say("documents.whole", lang)


def ledger(
    renderer: ReportRenderer,
    conn: sa.Connection,
    compact_code: str,
    period: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    lang: str = DEFAULT,
) -> Built:
    """台账 as one PDF: a title for the range it covers, a table per month, page numbers across the whole,
    each issue's full chain head and the latest daily seal, so an auditor can check it against the ledger.

    Dated by the latest entry of the ledgers it covers, so the same ledger renders the same document.
    """
    start, end = month_bounds(period) if period else (None, None)
    rows = dossier.ledger_rows(conn, compact_code, start, end)
    name = dossier.compact_name(conn, compact_code)
    months: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        months.setdefault(row["reported_at"].astimezone(SHANGHAI).strftime("%Y-%m"), []).append(row)
    words = Words(lang)
    if period:
        label = _month_label(period, lang)
    elif months:
        first, last = min(months), max(months)
        label = (
            _month_label(first, lang)
            if first == last
            else words("documents.span", first=_month_label(first, lang), last=_month_label(last, lang))
        )
    else:
        label = words("documents.whole")
    heads = "\n".join(f"{r['code']} {r['head']}" for r in rows)
    info = DocumentInfo(
        title=words("ledger.title", range=label),
        compact=name,
        number=_number(compact_code, "ledger", int(period[:4]), period.replace("-", ""), lang)
        if period
        else words("ledger.number_whole", compact=compact_code, range=label),
        subject=words("ledger.subject", name=name, range=label),
        keywords=_keywords(words, "ledger.keyword", last=period or "all"),
        generated_at=dossier.last_entry(conn, [r["id"] for r in rows]) or _latest(rows),
    )
    scope = (
        words("ledger.scope", name=name, range=label) if period or months else words("ledger.scope_whole", name=name)
    )
    pdf = renderer.render(
        "ledger.html.j2",
        info,
        lang=lang,
        months=[(_month_label(m, lang), months[m]) for m in sorted(months)],
        rows=rows,
        scope=scope,
        heads_digest=hashlib.sha256(heads.encode()).hexdigest(),
        seal=dossier.latest_seal(conn),
    )
    if progress:
        progress(1, 1)
    title = say("ledger.file_title", lang, compact=compact_code, range=_ledger_range(period, lang))
    return Built("ledger", title, compact_code, period, None, pdf)


_DATED = ("reported_at", "handed_off_at", "accepted_at", "rectified_at", "closed_at")


def _latest(rows: list[dict[str, Any]]) -> datetime:
    """The latest moment a ledger table shows: its date, so it is never dated before what it contains."""
    moments = [r[key] for r in rows for key in _DATED if r[key] is not None]
    return max(moments, default=datetime(2000, 1, 1, tzinfo=SHANGHAI))


LEDGER_COLUMNS = (
    "code",
    "title",
    "category",
    "reporting",
    "receiving",
    "state",
    "reported_at",
    "handed_off_at",
    "accepted_at",
    "rectified_at",
    "closed_at",
    "due_at",
    "rebounds",
    "version",
    "head",
)


def _heads(words: Words) -> list[str]:
    return [words(f"ledger.column.{key}") for key in LEDGER_COLUMNS]


def _cells(row: dict[str, Any], words: Words) -> Iterator[Any]:
    for key in LEDGER_COLUMNS:
        value = row[key]
        if key == "category":
            yield words.category(value)
        elif key == "state":
            yield words.state(value)
        elif isinstance(value, datetime):
            yield value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        else:
            yield value


def ledger_csv(conn: sa.Connection, compact_code: str, period: str | None = None, *, lang: str = DEFAULT) -> Built:
    """台账 as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese right)."""
    words = Words(lang)
    start, end = month_bounds(period) if period else (None, None)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_heads(words))
    for row in dossier.ledger_rows(conn, compact_code, start, end):
        writer.writerow(list(_cells(row, words)))
    content = ("\ufeff" + out.getvalue()).encode("utf-8")
    title = words("ledger.file_title", compact=compact_code, range=_ledger_range(period, lang))
    return Built("ledger", title, compact_code, period, None, content, "csv")


def ledger_xlsx(conn: sa.Connection, compact_code: str, period: str | None = None, *, lang: str = DEFAULT) -> Built:
    """台账 as XLSX, written row by row (openpyxl's write-only mode keeps memory flat)."""
    from openpyxl import Workbook

    words = Words(lang)
    start, end = month_bounds(period) if period else (None, None)
    book = Workbook(write_only=True)
    rows = dossier.ledger_rows(conn, compact_code, start, end)
    # Dated by its content, not the clock, so the same data gives the same file.
    stamp = _latest(rows).astimezone(SHANGHAI).replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    sheet = book.create_sheet(words("ledger.sheet"))
    sheet.append(_heads(words))
    for row in rows:
        sheet.append(list(_cells(row, words)))
    out = io.BytesIO()
    book.save(out)
    content = _fixed_zip_times(out.getvalue(), stamp)
    title = words("ledger.file_title", compact=compact_code, range=_ledger_range(period, lang))
    return Built("ledger", title, compact_code, period, None, content, "xlsx")


def _fixed_zip_times(content: bytes, stamp: datetime) -> bytes:
    """Equal data, equal file: openpyxl stamps the document's modified time and each zip entry with the clock."""
    import re
    import zipfile

    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            fixed = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + iso.encode() + rb"\g<2>",
                    data,
                )
            target.writestr(fixed, data)
    return out.getvalue()
