"""``riverchief ledger seal`` as a user types it: a day that has not ended is refused in one line."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import Cli
from workflow.core.calendar import local_today


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A fresh database in a temporary folder."""
    runner = Cli(tmp_path)
    runner.ok("init")
    return runner


@pytest.mark.parametrize("ahead", [0, 7], ids=["today", "a week ahead"])
def test_ledger_seal_refuses_a_day_that_has_not_ended_naming_day_then_seals_yesterday(cli: Cli, ahead: int) -> None:
    day = local_today(datetime.now().astimezone()) + timedelta(days=ahead)

    refused = cli("ledger", "seal", "--day", day.isoformat())

    message = " ".join(refused.stderr.split())
    assert refused.returncode == 3, message
    assert message.startswith("error: --day:"), message
    assert "has not ended" in message
    assert "Traceback" not in refused.stderr
    assert "seal " in cli.ok("ledger", "seal")
    assert "seals" in cli.ok("ledger", "verify")
