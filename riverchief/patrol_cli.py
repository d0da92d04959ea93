"""The ``riverchief patrol``, ``case`` and ``lead`` commands: 巡 and 查.

Patrols and their tracks, swap pairings, completion, the bulletin and
interview lists, scorecards, patrol funding for the finance office, joint
enforcement cases and litigation leads. ``riverchief.cli`` mounts them; its
``main`` turns every refusal into one line and an exit code.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from riverchief.present import terminal
from workflow.core.errors import ValidationFailed

if TYPE_CHECKING:
    from riverchief.bootstrap import App
    from workflow.core.actors import Actor
    from workflow.patrols.batches import PatrolItem

# As in riverchief.cli, each command imports what it needs when it runs (the tables, the services, the bars).

patrol_app = typer.Typer(no_args_is_help=True, help="Patrols (巡): records, swap pairings, completion, funding.")
pairings_app = typer.Typer(no_args_is_help=True, help="Swap-patrol pairings (交叉互巡) between boundary chiefs.")
patrol_app.add_typer(pairings_app, name="pairings")
quota_app = typer.Typer(no_args_is_help=True, help="Patrol quotas (巡河计划): by level, everywhere or for one scope.")
patrol_app.add_typer(quota_app, name="quota")
case_app = typer.Typer(no_args_is_help=True, help="Joint enforcement cases (联合执法): parties and coordinators only.")
lead_app = typer.Typer(no_args_is_help=True, help="Litigation leads (公益诉讼线索) transferred to procuratorates.")

console = terminal()
err_console = Console(stderr=True, soft_wrap=True)


def _app() -> App:
    from riverchief.bootstrap import bootstrap

    return bootstrap()


def _actor(wired: App, code: str) -> Actor:
    from workflow.core.actors import load_actor

    with wired.reader() as uow:
        return load_actor(uow.session, code)


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def _when(text: str | None, field: str) -> datetime | None:
    """A time as typed: ISO 8601; without an offset it is Asia/Shanghai's."""
    from workflow.core.clock import SHANGHAI

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(field, f"{text!r} is not a time like 2026-03-05T09:00") from None
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _local(value: datetime | None) -> str:
    from workflow.core.clock import SHANGHAI

    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "—"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "巡河中 under way"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _km(metres: int | None) -> str:
    return "—" if metres is None else f"{metres / 1000:.2f} km"


def _compact_id(wired: App, compact: str | None) -> int | None:
    from workflow.reading.issues import compact_id_of

    if compact is None:
        return None
    with wired.reader() as uow:
        return compact_id_of(uow.connection, compact)


# -- patrols --------------------------------------------------------------------------------------


@patrol_app.command("record")
def patrol_record(
    patroller: Annotated[str, typer.Argument(help="the patrolling chief's (or, covert, inspector's) code")],
    segment: Annotated[str, typer.Argument(help="the segment's code")],
    start: Annotated[str | None, typer.Option(help="2026-03-05T09:00 (Asia/Shanghai); else the track's")] = None,
    end: Annotated[str | None, typer.Option(help="2026-03-05T11:00; else the track's")] = None,
    track: Annotated[Path | None, typer.Option(help="a .gpx or .geojson track")] = None,
    swap: Annotated[bool, typer.Option("--swap", help="a swap patrol on the neighbour's segment")] = False,
    covert: Annotated[bool, typer.Option("--covert", help="a covert inspection (暗访)")] = False,
    notes: Annotated[str, typer.Option()] = "",
) -> None:
    """Record a patrol: own segment, or the neighbour's under a live swap pairing."""
    from workflow.patrols.records import record_patrol
    from workflow.patrols.tracks import parse_track

    if swap and covert:
        raise ValidationFailed("--swap", "a patrol is a swap patrol or a covert inspection, not both")
    wired = _app()
    parsed = parse_track(_read(track), track.name) if track is not None else None
    who = _actor(wired, patroller)
    done = record_patrol(
        wired.uow(),
        who,
        segment,
        started_at=_when(start, "--start"),
        ended_at=_when(end, "--end"),
        track=parsed,
        kind="swap" if swap else "covert" if covert else None,
        notes=notes,
    )
    _print_recorded(done, patroller, segment)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationFailed("track", f"{path} cannot be read: {exc.strerror}") from exc


def _print_recorded(done: Any, patroller: str, segment: str) -> None:
    from workflow.patrols.basics import kind_label

    pairing = f", pairing #{done.pairing_id}" if done.pairing_id else ""
    console.print(
        f"patrol #{done.id}: {kind_label(done.kind)} ({done.kind}) of {segment} by {patroller}, "
        f"{_local(done.started_at)} to {_local(done.ended_at)} ({_duration(done.duration_s)}), "
        f"{_km(done.length_m)}{pairing}"
    )


@patrol_app.command("import")
def patrol_import(
    patroller: Annotated[str, typer.Argument(help="the patrolling chief's code")],
    segment: Annotated[str, typer.Argument(help="the segment's code")],
    tracks: Annotated[
        list[Path], typer.Argument(help="timed .gpx or .geojson tracks, one patrol each, or folders of them")
    ],
    swap: Annotated[bool, typer.Option("--swap", help="swap patrols on the neighbour's segment")] = False,
) -> None:
    """Record one patrol per track file (of a folder: its .gpx, .geojson and .json files), all of them or none.

    The refusals are listed by file and field: first every file that cannot be read; once all of them read,
    every patrol the rules refuse. Nothing is recorded until none is refused, so the same command can simply
    be run again once the files are mended.
    """
    from rich.progress import Progress

    from workflow.patrols.batches import record_all

    files = track_files(tracks)
    wired = _app()
    who = _actor(wired, patroller)
    refused: list[tuple[str, str, str]] = []
    items: list[PatrolItem] = []
    with Progress(console=err_console, transient=True) as progress:
        reading = progress.add_task("reading tracks", total=len(files))
        for path in files:
            try:
                items.append(_track_item(path, segment, swap))
            except ValidationFailed as exc:
                refused += [(_shown(path), field, reason) for field, reason in exc.errors]
            progress.advance(reading)
        if not refused:
            storing = progress.add_task("recording patrols", total=len(items))
            try:
                done = record_all(wired.uow(), who, items, progress=lambda n: progress.advance(storing, n))
            except ValidationFailed as exc:
                refused = [_by_file(files, field, reason) for field, reason in exc.errors]
    if refused:
        print_refused(console, refused)
        raise ValidationFailed(
            "tracks", f"nothing recorded: {len(refused)} problem(s) in {len(files)} file(s); mend them and run again"
        )
    print_imported(console, files, done)
    console.print(f"recorded {len(done)} patrol(s) of {segment} by {patroller} from {len(files)} file(s)")


TRACK_SUFFIXES = (".gpx", ".geojson", ".json")


def track_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the track files (by suffix, by name) of each folder named; each once."""
    files: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TRACK_SUFFIXES)
            if not found:
                raise ValidationFailed("tracks", f"{path} holds no {', '.join(TRACK_SUFFIXES)} file")
            files.update(dict.fromkeys(found))
        elif path.exists():
            files[path] = None
        else:
            raise ValidationFailed("tracks", f"{path} does not exist")
    return list(files)


def _shown(path: Path) -> str:
    """A file as a person finds it: from the current folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _track_item(path: Path, segment: str, swap: bool) -> PatrolItem:
    from workflow.patrols.batches import PatrolItem
    from workflow.patrols.tracks import parse_track

    track = parse_track(_read(path), path.name)
    return PatrolItem(segment, None, None, track, "swap" if swap else None)


def _by_file(files: Sequence[Path], field: str, reason: str) -> tuple[str, str, str]:
    """A batch's refusal (``[3].ended_at``, "overlaps patrol [1] of this batch") as (the file, its field, the
    reason), each patrol named by its file; "—" for a refusal of the whole import."""

    def name(index: str) -> str | None:
        return _shown(files[int(index)]) if int(index) < len(files) else None

    reason = re.sub(r"\[(\d+)\]", lambda m: name(m[1]) or m[0], reason)
    index, sep, rest = field.partition("].")
    if field.startswith("[") and sep and index[1:].isdigit() and (path := name(index[1:])) is not None:
        return path, rest, reason
    return "—", field, reason


def print_refused(out: Console, refused: Sequence[tuple[str, str, str]]) -> None:
    """Each refusal of an import: the file, the field and why."""
    table = Table(title="未导入 refused")
    for column in ("文件 file", "字段 field", "原因 reason"):
        table.add_column(column, overflow="fold")
    for path, field, reason in refused:
        table.add_row(escape(path), escape(field), escape(reason))
    out.print(table)


def print_imported(out: Console, files: Sequence[Path], done: Sequence[Any]) -> None:
    """Each imported file with the patrol it became."""
    from workflow.patrols.basics import kind_label

    table = Table(title="已导入 imported")
    for column in ("文件 file", "#", "类型", "开始", "时长", "里程"):
        table.add_column(column, overflow="fold")
    for path, patrol in zip(files, done, strict=True):
        table.add_row(
            escape(_shown(path)),
            str(patrol.id),
            kind_label(patrol.kind),
            _local(patrol.started_at),
            _duration(patrol.duration_s),
            _km(patrol.length_m),
        )
    out.print(table)


@patrol_app.command("report")
def patrol_report(
    patrol: Annotated[int, typer.Argument(help="the patrol's number")],
    actor: Annotated[str, typer.Option("--as", help="the patroller's code")],
    title: Annotated[str, typer.Option()],
    category: Annotated[str, typer.Option(help="e.g. domestic_sewage, livestock, sand_mining")],
    compact: Annotated[str, typer.Option()] = "QJ",
    description: Annotated[str, typer.Option()] = "",
    place: Annotated[str, typer.Option()] = "",
    lon: Annotated[float | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option()] = None,
    difficulty: Annotated[str, typer.Option()] = "normal",
) -> None:
    """Report what a patrol found; from a swap patrol it goes to the owner side at once."""
    from riverchief.present import state_label
    from workflow.core.services import IssueDraft
    from workflow.patrols.records import report_from_patrol

    wired = _app()
    who = _actor(wired, actor)
    draft = IssueDraft(
        compact=compact,
        title=title,
        category=category,
        description=description,
        difficulty=difficulty,
        place=place,
        lon=lon,
        lat=lat,
    )
    done = report_from_patrol(wired.uow(), who, patrol, draft, late=True)
    handed = f", handed to {done.handed_to} (the owner side)" if done.handed_to else ""
    console.print(f"{done.issue_code}: {state_label(done.state)} from {done.kind} patrol #{patrol}{handed}")


@patrol_app.command("list")
def patrol_list(
    person: Annotated[str | None, typer.Option(help="one patroller's code")] = None,
    month: Annotated[str | None, typer.Option(help="2026-03")] = None,
) -> None:
    """Patrols, latest first."""
    from workflow.patrols.basics import kind_label
    from workflow.patrols.records import list_patrols

    with _app().reader() as uow:
        rows = list_patrols(uow.connection, person=person, month=month)
    table = Table(title="巡河记录 patrols")
    for column in ("#", "巡河人", "河段", "类型", "开始", "时长", "里程", "上报问题"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            escape(r.patroller_name),
            escape(r.segment_name),
            kind_label(r.kind),
            _local(r.started_at),
            _duration(r.duration_s),
            _km(r.length_m),
            ", ".join(r.issues) or "—",
        )
    console.print(table)


@patrol_app.command("quotas")
def patrol_quotas() -> None:
    """The patrol quotas in force, by chief level and scope (the same as `patrol quota list`)."""
    quota_list()


@quota_app.command("list")
def quota_list() -> None:
    """The patrol quotas in force: level, scope and quota; a jurisdiction's row holds the chiefs within it."""
    from workflow.patrols.basics import DEFAULT_QUOTAS, level_label
    from workflow.patrols.quotas import Quota, quotas

    with _app().reader() as uow:
        in_force = quotas(uow.connection).rows
    table = Table(title="巡河计划 patrol quotas" + ("" if in_force else "（未设定；常见做法如下）"))
    for column in ("层级 level", "范围 scope", "要求 quota"):
        table.add_column(column)
    shown = in_force or [Quota(*q) for q in DEFAULT_QUOTAS]
    for q in shown:
        scope = f"辖区 {q.jurisdiction}" if q.jurisdiction else f"协作机制 {q.compact}" if q.compact else "全部 all"
        table.add_row(f"{level_label(q.level)} {q.level}", escape(scope), q.describe())
    console.print(table)


JurisdictionOption = Annotated[str | None, typer.Option(help="only the chiefs within this division code")]
CompactOption = Annotated[str | None, typer.Option(help="only this compact's chiefs (its code)")]


def _named_as_typed(exc: ValidationFailed) -> ValidationFailed:
    """The workflow's field names as the command's: --jurisdiction, --compact, LEVEL, COUNT, PER."""
    return ValidationFailed.of(
        [(f"--{f}" if f in ("jurisdiction", "compact") else f.upper(), r) for f, r in exc.errors]
    )


def _scope_label(jurisdiction: str | None, compact: str | None) -> str:
    return f"辖区 {jurisdiction}" if jurisdiction else f"协作机制 {compact}" if compact else "全部"


def _one_scope(jurisdiction: str | None, compact: str | None) -> None:
    if jurisdiction is not None and compact is not None:
        raise ValidationFailed("--compact", "a quota holds one jurisdiction's chiefs or one compact's, not both")


@quota_app.command("set")
def quota_set(
    level: Annotated[str, typer.Argument(help="village, township, district, city or province")],
    count: Annotated[int, typer.Argument(help="patrols, 1 to 100")],
    per: Annotated[str, typer.Argument(help="week, tenday, month, quarter or year")],
    jurisdiction: JurisdictionOption = None,
    compact: CompactOption = None,
) -> None:
    """Set (or replace) a level's quota: everywhere, within a jurisdiction (the deepest wins) or in a compact."""
    from workflow.patrols.basics import level_label
    from workflow.patrols.quotas import Quota, set_quota

    _one_scope(jurisdiction, compact)
    try:
        set_quota(_app().uow(), level, count, per, jurisdiction, compact)
    except ValidationFailed as exc:
        raise _named_as_typed(exc) from None
    scope = escape(_scope_label(jurisdiction, compact))
    console.print(f"{level_label(level)}河长（{scope}）：{Quota(level, count, per).describe()}")


@quota_app.command("clear")
def quota_clear(
    level: Annotated[str, typer.Argument(help="the level whose quota goes")],
    jurisdiction: JurisdictionOption = None,
    compact: CompactOption = None,
) -> None:
    """Remove a level's quota for one scope (none given: the level's default row)."""
    from workflow.patrols.quotas import clear_quota

    _one_scope(jurisdiction, compact)
    try:
        clear_quota(_app().uow(), level, jurisdiction, compact)
    except ValidationFailed as exc:
        raise _named_as_typed(exc) from None
    console.print(f"已取消 {escape(level)}（{escape(_scope_label(jurisdiction, compact))}）的巡河计划")


@patrol_app.command("completion")
def patrol_completion(
    period: Annotated[str | None, typer.Argument(help="a year 2026, a quarter 2026-Q1 or a month 2026-03")] = None,
    month: Annotated[str | None, typer.Option(help="2026-03 (the same as giving it as the period)")] = None,
    compact: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Patrol completion per district and per chief over a year, a quarter or a month (it may exceed 100%)."""
    from rich.progress import Progress

    from workflow.patrols.completion import completion
    from workflow.patrols.quotas import period_months

    if (period is None) == (month is None):
        raise ValidationFailed("period", "give a period (2026, 2026-Q1 or 2026-03), or --month, once")
    period_months(period or month or "", "period" if month is None else "--month")  # refused before the bar
    wired = _app()
    compact_id = _compact_id(wired, compact)
    with Progress(console=err_console, transient=True) as progress:
        progress.add_task(f"patrol completion {period or month}", total=None)
        with wired.reader() as uow:
            done = completion(uow.connection, period or month or "", compact_id)
    print_completion(console, done)


def print_completion(out: Console, done: Any) -> None:
    """Completion per district and per chief, the overall rate and the chiefs under quota."""
    from workflow.patrols.basics import level_label, percent

    places = Table(title=f"各区县巡河完成率 {done.period}")
    for column in ("区县", "考核河长", "未达标", "应巡", "实巡", "完成率"):
        places.add_column(column, justify="left" if column == "区县" else "right")
    for j in done.at_level("district"):
        places.add_row(escape(j.name), str(j.chiefs), str(j.under), str(j.required), str(j.done), percent(j.rate))
    out.print(places)
    chiefs = Table(title=f"河长巡河完成情况 {done.period}")
    for column in ("河长", "单位", "层级", "考核期", "应巡", "实巡", "完成率"):
        chiefs.add_column(column, justify="right" if column in ("应巡", "实巡", "完成率") else "left")
    for c in done.chiefs:
        rate = percent(c.rate)
        chiefs.add_row(
            escape(c.name),
            escape(c.jurisdiction),
            level_label(c.level),
            c.window,
            str(c.required) if c.required else "—",
            str(c.done),
            f"[red]{rate}[/red]" if c.required and c.under else rate,
        )
    out.print(chiefs)
    out.print(f"总体完成率 overall {percent(done.rate)} ({done.done}/{done.required})")
    names = "、".join(f"{escape(c.name)}（{escape(c.jurisdiction)} {c.done}/{c.required}）" for c in done.under_quota)
    out.print(f"未完成巡河任务 under quota: {names or '无'}")


@patrol_app.command("interviews")
def patrol_interviews(
    period: Annotated[str, typer.Option(help="a quarter 2026-Q1, or the three months ending 2026-05")],
    compact: Annotated[str | None, typer.Option()] = None,
) -> None:
    """The chiefs under patrol quota three months running (季约谈)."""
    from workflow.patrols.completion import interview_list

    wired = _app()
    compact_id = _compact_id(wired, compact)
    with wired.reader() as uow:
        entries = interview_list(uow.connection, period, compact_id)
    table = Table(title=f"连续三个月巡河未达标河长 {period}")
    for column in ("河长", "单位", "各月 实巡/应巡"):
        table.add_column(column)
    for e in entries:
        months = "  ".join(f"{m.window} {m.done}/{m.required}" for m in e.months)
        table.add_row(escape(e.name), escape(e.jurisdiction), months)
    console.print(table)
    if not entries:
        console.print("无 none")


@patrol_app.command("scorecard")
def patrol_scorecard(
    person: Annotated[str, typer.Argument(help="the chief's code")],
    year: Annotated[int, typer.Option(help="the assessment year")],
) -> None:
    """A chief's scorecard for the annual assessment (考核)."""
    from workflow.patrols.basics import percent
    from workflow.patrols.scorecards import scorecard

    wired = _app()
    with wired.reader() as uow:
        card = scorecard(uow.connection, person, year, wired.clock.now())
    table = Table(title=f"河长履职考核 {escape(card.name)}（{escape(card.jurisdiction)}）{card.year}")
    table.add_column("项目")
    table.add_column("", justify="right")
    rows = [
        ("巡河完成率", f"{percent(card.completion)} ({card.patrols_done}/{card.patrols_required})"),
        ("未达标考核期", ", ".join(card.months_under) or "无"),
        ("交叉互巡", str(card.swap_patrols)),
        ("发现上报问题", str(card.issues_found)),
        ("其中巡河发现", str(card.issues_found_on_patrols)),
        ("接收交办", str(card.handoffs_received)),
        ("按时受理或提出异议", str(card.answered_in_time)),
        ("逾期答复", str(card.answered_late)),
        ("逾期未答复", str(card.unanswered)),
        ("未到期", str(card.pending)),
        ("超期事项", ", ".join(card.overdue_items) or "无"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


@patrol_app.command("class")
def patrol_class(
    township: Annotated[str, typer.Argument(help="the township's division code")],
    grade: Annotated[str, typer.Argument(help="Ⅰ, Ⅱ, Ⅲ or Ⅳ (I–IV)")],
) -> None:
    """Set a township's class, which sets the district's share of its patrol funding (Ⅰ 70% … Ⅳ 95%)."""
    from workflow.patrols.funding import DISTRICT_SHARE, GRADE_LABELS, set_township_class

    stored = set_township_class(_app().uow(), township, grade)
    console.print(f"{township}: class {GRADE_LABELS[stored]}, district share {DISTRICT_SHARE[stored]}%")


@patrol_app.command("standard")
def patrol_standard(
    jurisdiction: Annotated[str, typer.Argument(help="the district (or other) division code")],
    per_patrol: Annotated[str, typer.Option(help="subsidy per patrol, yuan, e.g. 15.00")],
    insurance: Annotated[str, typer.Option(help="accident insurance per patroller a year, yuan")],
    effective_from: Annotated[str, typer.Option("--from", help="YYYY-MM-DD")],
) -> None:
    """Set a jurisdiction's patrol funding standard for the townships under it."""
    from workflow.patrols.funding import parse_yuan, set_funding_standard, yuan

    errors: list[tuple[str, str]] = []
    amounts = []
    for text, field in ((per_patrol, "--per-patrol"), (insurance, "--insurance")):
        try:
            amounts.append(parse_yuan(text, field))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed.of(errors)
    day = _day(effective_from, "--from")
    set_funding_standard(_app().uow(), jurisdiction, amounts[0], amounts[1], day)
    console.print(
        f"{jurisdiction} from {day}: {yuan(amounts[0])} yuan a patrol, {yuan(amounts[1])} yuan insurance a patroller"
    )


@patrol_app.command("funding")
def patrol_funding(
    month: Annotated[str, typer.Option(help="2026-03")],
    xlsx: Annotated[Path | None, typer.Option(help="write the table to this .xlsx for the finance office")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="write the table to this .csv (UTF-8, BOM)")] = None,
) -> None:
    """A month's patrol funding per township: subsidy, insurance, the district's and the township's share."""
    from workflow.patrols.funding import funding, funding_sheet

    with _app().reader() as uow:
        rows = funding(uow.connection, month)
    sheet = funding_sheet(rows)
    print_funding(console, sheet, month)
    if xlsx is None and csv_file is None:
        console.print("乡镇代码见导出表：--xlsx 文件 或 --csv 文件")
    if xlsx is not None:
        _write(xlsx, _xlsx(sheet, f"巡河经费{month}"))
        console.print(f"written {xlsx}")
    if csv_file is not None:
        _write(csv_file, _csv(sheet))
        console.print(f"written {csv_file}")


# The terminal's columns of the finance office's table, by its header: short two-line heads so the table fits 80
# columns. The township's code is left to the .xlsx/.csv; the per-patrol rate, one per funding unit, goes below.
_FUNDING_TERMINAL = (
    ("乡镇（街道）", "乡镇"),
    ("补助标准单位", "标准\n单位"),
    ("类别", "类别"),
    ("巡河次数", "巡河\n次数"),
    ("巡河人员", "巡河\n人员"),
    ("巡河补贴（元）", "巡河\n补贴"),
    ("意外保险（元）", "意外\n保险"),
    ("合计（元）", "合计"),
    ("区级补助比例", "区级\n比例"),
    ("区级承担（元）", "区级\n承担"),
    ("乡镇承担（元）", "乡镇\n承担"),
)


def print_funding(out: Console, sheet: Sequence[Sequence[Any]], month: str) -> None:
    """The finance office's table (``workflow.patrols.funding_sheet``) in the terminal, within 80 columns."""
    at = {str(name): i for i, name in enumerate(sheet[0])}
    table = Table(
        title=f"河长巡河经费 {escape(month)}（元）", box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True
    )
    for i, (_, head) in enumerate(_FUNDING_TERMINAL):
        numeric = i >= 3
        table.add_column(head, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")
    for row in sheet[1:]:
        table.add_row(*(escape(str(row[at[name]])) for name, _ in _FUNDING_TERMINAL))
    out.print(table)
    rates = {
        str(row[at["补助标准单位"]]): row[at["每次补助（元）"]] for row in sheet[1:] if row[at["每次补助（元）"]] != ""
    }
    if rates:
        out.print("每次补助：" + "，".join(f"{escape(unit)} {rate} 元" for unit, rate in sorted(rates.items())))


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise ValidationFailed(str(path), f"cannot be written: {exc.strerror}") from exc


def _csv(sheet: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(sheet)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(sheet: Sequence[Sequence[Any]], title: str) -> bytes:
    """The table as a workbook, amounts as numbers with two decimals."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    page = book.active
    page.title = title[:31]
    for row in sheet:
        page.append(list(row))
    for row in page.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
    for i, _ in enumerate(sheet[0]):
        page.column_dimensions[get_column_letter(i + 1)].width = 14
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@patrol_app.command("figures")
def patrol_figures(
    start: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="the day after the last, YYYY-MM-DD")],
    compact: Annotated[str, typer.Option()] = "QJ",
    side: Annotated[str | None, typer.Option(help="one side's division code, e.g. 500152")] = None,
) -> None:
    """The practice's figures over a period: boundary chiefs, swap patrols, hand-overs, joint cases, leads..."""
    from states.words import word
    from workflow.reading.practice import FIGURES, period_figures

    with _app().reader() as uow:
        figures = period_figures(uow.connection, compact, _day(start, "--from"), _day(end, "--to"), side)
    table = Table(title=f"{compact} {start} – {end}" + (f" · {side}" if side else ""))
    table.add_column("")
    table.add_column("", justify="right")
    for key in FIGURES:
        table.add_row(f"{word(f'progress.figure.{key}', False)} {key}", str(figures[key]))
    console.print(table)


# -- swap pairings --------------------------------------------------------------------------------


@pairings_app.command("add")
def pairings_add(
    chief_a: Annotated[str, typer.Argument(help="one boundary chief")],
    segment_a: Annotated[str, typer.Argument(help="that chief's segment")],
    chief_b: Annotated[str, typer.Argument(help="the chief across the border")],
    segment_b: Annotated[str, typer.Argument(help="that chief's segment")],
    starts_on: Annotated[str, typer.Option("--from", help="YYYY-MM-DD")],
    ends_on: Annotated[str, typer.Option("--to", help="YYYY-MM-DD, the last day")],
    compact: Annotated[str, typer.Option()] = "QJ",
    relation: Annotated[str | None, typer.Option(help="how segment A faces B; default the segments' own")] = None,
) -> None:
    """Pair two boundary chiefs: each may patrol the other's segment over the period."""
    from workflow.patrols.pairings import add_pairing

    first, last = _day(starts_on, "--from"), _day(ends_on, "--to")
    pairing_id = add_pairing(_app().uow(), compact, chief_a, segment_a, chief_b, segment_b, first, last, relation)
    console.print(f"pairing #{pairing_id}: {chief_a} ⇄ {chief_b}, {segment_a} ⇄ {segment_b}, {first} to {last}")


@pairings_app.command("list")
def pairings_list(
    compact: Annotated[str | None, typer.Option()] = None,
    on: Annotated[str | None, typer.Option(help="only those live on this day, YYYY-MM-DD")] = None,
) -> None:
    """Swap pairings, newest first."""
    from workflow.patrols.pairings import list_pairings

    with _app().reader() as uow:
        rows = list_pairings(uow.connection, compact=compact, on=_day(on, "--on") if on else None)
    table = Table(title="交叉互巡结对 swap pairings")
    for column in ("#", "河长 A", "河段 A", "河长 B", "河段 B", "关系", "起", "止"):
        table.add_column(column)
    for p in rows:
        table.add_row(
            str(p.id),
            escape(p.chief_a_name),
            escape(p.segment_a_name),
            escape(p.chief_b_name),
            escape(p.segment_b_name),
            p.relation,
            str(p.starts_on),
            str(p.ends_on),
        )
    console.print(table)


# -- 查: joint enforcement and litigation leads -------------------------------------------------


@case_app.command("add")
def case_add(
    actor: Annotated[str, typer.Option("--as", help="a coordinator, or a party's chief or office")],
    kind: Annotated[str, typer.Option(help="sand_mining, fishing, discharge or other")],
    title: Annotated[str, typer.Option()],
    parties: Annotated[list[str], typer.Option("--party", help="a party's division code; two or more")],
    opened_on: Annotated[str, typer.Option("--opened", help="YYYY-MM-DD")],
    team: Annotated[list[str] | None, typer.Option(help="an enforcement unit or officer; repeatable")] = None,
    issues: Annotated[list[str] | None, typer.Option("--issue", help="a linked issue's code; repeatable")] = None,
    compact: Annotated[str, typer.Option()] = "QJ",
) -> None:
    """Open a joint enforcement case."""
    from workflow.enforcement.cases import open_case

    wired = _app()
    code = open_case(
        wired.uow(),
        _actor(wired, actor),
        compact,
        kind,
        title,
        parties,
        _day(opened_on, "--opened"),
        team=team or [],
        issues=issues or [],
    )
    console.print(f"{code}: opened")


@case_app.command("list")
def case_list(
    actor: Annotated[str, typer.Option("--as", help="whose view: cases are seen by parties and coordinators")],
    compact: Annotated[str | None, typer.Option()] = None,
) -> None:
    """The joint enforcement cases the person may see."""
    from workflow.enforcement.cases import list_cases

    wired = _app()
    who = _actor(wired, actor)
    with wired.reader() as uow:
        print_cases(console, list_cases(uow.connection, who, compact=compact))


def print_cases(out: Console, cases: Sequence[Any]) -> None:
    """Joint enforcement cases as a table."""
    from states.policy import CASE_KINDS

    table = Table(title="联合执法案件 joint enforcement cases")
    for column in ("编号", "类型", "案件", "参与方", "执法力量", "立案", "结案", "处理结果", "关联问题"):
        table.add_column(column, overflow="fold")
    for c in cases:
        table.add_row(
            c.code,
            CASE_KINDS[c.kind].label_zh,
            escape(c.title),
            escape("、".join(c.parties)),
            escape("、".join(c.team)) or "—",
            str(c.opened_on),
            str(c.closed_on or "—"),
            escape(c.outcome or "—"),
            ", ".join(c.issues) or "—",
        )
    out.print(table)


@case_app.command("close")
def case_close(
    code: Annotated[str, typer.Argument(help="the case's code")],
    actor: Annotated[str, typer.Option("--as")],
    closed_on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD")],
    outcome: Annotated[str, typer.Option(help="what was decided and done")],
) -> None:
    """Close a case with its outcome."""
    from workflow.enforcement.cases import close_case

    wired = _app()
    close_case(wired.uow(), _actor(wired, actor), code, _day(closed_on, "--on"), outcome)
    console.print(f"{code}: closed")


@case_app.command("link")
def case_link(
    code: Annotated[str, typer.Argument(help="the case's code")],
    issue: Annotated[str, typer.Argument(help="the issue's code")],
    actor: Annotated[str, typer.Option("--as")],
) -> None:
    """Link an issue to a case."""
    from workflow.enforcement.cases import link_issue

    wired = _app()
    link_issue(wired.uow(), _actor(wired, actor), code, issue)
    console.print(f"{code}: linked {issue}")


@lead_app.command("add")
def lead_add(
    actor: Annotated[str, typer.Option("--as", help="a coordinator, or the side's chief or office")],
    jurisdiction: Annotated[str, typer.Option(help="the transferring side's division code")],
    procuratorate: Annotated[str, typer.Option(help="e.g. 潼南区人民检察院")],
    title: Annotated[str, typer.Option()],
    transferred_on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD")],
    issue: Annotated[str | None, typer.Option(help="the issue it came from")] = None,
    case: Annotated[str | None, typer.Option(help="the joint case it came from")] = None,
    compact: Annotated[str, typer.Option()] = "QJ",
) -> None:
    """Record a litigation lead transferred to a procuratorate."""
    from workflow.enforcement.leads import transfer_lead

    wired = _app()
    code = transfer_lead(
        wired.uow(),
        _actor(wired, actor),
        compact,
        jurisdiction,
        title,
        procuratorate,
        _day(transferred_on, "--on"),
        issue=issue,
        case=case,
    )
    console.print(f"{code}: transferred to {procuratorate}")


@lead_app.command("receipt")
def lead_receipt(
    code: Annotated[str, typer.Argument(help="the lead's code")],
    actor: Annotated[str, typer.Option("--as")],
    receipt_no: Annotated[str, typer.Option(help="the procuratorate's receipt number")],
    received_on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD")],
    outcome: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Record the procuratorate's receipt of a lead (and its outcome)."""
    from workflow.enforcement.leads import record_receipt

    wired = _app()
    record_receipt(wired.uow(), _actor(wired, actor), code, receipt_no, _day(received_on, "--on"), outcome)
    console.print(f"{code}: receipt {receipt_no}")


@lead_app.command("list")
def lead_list(
    actor: Annotated[str, typer.Option("--as", help="whose view: leads are seen by their side and coordinators")],
    compact: Annotated[str | None, typer.Option()] = None,
) -> None:
    """The litigation leads the person may see."""
    from workflow.enforcement.leads import list_leads

    wired = _app()
    who = _actor(wired, actor)
    with wired.reader() as uow:
        leads = list_leads(uow.connection, who, compact=compact)
    table = Table(title="移送公益诉讼线索 litigation leads")
    for column in ("编号", "移送方", "线索", "检察机关", "移送", "回执", "接收", "结果", "问题/案件"):
        table.add_column(column, overflow="fold")
    for lead in leads:
        table.add_row(
            lead.code,
            escape(lead.jurisdiction),
            escape(lead.title),
            escape(lead.procuratorate),
            str(lead.transferred_on),
            escape(lead.receipt_no or "—"),
            str(lead.received_on or "—"),
            escape(lead.outcome or "—"),
            " ".join(x for x in (lead.issue, lead.case) if x) or "—",
        )
    console.print(table)
