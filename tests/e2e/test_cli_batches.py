"""Commands that act on many things at once, in one process: tokens for many people, a folder of tracks."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import yaml

from tests.factories import Cli

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "riverchief" / "demo" / "qiongjiang.yaml"

# A chief's phone track of the 太安镇 segment, 09:10 to 10:25 in Shanghai on the day it is given.
TRACK = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="phone" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="30.20" lon="105.704"><time>{day}T01:10:00Z</time></trkpt>
<trkpt lat="30.21" lon="105.704"><time>{day}T01:40:00Z</time></trkpt>
<trkpt lat="30.22" lon="105.704"><time>{day}T02:25:00Z</time></trkpt>
</trkseg></trk></gpx>"""


def set_up(tmp_path: Path) -> Cli:
    """The 琼江 compact, with a provincial chief outside it and a retired chief of it."""
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    data["people"] += [
        {"code": "sc-province", "name": "省级河长", "role": "chief", "jurisdiction": "510000"},
        {"code": "tn-retired", "name": "退休河长", "role": "chief", "jurisdiction": "500152102", "active": False},
    ]
    world = tmp_path / "world.yaml"
    world.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cli = Cli(tmp_path)
    cli.ok("init")
    cli.ok("load", str(world))
    return cli


def stored(cli: Cli, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Rows of the CLI's database."""
    with closing(sqlite3.connect(cli.database)) as conn:
        return conn.execute(sql, params).fetchall()


def owner_of(cli: Cli, token: str) -> str | None:
    """Whose live token this is, by its stored hash."""
    rows = stored(
        cli,
        "SELECT p.code FROM api_token t JOIN person p ON p.id = t.person_id WHERE t.token_hash = ?",
        hashlib.sha256(token.encode()).hexdigest(),
    )
    return str(rows[0][0]) if rows else None


def token_file(path: Path) -> dict[str, str]:
    """The tokens of a file ``token create --out`` wrote, by person."""
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    assert header.split("\t") == ["person", "token_id", "token"]
    return {person: token for person, _, token in (row.split("\t") for row in rows)}


def test_tokens_for_many_people_are_made_at_once_into_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    cli = set_up(tmp_path)
    out = tmp_path / "tokens.tsv"
    out.write_text("kept\n", encoding="utf-8")
    out.chmod(0o644)

    refused = cli("token", "create", "tn-taian", "qj-coord", "--out", str(out))
    assert refused.returncode == 3
    assert "--out" in refused.stderr
    assert "--force" in refused.stderr
    assert out.read_text(encoding="utf-8") == "kept\n"
    assert stored(cli, "SELECT count(*) FROM api_token") == [(0,)]

    done = cli("token", "create", "tn-taian", "qj-coord", "tn-taian", "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert "rc_" not in done.stdout + done.stderr  # the tokens go to the file only
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    tokens = token_file(out)
    assert list(tokens) == ["tn-taian", "qj-coord"]  # in the order given, each person once
    assert {person: owner_of(cli, token) for person, token in tokens.items()} == {p: p for p in tokens}

    compact = tmp_path / "qj.tsv"
    cli.ok("token", "create", "--compact", "QJ", "--name", "sync", "--out", str(compact))
    everyone = token_file(compact)
    assert {"tn-taian", "qj-coord", "ngo-auditor", "zy-longtai"} <= set(everyone)
    assert "sc-province" not in everyone  # Sichuan's province is not a member of the compact
    assert "tn-retired" not in everyone
    assert len(everyone) == 18
    assert stat.S_IMODE(compact.stat().st_mode) == 0o600

    before = stored(cli, "SELECT count(*) FROM api_token")
    unknown = cli("token", "create", "tn-yuxi", "nobody", "tn-retired", "--out", str(tmp_path / "none.tsv"))
    assert unknown.returncode == 4
    assert "nobody, tn-retired" in unknown.stderr
    assert not (tmp_path / "none.tsv").exists()
    assert stored(cli, "SELECT count(*) FROM api_token") == before

    shown = cli.ok("token", "create", "tn-yuxi", "tn-biekou").splitlines()
    assert [line.split()[3] for line in shown[:2]] == ["tn-yuxi:", "tn-biekou:"]
    assert [owner_of(cli, line.split()[4]) for line in shown[:2]] == ["tn-yuxi", "tn-biekou"]


def test_a_folder_of_tracks_is_recorded_whole_or_not_at_all_with_each_refusal_named_by_file(tmp_path: Path) -> None:
    cli = set_up(tmp_path)
    folder = tmp_path / "phone"
    folder.mkdir()
    for day in ("2026-03-05", "2026-03-06", "2026-03-07"):
        (folder / f"{day}.gpx").write_text(TRACK.format(day=day), encoding="utf-8")
    (folder / "notes.txt").write_text("not a track", encoding="utf-8")
    (folder / "cut.gpx").write_bytes(b"<gpx><trk>")
    (folder / "zz-again.gpx").write_text(TRACK.format(day="2026-03-06"), encoding="utf-8")

    unreadable = cli("patrol", "import", "tn-taian", "qj-taian", str(folder))
    assert unreadable.returncode == 3
    assert "nothing recorded" in unreadable.stderr
    cut = next(line for line in unreadable.stdout.splitlines() if "cut.gpx" in line)
    assert cut.split("│")[2].strip() == "track"  # the file, its field, the reason
    assert stored(cli, "SELECT count(*) FROM patrol") == [(0,)]

    (folder / "cut.gpx").unlink()
    overlapping = cli("patrol", "import", "tn-taian", "qj-taian", str(folder))
    assert overlapping.returncode == 3
    refusal = next(line for line in overlapping.stdout.splitlines() if "zz-again.gpx" in line)
    assert refusal.split("│")[2].strip() == "started_at"
    assert "overlaps" in refusal
    assert "2026-03-06.gpx" in overlapping.stdout  # the patrol it overlaps, by its file
    assert stored(cli, "SELECT count(*) FROM patrol") == [(0,)]

    (folder / "zz-again.gpx").unlink()
    imported = cli.ok("patrol", "import", "tn-taian", "qj-taian", str(folder))
    assert "recorded 3 patrol(s) of qj-taian by tn-taian from 3 file(s)" in imported
    assert all(f"{day}.gpx" in imported for day in ("2026-03-05", "2026-03-06", "2026-03-07"))
    days = stored(cli, "SELECT date(started_at) FROM patrol ORDER BY started_at")
    assert days == [("2026-03-05",), ("2026-03-06",), ("2026-03-07",)]
