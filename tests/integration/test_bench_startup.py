"""The start-up bench still runs end to end: one run of each lane on a database of two extra people.

Not a timing test: the bench raises when a command fails, and every lane must report its figures (the batch
token lane too: this checkout's ``token create`` takes ``--out``), so the bench cannot rot unnoticed.
"""

import json
from pathlib import Path

import pytest

from bench.startup import main


@pytest.mark.slow
def test_every_lane_runs_and_reports_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "startup.json"
    main(["--runs", "1", "--people", "2", "--rounds", "1", "--output", str(out)])

    document = json.loads(out.read_text(encoding="utf-8"))
    for lane in ("help", "issue_show", "tokens_separate", "tokens_batch"):
        assert document[lane]["median_s"] > 0, lane
        assert document[lane]["cpu_median_s"] > 0, lane
    assert document["machine"]["cpus"] > 0
