"""The notification commands as an operator runs them: ``dispatch --once``, ``inbox``, ``outbox list`` and ``retry``.

Real ``riverchief`` processes against a SQLite file in a folder of their own (RIVERCHIEF_DATA_DIR), so the
embedded email channel writes .eml files under data_dir/mail. The database with an issue reported and handed
off is made once, through the command line, and copied for each test; webhooks go to a local HTTP server.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from notifications.channels import sign_webhook
from tests.factories import Cli as BaseCli

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "riverchief" / "demo" / "qiongjiang.yaml"
CODE = "QJ-2026-0001"
TITLE = "白马镇段排污口"
COORD_EMAIL = "coord@qiongjiang.example.cn"
SECRET = "e2e-webhook-secret"
FILES = ("db.sqlite", "db.sqlite-wal", "db.sqlite-shm")


@dataclass
class Cli(BaseCli):
    """The CLI against home/db.sqlite, with the database helpers these tests use."""

    database_name: str = "db.sqlite"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the database directly."""
        with closing(sqlite3.connect(self.database)) as conn:
            return list(conn.execute(sql, params))

    def dump(self) -> list[str]:
        with closing(sqlite3.connect(self.database)) as conn:
            return list(conn.iterdump())

    def mail(self) -> dict[str, EmailMessage]:
        """The .eml files under data_dir/mail, parsed, by file name."""
        folder = self.home / "mail"
        found = {}
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            found[path.name] = parsed
        return found


@pytest.fixture(scope="module")
def handed_off_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """init, load the 琼江 compact, report an issue and hand it to 白马镇, all through the CLI; made once."""
    cli = Cli(tmp_path_factory.mktemp("handed-off"))
    cli.ok("init")
    cli.ok("load", str(DATA))
    out = cli.ok(
        "issue", "new", "--as", "tn-taian", "--title", TITLE, "--category", "domestic_sewage", "--segment", "qj-baima"
    )
    assert out.startswith(f"{CODE}:"), out
    out = cli.ok("issue", "fire", CODE, "hand_off", "--as", "tn-taian", "--set", "receiving=510904101")
    assert "2 to notify" in out
    return cli.home


@pytest.fixture
def cli(handed_off_home: Path, tmp_path: Path) -> Cli:
    """A copy of the handed-off database in this test's own folder, nothing dispatched yet."""
    for name in FILES:
        if (handed_off_home / name).exists():
            shutil.copy2(handed_off_home / name, tmp_path / name)
    return Cli(tmp_path)


# -- a local webhook receiver ------------------------------------------------------------------------


@dataclass
class Hook:
    """What the local endpoint received; it answers the scripted statuses first, then 200."""

    port: int = 0
    statuses: deque[int] = field(default_factory=deque)
    hits: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/riverchief"


@contextmanager
def webhook_receiver(*statuses: int) -> Iterator[Hook]:
    hook = Hook(statuses=deque(statuses))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with hook.lock:
                hook.hits.append((dict(self.headers.items()), body))
                status = hook.statuses.popleft() if hook.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


def people_file(folder: Path, changes: dict[str, dict[str, Any]]) -> Path:
    """A reference file that changes how some demo people are reached (people load as upserts by code)."""
    demo = {p["code"]: p for p in yaml.safe_load(DATA.read_text(encoding="utf-8"))["people"]}
    path = folder / "reach.yaml"
    people = [{**demo[code], **change} for code, change in changes.items()]
    # Written out whole: the loader refuses YAML aliases, which a dump would use for repeated values.
    dumper = type("NoAliases", (yaml.SafeDumper,), {"ignore_aliases": lambda *_: True})
    path.write_text(yaml.dump({"people": people}, Dumper=dumper, allow_unicode=True), encoding="utf-8")
    return path


# -- the tests ---------------------------------------------------------------------------------------


def test_dispatch_once_writes_each_email_as_an_eml_file_fills_the_inboxes_and_sends_nothing_twice(cli: Cli) -> None:
    out = cli.ok("dispatch", "--once")
    assert "dispatched: 3 sent" in out

    mail = cli.mail()
    assert len(mail) == 2, "qj-coord has an address (report, hand-off); 白马镇's chief has none"
    assert all(name.endswith(".eml") and CODE in name for name in mail)
    subjects = sorted(str(m["Subject"]) for m in mail.values())
    assert subjects == sorted([f"【发现问题】{CODE} {TITLE}", f"【交办】{CODE} {TITLE}"])
    for m in mail.values():
        assert m["To"].addresses[0].addr_spec == COORD_EMAIL
        assert m["To"].addresses[0].display_name == "许慧敏"
        assert m["From"].addresses[0].display_name == "琼江河长制跨界协作"
        assert m.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]
    (hand_off,) = (m for m in mail.values() if "【交办】" in str(m["Subject"]))
    assert "太安镇已将问题交办白马镇，请关注受理进度。" in hand_off.get_body(("plain",)).get_content()

    listing = cli.ok("inbox", "sn-baima")
    assert f"【交办】{CODE} {TITLE}" in listing
    assert "太安镇向你方交办跨界问题，请在时限内受理" in listing
    assert "【发现问题】" not in listing
    assert cli.query(
        "SELECT p.code, i.kind FROM inbox_message i JOIN person p ON p.id = i.person_id ORDER BY i.id"
    ) == [("qj-coord", "report"), ("sn-baima", "hand_off"), ("qj-coord", "hand_off")]

    before = {name: path.read_bytes() for name, path in ((n, cli.home / "mail" / n) for n in mail)}
    assert "dispatched: nothing due" in cli.ok("dispatch", "--once")
    assert {p.name: p.read_bytes() for p in (cli.home / "mail").iterdir()} == before
    assert cli.query("SELECT count(*) FROM inbox_message") == [(3,)]
    assert cli.query("SELECT DISTINCT status FROM outbox") == [("sent",)]


def test_dead_lettered_webhooks_are_listed_retried_by_id_and_all_and_then_delivered_once(cli: Cli) -> None:
    with webhook_receiver(500, 500, 500) as hook:
        contacts = {"webhook": hook.url()}
        reach = {
            "sn-baima": {"channels": ["inbox", "webhook"], "contacts": contacts},
            "qj-coord": {"channels": ["inbox", "email", "webhook"], "contacts": contacts},
        }
        cli.ok("load", str(people_file(cli.home, reach)))
        cli.env.update(RIVERCHIEF_WEBHOOK_SECRET=SECRET, RIVERCHIEF_DISPATCH_MAX_ATTEMPTS="1")

        assert "dispatched: 3 dead" in cli.ok("dispatch", "--once")
        assert len(cli.mail()) == 2, "the emails went out even though the webhook failed"
        dead = cli.query(
            "SELECT o.id, p.code FROM outbox o JOIN person p ON p.id = o.recipient_id WHERE o.status = 'dead'"
        )
        assert sorted(code for _, code in dead) == ["qj-coord", "qj-coord", "sn-baima"]
        listing = cli.ok("outbox", "list", "--dead")
        assert listing.count("dead") == 3
        assert listing.count("HTTP 500") == 3
        assert "sn-baima" in listing
        assert "qj-coord" in listing
        baima_id = next(i for i, code in dead if code == "sn-baima")

        assert "re-queued 1 row(s)" in cli.ok("outbox", "retry", str(baima_id))
        assert cli.query("SELECT id FROM outbox WHERE status = 'pending'") == [(baima_id,)]
        assert "re-queued 2 row(s)" in cli.ok("outbox", "retry", "--all")
        assert cli.query("SELECT count(*) FROM outbox WHERE status = 'dead'") == [(0,)]

        assert "dispatched: 3 sent" in cli.ok("dispatch", "--once")

    assert len(hook.hits) == 6
    delivered = hook.hits[3:]
    for headers, body in delivered:
        timestamp = headers["X-Riverchief-Timestamp"]
        assert headers["X-Riverchief-Signature"] == f"sha256={sign_webhook(SECRET, timestamp, body)}"
    assert sorted(json.loads(body)["recipient"] for _, body in delivered) == ["许慧敏", "许慧敏", "黄德明"]
    assert cli.query("SELECT channel, count(*) FROM delivery GROUP BY channel ORDER BY channel") == [
        ("email", 2),
        ("inbox", 3),
        ("webhook", 3),
    ]
    assert len(cli.mail()) == 2, "a retry does not send the email again"
    assert cli.query("SELECT count(*) FROM inbox_message") == [(3,)]


def test_outbox_retry_with_nothing_named_exits_3_naming_ids_and_changes_nothing(cli: Cli) -> None:
    before = cli.dump()
    done = cli("outbox", "retry")
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ids:")
    assert "--all" in lines[0]
    assert cli.dump() == before
