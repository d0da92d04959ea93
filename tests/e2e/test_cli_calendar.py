"""``riverchief calendar``: which years each source knows, and a refresh that recomputes pending deadlines."""

from __future__ import annotations

from pathlib import Path

from tests.factories import Cli


def test_calendar_show_names_each_source_and_its_years_and_refresh_reports_what_it_recomputed(tmp_path: Path) -> None:
    operator = tmp_path / "operator-calendar.yaml"
    operator.write_text("2031:\n  holidays: [2031-01-01]\n", encoding="utf-8")
    cli = Cli(tmp_path, env={"RIVERCHIEF_CALENDAR_FILE": str(operator)})
    cli.ok("init")

    shown = cli.ok("calendar", "show")

    assert "chinese_calendar: 2004-2026" in shown
    assert "holidays: 2001-2026" in shown
    assert "override: 2031" in shown
    assert "deadlines recomputed 已重算时限: 0, skipped: 0" in cli.ok("calendar", "refresh")
