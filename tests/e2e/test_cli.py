"""The ``riverchief`` command as a user runs it: a real process, a SQLite file, exit codes and one-line errors."""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from rich.cells import cell_len

from tests.factories import Cli as BaseCli

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "riverchief" / "demo" / "qiongjiang.yaml"
CODE = re.compile(r"QJ-\d{4}-\d{4}")


@dataclass
class Cli(BaseCli):
    """The CLI in a folder of its own, with the database helpers these tests use."""

    def dump(self) -> list[str]:
        """The whole database as SQL, to show a refused command changed nothing."""
        with closing(sqlite3.connect(self.database)) as conn:
            return list(conn.iterdump())


def set_up(cli: Cli) -> str:
    """init, load the 琼江 compact, report an issue and hand it over; returns the issue's code."""
    cli.ok("init")
    cli.ok("load", str(DATA))
    out = cli.ok(
        "issue", "new", "--as", "tn-taian", "--title", "白马镇段排污口", "--category", "domestic_sewage",
        "--segment", "qj-baima",
    )  # fmt: skip
    match = CODE.search(out)
    assert match, out
    cli.ok("issue", "fire", match.group(), "hand_off", "--as", "tn-taian", "--set", "receiving=510904101")
    return match.group()


def one_error_line(stderr: str) -> str:
    """The single ``error:`` line a refusal prints (fails if there is a traceback or more than one line)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def tamper(database: Path, sql: str, params: tuple[object, ...]) -> None:
    """Edit the SQLite file directly, stepping around the ledger's append-only triggers (put back afterwards)."""
    with closing(sqlite3.connect(database)) as conn, conn:
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'event'")
        saved = triggers.fetchall()
        for name in {"event_no_update", "event_no_delete", *(name for name, _ in saved)}:
            conn.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        conn.execute(sql, params)
        for _, ddl in saved:
            conn.execute(ddl)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """An empty folder with no database yet."""
    return Cli(tmp_path)


@pytest.fixture(scope="module")
def handed_off(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    """One database, set up once, with an issue handed over to 白马镇 (version 2); refusals must leave it as is."""
    cli = Cli(tmp_path_factory.mktemp("cli"))
    return cli, set_up(cli)


# -- a user's session --------------------------------------------------------------------------------------------


def test_a_user_creates_the_database_loads_the_compact_reports_hands_off_and_checks_the_ledger(cli: Cli) -> None:
    first = cli.ok("init")
    assert "empty →" in first
    again = cli.ok("init")
    assert "is up to date" in again

    loaded = cli.ok("load", str(DATA))
    assert "loaded 18 jurisdictions, 18 people, 1 compacts, 2 rivers, 8 segments" in loaded

    reported = cli.ok(
        "issue", "new", "--as", "tn-taian", "--title", "白马镇段排污口", "--category", "domestic_sewage",
        "--segment", "qj-baima",
    )  # fmt: skip
    code = CODE.search(reported)
    assert code, reported
    assert "已发现上报 (xun.reported), version 1" in reported

    fired = cli.ok("issue", "fire", code.group(), "hand_off", "--as", "tn-taian", "--set", "receiving=510904101")
    assert "已发现上报 (xun.reported) → 已交办待受理 (ban.handed_off), version 2" in fired

    shown = cli.ok("issue", "show", code.group())
    assert "白马镇段排污口" in shown
    assert "交办方 太安镇 → 接收方 白马镇" in shown
    assert "已交办待受理 (ban.handed_off)" in shown
    for label in ("发现上报", "问题交办", "新建 → 已发现上报", "已发现上报 → 已交办待受理", "陈志强"):
        assert label in shown, label
    assert "accept（受理）" in shown  # what may be done next
    assert "receiving=510904101" in shown

    listed = cli.ok("issue", "list")
    assert code.group() in listed
    assert "已交办待受理 (ban.handed_off)" in listed

    verified = cli.ok("ledger", "verify")
    assert "ledger OK: 1 chains, 2 events, 0 seals" in verified
    assert "ledger OK: 1 chains, 2 events, 0 seals" in cli.ok("ledger", "verify", "--jobs", "2")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_ledger_verify_exit_code_is_one_and_the_edited_event_is_named(
    handed_off: tuple[Cli, str], jobs: str
) -> None:
    """Checked in this process or by issue in two others, the break is found and named alike."""
    shared, code = handed_off
    cli = Cli(shared.home.parent / f"{shared.home.name}-tampered-{jobs}")
    cli.home.mkdir()
    with closing(sqlite3.connect(shared.database)) as source, closing(sqlite3.connect(cli.database)) as copy:
        source.backup(copy)
    with closing(sqlite3.connect(cli.database)) as conn:
        event_id, seq = conn.execute(
            "SELECT e.id, e.seq FROM event e JOIN issue i ON i.id = e.issue_id WHERE i.code = ? AND e.seq = 2", (code,)
        ).fetchone()

    tamper(cli.database, "UPDATE event SET actor_code = ? WHERE id = ?", ("qj-coord", event_id))
    done = cli("ledger", "verify", "--jobs", jobs)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "ledger BROKEN" in done.stdout
    assert f"{code}: event #{event_id} (seq {seq}): contents do not match" in done.stdout
    assert "Traceback" not in done.stderr


# -- refusals: one clear line, the right exit code, nothing changed --------------------------------------------------

REFUSALS = {
    "unknown trigger": (
        ["fire", "{code}", "teleport", "--as", "sn-baima"],
        3,
        "trigger: unknown trigger 'teleport'; {code} in ban.handed_off takes: accept, dispute, convene, dispatch",
    ),
    "wrong actor": (["fire", "{code}", "accept", "--as", "tn-taian"], 6, "tn-taian may not 'accept'"),
    "missing field": (["fire", "{code}", "dispute", "--as", "sn-baima"], 3, "reason: is required"),
    "stale expected version": (
        ["fire", "{code}", "accept", "--as", "sn-baima", "--expected-version", "1"],
        7,
        "expected version 1, it is now 2",
    ),
    "unknown person": (["fire", "{code}", "accept", "--as", "nobody"], 4, "person not found: nobody"),
    "trigger not allowed now": (
        ["fire", "{code}", "hand_off", "--as", "tn-taian", "--set", "receiving=510904101"],
        5,
        "cannot 'hand_off' from state 'ban.handed_off'",
    ),
    "unknown issue": (["fire", "QJ-2026-9999", "accept", "--as", "sn-baima"], 4, "issue not found: QJ-2026-9999"),
    "a --set without =": (["fire", "{code}", "dispute", "--as", "sn-baima", "--set", "reason"], 3, "--set: 'reason'"),
    "an unknown issue to show": (["show", "QJ-2026-9999"], 4, "issue not found: QJ-2026-9999"),
    "a report with an unknown category": (
        ["new", "--as", "tn-taian", "--title", "x", "--category", "ufo_sighting"],
        3,
        "category: 'ufo_sighting' is not one of",
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refused_command_prints_one_error_line_exits_with_its_code_and_changes_nothing(
    handed_off: tuple[Cli, str], refusal: str
) -> None:
    cli, code = handed_off
    args, exit_code, says = REFUSALS[refusal]
    before = cli.dump()

    done = cli("issue", *(a.format(code=code) for a in args))

    assert done.returncode == exit_code, done.stdout + done.stderr
    assert cli.dump() == before
    assert says.format(code=code) in one_error_line(done.stderr)


def test_a_malformed_load_file_exits_3_naming_the_bad_field_and_loads_nothing(
    handed_off: tuple[Cli, str], tmp_path: Path
) -> None:
    cli, _ = handed_off
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    data["jurisdictions"][0]["name"] = "改名的重庆市"  # valid, and early in the file
    data["people"][3]["jurisdiction"] = "500152199"  # no such jurisdiction
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    before = cli.dump()

    done = cli("load", str(bad))

    assert done.returncode == 3, done.stdout + done.stderr
    assert cli.dump() == before
    assert "people[3].jurisdiction: no jurisdiction with code '500152199'" in one_error_line(done.stderr)


def test_a_load_file_that_is_not_yaml_exits_3_naming_the_file(handed_off: tuple[Cli, str], tmp_path: Path) -> None:
    cli, _ = handed_off
    bad = tmp_path / "broken.yaml"
    bad.write_text("people:\n  - {code: tn-x, name: [unclosed\n", encoding="utf-8")
    before = cli.dump()

    done = cli("load", str(bad))

    assert done.returncode == 3, done.stdout + done.stderr
    assert cli.dump() == before
    assert f"{bad}: is not valid YAML" in done.stderr.replace("\n", "")  # (undoing any wrapping of the path)
    one_error_line(done.stderr)


# -- the diagram and the demo ------------------------------------------------------------------------------------


def test_the_chart_command_prints_a_mermaid_state_diagram(cli: Cli) -> None:
    out = cli.ok("chart")

    assert out.startswith("stateDiagram-v2\n")
    assert "[*] --> new" in out
    assert "ban_handed_off --> ban_accepted: 受理 accept" in out
    assert "archived --> [*]" in out


def test_the_demo_builds_its_own_database_plays_the_scenarios_and_finds_the_ledger_ok(cli: Cli) -> None:
    cli.env["COLUMNS"] = "80"  # as a new user's 80-column terminal shows it
    out = cli.ok("demo", "--database", str(cli.home / "demo.db"))
    del cli.env["COLUMNS"]

    assert "ledger OK" in out
    # The funding table fits the 80 columns with its heads whole, each township a row.
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "河长巡河经费 2026-03（元）" in line)
    last = next(i for i, line in enumerate(lines) if line.startswith("每次补助：潼南区 15.00 元，铜梁区 12.00 元"))
    funding = lines[first : last + 1]
    assert max(cell_len(line) for line in funding) <= 80
    assert not [line for line in funding if "…" in line]
    assert any(re.match(r"\s*太安镇\s+潼南区\s+Ⅱ\s+4\s+1\s+60\.00", line) for line in funding)
    # The first issue's timeline in full, and the one command that shows every other issue's.
    assert "台账 QJ-2026-0001" in out
    pointer = next(line for line in lines if line.startswith("其余 12 个问题的台账"))
    words = shlex.split(pointer.partition(": ")[2])
    k = words.index("issue")
    assignments, program, verb, noun, others = words[: k - 1], words[k - 1], words[k], words[k + 1], words[k + 2 :]
    assert noun == "show"
    checked = re.search(r"ledger OK: (\d+) chains", out)
    assert checked is not None
    chains = int(checked.group(1))
    assert ["QJ-2026-0001", *others] == [f"QJ-2026-{n:04d}" for n in range(1, chains + 1)]
    env = cli.environment() | dict(a.split("=", 1) for a in assignments)
    timelines = subprocess.run(
        [program, verb, noun, *others], env=env, cwd=cli.home, capture_output=True, text=True, timeout=120, check=False
    )
    assert timelines.returncode == 0, timelines.stderr
    assert re.findall(r"台账 (QJ-2026-\d{4})", timelines.stdout) == others
    # 潼南 holds its own chiefs to its quotas: March's bulletin counts their patrols (4 + 4 + 5 + 4 of 3 each, the
    # district chief's 1 of 1), and the year comes to 128% as the practice reports it; the neighbours are held to none.
    assert "巡河 patrols: 18/13（138%），考核河长 5 人" in out
    assert "潼南区 巡河200次、巡河上报问题2个、巡河完成率128%（200/156）" in out
    assert "安居区 巡河7次、巡河上报问题0个、巡河完成率—（未设巡河计划）" in out
    assert "password qiongjiang-2026" in out
    assert "make serve-demo" in out
    assert (cli.home / "demo.db").exists()
    assert not cli.database.exists(), "the demo touched the configured database"
    # The "look further" command works as printed: this install's riverchief, on the demo's database.
    printed = next(line for line in out.splitlines() if line.startswith("Look further:"))
    *assignments, program, verb, noun, code = shlex.split(printed.removeprefix("Look further:"))
    env = cli.environment() | dict(a.split("=", 1) for a in assignments)
    shown = subprocess.run(
        [program, verb, noun, code], env=env, cwd=cli.home, capture_output=True, text=True, timeout=120, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert code in shown.stdout


def test_setting_a_password_for_nobody_says_so_before_asking_for_one(cli: Cli) -> None:
    cli("init")
    done = cli("password", "set", "nobody")
    assert done.returncode == 4
    assert "password" not in done.stdout  # no prompt was shown
    assert one_error_line(done.stderr) == "error: person not found: nobody"
