"""SQLite syncs every commit (synchronous=FULL) unless the operator chooses otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from riverchief.bootstrap import bootstrap
from riverchief.settings import Settings
from workflow.core.db import READONLY

# PRAGMA synchronous answers with a number.
LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def synchronous(settings: Settings) -> str:
    """The level a connection of the wired engine runs with."""
    engine = bootstrap(settings).engine
    try:
        with engine.connect().execution_options(**{READONLY: True}) as conn:
            return LEVELS[conn.exec_driver_sql("PRAGMA synchronous").scalar_one()]
    finally:
        engine.dispose()


def test_sqlite_syncs_every_commit_by_default(tmp_path: Path) -> None:
    assert synchronous(Settings(data_dir=tmp_path)) == "FULL"


def test_the_operator_may_choose_another_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERCHIEF_SQLITE_SYNCHRONOUS", "NORMAL")
    assert synchronous(Settings(data_dir=tmp_path)) == "NORMAL"


def test_an_unknown_level_is_refused_naming_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERCHIEF_SQLITE_SYNCHRONOUS", "SOMETIMES")
    with pytest.raises(ValidationError, match="sqlite_synchronous"):
        Settings(data_dir=tmp_path)
