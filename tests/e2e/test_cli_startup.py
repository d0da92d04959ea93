"""The command line starts light: a command imports what it uses and no more (which modules, not how fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import Cli, World

# Run the CLI in a fresh interpreter, then write the exit code and every module loaded to a file.
PROBE = """
import json, sys
out, args = sys.argv[1], json.loads(sys.argv[2])
sys.argv = ["riverchief", *args]
from riverchief.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

# No command below needs the web stack, the report renderer, the map's geometry, the scheduler, the
# notification channels or the holidays fallback of the calendar.
HEAVY = (
    "fastapi",
    "uvicorn",
    "starlette",
    "web",
    "weasyprint",
    "reports",
    "shapely",
    "apscheduler",
    "notifications",
    "httpx",
    "jinja2",
    "holidays",
)
# The help needs none of the database layer either.
DATABASE = ("sqlalchemy", "sqlmodel", "pydantic_settings", "workflow.core.models", "states", "riverchief.bootstrap")


def loaded(cli: Cli, *args: str) -> tuple[int, set[str]]:
    """The exit code of ``riverchief args`` and the modules loaded by the time it ended."""
    out = cli.home / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), json.dumps(args)],
        cwd=cli.home,
        env=cli.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    found = json.loads(out.read_text())
    return found["code"], set(found["modules"])


def among(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The modules of ``packages`` (a package or any module under it) that are loaded."""
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize(
    "args", [("--help",), ("issue", "--help"), ("patrol", "import", "--help"), ("token", "create", "--help")]
)
def test_the_help_loads_the_command_line_and_nothing_of_the_application(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, modules = loaded(Cli(tmp_path), *args)
    assert code == 0
    assert "riverchief.cli" in modules
    assert among(modules, HEAVY + DATABASE) == []


def test_showing_an_issue_reads_the_database_without_the_web_reports_or_scheduler(
    tmp_path: Path, sqlite_world: World
) -> None:
    issue = sqlite_world.report()
    code, modules = loaded(Cli(tmp_path), "issue", "show", issue)
    assert code == 0
    assert "workflow.core.models" in modules  # it did read the issue
    assert among(modules, HEAVY) == []


def test_listing_the_jobs_does_not_start_the_scheduler_or_the_renderer(tmp_path: Path, sqlite_world: World) -> None:
    code, modules = loaded(Cli(tmp_path), "jobs", "list")
    assert code == 0
    assert "riverchief.scheduler" in modules
    assert among(modules, HEAVY) == []
