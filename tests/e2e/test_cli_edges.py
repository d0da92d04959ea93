"""Hostile files and arguments on the command line: one ``error:`` line and the bad-input exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from riverchief.cli import EXIT_CODES
from tests.factories import Cli
from workflow.core.errors import ValidationFailed

BAD_INPUT = EXIT_CODES[ValidationFailed]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One initialised database for the module: every command here is refused and changes nothing."""
    shared = Cli(tmp_path_factory.mktemp("cli-edges"))
    shared.ok("init")
    return shared


def one_error_line(stderr: str) -> str:
    """The single ``error:`` line a refusal prints (fails on a traceback or on more than one line)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{stderr[:2000]}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


HOSTILE = {
    "deep.json": '{"jurisdictions": ' + "[" * 500 + "]" * 500 + "}",
    "deep.yaml": "jurisdictions:\n" + "[" * 1000 + "]" * 1000 + "\n",
    "digits.json": '{"patrol_quotas": [{"level": "township", "count": ' + "7" * 5000 + ', "per": "month"}]}',
    "digits.yaml": "patrol_quotas:\n  - {level: township, count: " + "7" * 5000 + ", per: month}\n",
    "nul.yaml": 'jurisdictions:\n  - {code: "510000", name: "四川\\0省", level: province}\n',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_loading_a_hostile_reference_file_exits_with_one_error_line_naming_it(
    cli: Cli, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_text(HOSTILE[name], encoding="utf-8")

    done = cli("load", str(path))

    assert done.returncode == BAD_INPUT, done.stdout + done.stderr
    line = one_error_line(done.stderr)
    assert str(path) in line or "jurisdictions" in line or "patrol_quotas" in line, line
    assert "loaded" not in done.stdout


def test_importing_a_map_layer_with_a_huge_number_or_deep_nesting_exits_with_one_error_line(
    cli: Cli, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.geojson"
    huge.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
        '"properties": {"code": "o1", "name": "排口", "n": ' + "9" * 5000 + "}}]}",
        encoding="utf-8",
    )
    deep = tmp_path / "deep.geojson"
    deep.write_text('{"type": "FeatureCollection", "features": ' + "[" * 600 + "]" * 600 + "}", encoding="utf-8")

    for path in (huge, deep):
        done = cli("map", "import", "outfall", str(path))

        assert done.returncode == BAD_INPUT, done.stdout + done.stderr
        one_error_line(done.stderr)


def test_an_argument_that_is_not_utf8_exits_with_one_error_line_naming_the_option(cli: Cli) -> None:
    # What a terminal in another encoding sends: bytes Python can only carry as lone surrogates.
    title = b"\xb0\xd7\xc2\xed".decode("utf-8", "surrogateescape")

    done = cli("issue", "new", "--as", "tn-taian", "--title", title, "--category", "domestic_sewage")

    assert done.returncode == BAD_INPUT, done.stdout + done.stderr
    assert one_error_line(done.stderr).startswith("error: --title:")


def test_a_seal_day_outside_1970_to_2100_exits_as_bad_input_naming_the_option(cli: Cli) -> None:

    done = cli("ledger", "seal", "--day", "0001-01-01")

    assert done.returncode == BAD_INPUT, done.stdout + done.stderr
    assert one_error_line(done.stderr).startswith("error: --day:")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("token", "revoke", "seven"), "Invalid value for 'token_id'"),
        (("issue", "list", "--no-such-option"), "No such option: --no-such-option"),
        (("issue", "fire"), "Missing argument"),
        (("outbox", "retry", "--all", "yes"), "Invalid value for 'ids'"),
    ],
)
def test_a_parse_error_is_one_error_line_with_the_usage_exit(cli: Cli, args: tuple[str, ...], named: str) -> None:
    done = cli(*args)

    assert done.returncode == 2, done.stdout + done.stderr
    line = one_error_line(done.stderr)
    assert named in line, line
    assert "--help" in line, line  # where to look next
    assert "╭" not in done.stderr  # no framed box


def test_a_flag_shows_in_the_help_as_a_flag_without_a_type(cli: Cli) -> None:
    done = cli("outbox", "retry", "--help")

    assert done.returncode == 0, done.stderr
    option = next(line for line in done.stdout.splitlines() if "--all" in line)
    assert "<bool>" not in option, option
    assert "every dead-lettered row" in option
    assert "<bool>" not in done.stdout


def test_no_command_shows_the_help_without_an_error_line(cli: Cli) -> None:
    done = cli()

    assert "Usage" in done.stdout + done.stderr
    assert "error:" not in done.stderr
