"""Terminal presentation: issues, timelines and ledger reports as Rich tables."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from workflow.core.ledger import VerifyReport
    from workflow.core.models import Bulletin
    from workflow.reading.issues import DueItem, IssueSummary, IssueView

# The statechart, the tables and the time zone are imported where an issue is shown, not by every command
# that only needs ``terminal`` (riverchief.cli's ``--help`` among them).


def terminal() -> Console:
    """The console for a command's output: the terminal's width, or COLUMNS's when set; piped output otherwise gets
    room for the timeline tables (140 columns) instead of rich's 80."""
    return Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140)


def local(value: datetime | None) -> str:
    """A time as people here read it: Asia/Shanghai, to the minute."""
    from workflow.core.clock import SHANGHAI

    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "—"


def state_label(state: str) -> str:
    """A state's Chinese label with its code name."""
    from states import CHART

    return f"{CHART.state(state).label_zh} ({state})"


# A new issue's first event holds the whole report; the timeline shows its title.
_REPORT_SUMMARY = ("title",)


def _payload_text(trigger: str, payload: dict[str, Any]) -> str:
    if trigger in ("report", "flag") and "title" in payload:
        payload = {k: payload[k] for k in _REPORT_SUMMARY}
    parts = []
    for key, value in payload.items():
        if value in (None, "", []):
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}={text if len(text) <= 60 else text[:57] + '...'}")
    return escape("; ".join(parts))


def print_issue(console: Console, view: IssueView) -> None:
    """The issue's header and its timeline from the ledger."""
    from states import CHART
    from states.chart import SERVICE_TRIGGERS
    from states.policy import CATEGORIES

    category = CATEGORIES[view.category].label_zh if view.category in CATEGORIES else view.category
    console.print(f"[bold]{escape(view.code)}[/bold]  {escape(view.title)}")
    sides = f"交办方 {escape(view.reporting)} → 接收方 {escape(view.receiving or '—')}"
    console.print(f"  {escape(view.compact)} · {category} · {sides}")
    console.print(
        f"  状态 [bold]{state_label(view.state)}[/bold] · 版本 {view.version} · 时限 {local(view.due_at)}"
        f" · 反弹 {view.rebound_count} 次"
    )
    steps = [t for t in view.allowed if t not in SERVICE_TRIGGERS]
    if steps:
        console.print(f"  可执行: {', '.join(f'{t}（{CHART.trigger_label(t)}）' for t in steps)}")
    table = Table(title=f"台账 {escape(view.code)}", show_lines=False)
    for column in ("#", "时间", "操作", "状态", "经办人", "内容", "时限"):
        table.add_column(column, overflow="fold")
    for e in view.timeline:
        moved = (
            CHART.state(e.to_state).label_zh
            if e.from_state == e.to_state
            else (f"{CHART.state(e.from_state).label_zh} → {CHART.state(e.to_state).label_zh}")
        )
        table.add_row(
            str(e.seq),
            local(e.occurred_at),
            CHART.trigger_label(e.trigger),
            moved,
            escape(e.actor_name),
            _payload_text(e.trigger, e.payload),
            local(e.due_at),
        )
    console.print(table)
    console.print(f"  链头 (chain head) {view.ledger_head}")


def print_issue_list(console: Console, issues: Iterable[IssueSummary]) -> None:
    """Issues as a table, overdue ones in red."""
    table = Table(title="跨界问题")
    for column in ("编号", "标题", "状态", "交办方", "接收方", "时限", "版本"):
        table.add_column(column)
    for i in issues:
        due = f"[red]{local(i.due_at)} 超期[/red]" if i.overdue else local(i.due_at)
        table.add_row(
            escape(i.code),
            escape(i.title),
            state_label(i.state),
            escape(i.reporting),
            escape(i.receiving or "—"),
            due,
            str(i.version),
        )
    console.print(table)


def print_verify(console: Console, report: VerifyReport) -> None:
    """The ledger check: what was checked and the first break of each bad chain."""
    if report.ok:
        counted = f"{report.issues} chains, {report.events} events, {report.seals} seals"
        console.print(f"[green]台账校验通过[/green] ledger OK: {counted}")
        return
    console.print(
        f"[red]台账校验失败[/red] ledger BROKEN: {len(report.findings)} problem(s) "
        f"in {report.issues} chains, {report.events} events, {report.seals} seals"
    )
    for finding in report.findings:
        console.print(f"  [red]✗[/red] {escape(str(finding))}")


def print_due(console: Console, items: list[DueItem]) -> None:
    """Due and overdue issues by the party they wait on."""
    table = Table(title="到期与超期 due and overdue")
    for column in ("责任方", "编号", "标题", "状态", "时限"):
        table.add_column(column)
    for i in items:
        due = f"[red]{local(i.due_at)} 超期[/red]" if i.overdue else local(i.due_at)
        table.add_row(escape(i.party_name), escape(i.code), escape(i.title), state_label(i.state), due)
    console.print(table)


def print_bulletin(console: Console, bulletin: Bulletin) -> None:
    """A monthly bulletin (月通报): the month's figures beside the year's, then the overdue parties by name."""
    from states.words import word
    from workflow.reading.figures import FIGURES

    if nothing_recorded(bulletin):
        console.print(f"月通报 {escape(bulletin.period)}：本月无巡河与问题记录 (nothing recorded this month)")
        return
    table = Table(title=f"月通报 {bulletin.period}")
    table.add_column("")
    for column in ("本月 month", "本年累计 year to date"):
        table.add_column(column, justify="right")
    month, year = bulletin.figures.get("month", {}), bulletin.figures.get("year_to_date", {})
    for key, _ in FIGURES:
        table.add_row(f"{word(f'bulletin.figure.{key}', False)} {key}", str(month.get(key, 0)), str(year.get(key, 0)))
    table.add_row("超期 overdue", str(month.get("overdue", 0)), "")
    console.print(table)
    for party in bulletin.parties:
        chiefs = "、".join(party["chiefs"]) or "—"
        console.print(
            f"  [red]超期[/red] {escape(party['jurisdiction'])}（河长 {escape(chiefs)}）: {', '.join(party['issues'])}"
        )
    patrols = bulletin.figures.get("patrols")
    if patrols and patrols.get("required"):
        console.print(
            f"  巡河 patrols: {patrols['done']}/{patrols['required']}（{patrols['rate']}），"
            f"考核河长 {patrols['assessed']} 人"
        )
        for chief in patrols.get("under_quota", []):
            console.print(
                f"  [yellow]未完成巡河[/yellow] {escape(chief['name'])}（{escape(chief['jurisdiction'])}）"
                f" {chief['done']}/{chief['required']}"
            )


def nothing_recorded(bulletin: Bulletin) -> bool:
    """A month with no step on any issue, nothing overdue, no patrol and no joint case or lead: its bulletin is all
    zeros, and its chiefs all "under quota" only because nothing was recorded."""
    figures = bulletin.figures
    patrols = figures.get("patrols") or {}
    return (
        not any(figures.get("month", {}).values())
        and not bulletin.parties
        and not patrols.get("done")
        and not any((figures.get("enforcement") or {}).values())
    )
