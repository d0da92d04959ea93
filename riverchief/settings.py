"""Settings from the environment (``RIVERCHIEF_*``) with embedded defaults."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from workflow.core.db import sqlite_url


class Settings(BaseSettings):
    """Where the data lives and which database to use."""

    model_config = SettingsConfigDict(env_prefix="RIVERCHIEF_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite in data_dir
    # A read-only copy of the database (a PostgreSQL streaming replica), for reads that may lag a moment behind:
    # the dashboard, the stats, the map and the scheduled reports (riverchief.bootstrap.App.replica_reader says
    # which). Steps, sign-ins, idempotency keys and every read that decides a write stay on database_url.
    # Unset: everything reads the primary.
    read_database_url: str | None = None
    calendar_file: Path | None = None  # extra holiday arrangements, beside the built-in file
    base_url: str = "http://localhost:8000"  # where the issue pages are, for links in messages
    # Mark the session cookie Secure even on plain-http requests: behind a TLS-terminating proxy.
    cookie_secure: bool = False

    # Email: with no SMTP host, messages are written as .eml files under data_dir/mail.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "琼江河长制跨界协作 <noreply@localhost>"
    # Generic webhooks are signed with this secret (HMAC-SHA256); robots carry their own.
    webhook_secret: str | None = None
    dispatch_max_attempts: int = 8
    # How long a dispatcher's claim on an outbox row lasts: the rows of a dispatcher that died go to the others
    # once it has run out. Keep it above the slowest single send (an SMTP server slow to answer may take a minute).
    dispatch_lease_seconds: int = Field(default=300, ge=5)
    # Evidence uploads (photos, PDFs) larger than this are refused: HTTP 413, nothing stored.
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # Request bodies larger than this are refused unread (HTTP 413): a JSON body is read whole before it is checked.
    body_max_bytes: int = Field(default=1024 * 1024, gt=0)
    # A multipart form with its files (several photos at upload_max_bytes each): its parts spool to disk, not memory.
    form_max_bytes: int = Field(default=100 * 1024 * 1024, gt=0)

    # The reverse proxies in front of the server (addresses or CIDR ranges, comma-separated in the
    # environment). Only from these is X-Forwarded-For believed when telling a client's address, which
    # the sign-in throttle counts by; with none, the address is the connection's peer.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # SQLite only: FULL makes every acknowledged step survive a power cut (it costs a sync per commit,
    # bench/README.md says how much); NORMAL is faster and may lose the last steps before the cut.
    sqlite_synchronous: Literal["EXTRA", "FULL", "NORMAL", "OFF"] = "FULL"
    # A 天地图 (Tianditu) browser key: the shared map then offers its vector map as a base layer. The key goes
    # to every browser that opens the map (restrict it to this site's domain in the key's settings); without
    # one the map is drawn from the stored layers alone and nothing is fetched from elsewhere.
    tianditu_key: str | None = None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        entries = value.split(",") if isinstance(value, str) else value
        try:
            return tuple(str(ipaddress.ip_network(e.strip(), strict=False)) for e in entries if e.strip())
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"each trusted proxy must be an IP address or a CIDR range: {exc}") from exc

    def resolved_database_url(self) -> str:
        """The database URL, SQLite under the data folder unless one is set."""
        return self.database_url or sqlite_url(self.data_dir.resolve())
