"""The province generator (bench.province) at a tiny scale: its ledger verifies, its shape holds, it repeats itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.orm import Session

from bench import province, province_data
from workflow.core.drawing import DRAWN_COLUMNS, drawn_columns, segment_line
from workflow.core.ledger import verify
from workflow.core.models import line_box

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # two loads: about 30 s on a busy machine

SCALE = 0.001
Loaded = tuple[dict[str, dict[str, Any]], dict[str, sa.Engine]]


@pytest.fixture(scope="module")
def loaded(postgres_server: str) -> Iterator[Loaded]:
    """Two loads with the same seed, each in its own database, dropped afterwards."""
    names = {"a": "riverchief_test_province_a", "b": "riverchief_test_province_b"}
    quiet = Console(quiet=True)
    results = {key: province.load(SCALE, 18, name, quiet) for key, name in names.items()}
    engines = {key: sa.create_engine(province.database_url(name)) for key, name in names.items()}
    yield results, engines
    for engine in engines.values():
        engine.dispose()
    admin = sa.create_engine(province.database_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_every_chain_verifies_and_matches_its_issue(loaded: Loaded) -> None:
    results, engines = loaded
    with Session(engines["a"]) as session:
        report = verify(session)
    assert report.ok, [str(f) for f in report.findings[:5]]
    assert report.issues == results["a"]["made"]["issues"] > 100
    assert report.events == results["a"]["made"]["events"] > 3 * report.issues


def test_the_shape_the_issue_asks_for(loaded: Loaded) -> None:
    _, engines = loaded
    with engines["a"].connect() as conn:

        def one(sql: str) -> int:
            return int(conn.execute(sa.text(sql)).scalar_one())

        # One compact across the border (with a district of 四川 or 贵州) and one inside 重庆.
        assert one("SELECT count(*) FROM compact WHERE code LIKE 'B%'") == 1
        assert one("SELECT count(*) FROM compact WHERE code LIKE 'N%'") == 1
        neighbours = one(
            "SELECT count(*) FROM compact_member m JOIN jurisdiction j ON j.id = m.jurisdiction_id "
            "WHERE j.path NOT LIKE '/500000/%'"
        )
        assert neighbours == 1
        # Every issue's sides lie under its compact's members.
        astray = one(
            "SELECT count(*) FROM issue i JOIN jurisdiction r ON r.id = i.reporting_jurisdiction_id "
            "WHERE NOT EXISTS (SELECT 1 FROM compact_member m JOIN jurisdiction j ON j.id = m.jurisdiction_id "
            "WHERE m.compact_id = i.compact_id AND r.path LIKE j.path || '%')"
        )
        assert astray == 0
        # Of this year's issues handed over, some cross the provincial border, most do not (5,000 of 60,000).
        handed, across = conn.execute(
            sa.text(
                "SELECT count(*), count(*) FILTER (WHERE split_part(a.path, '/', 2) <> split_part(b.path, '/', 2)) "
                "FROM issue i JOIN jurisdiction a ON a.id = i.reporting_jurisdiction_id "
                "JOIN jurisdiction b ON b.id = i.receiving_jurisdiction_id WHERE i.created_at >= :y"
            ),
            {"y": province_data.YEAR_START},
        ).one()
        assert 0 < across < handed / 3
        # Issues in many states, those still open with deadlines ahead; patrols by chiefs only, each with a track.
        assert one("SELECT count(DISTINCT state) FROM issue") >= 8
        assert one("SELECT count(*) FROM issue WHERE next_check_at > now() - interval '100 years'") > 0
        assert one("SELECT count(*) FROM patrol p JOIN person c ON c.id = p.patroller_id WHERE c.role <> 'chief'") == 0
        assert one("SELECT count(*) FROM patrol WHERE track IS NULL") == 0
        # Every segment's box is written with its line, as the app writes it (the maps read segments by it).
        segments = conn.execute(sa.text("SELECT geometry, min_lon, min_lat, max_lon, max_lat FROM segment")).all()
        assert segments
        assert all(tuple(line_box(s.geometry).values()) == tuple(s)[1:] for s in segments)
        # And so is what a map draws of it (read back instead of worked out on every map).
        drawn = conn.execute(sa.text(f"SELECT geometry, {', '.join(DRAWN_COLUMNS)} FROM segment")).all()
        assert all(
            dict(zip(DRAWN_COLUMNS, tuple(s)[1:], strict=True)) == drawn_columns(segment_line(s[0])) for s in drawn
        )
        assert one("SELECT count(*) FROM patrol") > one("SELECT count(*) FROM person WHERE role = 'chief'") * 20
        # The issue counters hold the last number given out per compact and year.
        assert (
            one(
                "SELECT count(*) FROM issue_counter c WHERE c.last <> (SELECT count(*) FROM issue i "
                "WHERE i.compact_id = c.compact_id AND i.code LIKE '%-' || c.year || '-%')"
            )
            == 0
        )


def test_the_same_seed_makes_the_same_province(loaded: Loaded) -> None:
    _, engines = loaded
    digests = {}
    for key, engine in engines.items():
        with engine.connect() as conn:
            digests[key] = province_data.digest(conn)
    assert digests["a"] == digests["b"]
    # Another seed makes another province (compared before any COPY: people and segment lines).
    one, other = province_data.build(SCALE, 18), province_data.build(SCALE, 19)
    assert one.people != other.people
    assert [s[-1] for s in one.segments] != [s[-1] for s in other.segments]
