"""Settings from the environment (``RIVERCHIEF_*``) with embedded defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from workflow.db import sqlite_url


class Settings(BaseSettings):
    """Where the data lives and which database to use."""

    model_config = SettingsConfigDict(env_prefix="RIVERCHIEF_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite in data_dir
    calendar_file: Path | None = None  # extra holiday arrangements, beside the built-in file

    def resolved_database_url(self) -> str:
        """The database URL, SQLite under the data folder unless one is set."""
        return self.database_url or sqlite_url(self.data_dir.resolve())
