"""Notifications delivered for real: an SMTP server and HTTP endpoints started by the tests, faults injected.

Each test starts its own servers on 127.0.0.1 (free ports) and stops them, and closes its HTTP clients, before
it ends. The world's clock is frozen: retries, backoff and leases are exercised by moving it, never by waiting.
Servers that must be slow wait on an event that the test's teardown sets, so nothing sleeps for a fixed time.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.message import Message as HeaderMap
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller

from notifications.channels import (
    Channel,
    DingTalkChannel,
    EmlChannel,
    SmtpChannel,
    SmtpSettings,
    WebhookChannel,
    WeComChannel,
    message_id,
    sign_webhook,
)
from notifications.dispatcher import Dispatcher, DispatchPolicy
from notifications.message import Message
from notifications.render import Renderer
from riverchief.bootstrap import bootstrap
from riverchief.demo.play import DATA
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from states.chart import CHOICE_LABELS
from states.words import item_label
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.factories import (
    CHECKLIST,
    COORDINATOR,
    RECEIVER,
    RECEIVING_CODE,
    REPORTER,
    START,
    World,
    load_world,
    walk_to,
)
from workflow.core import outbox
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Delivery, InboxMessage, Issue, Outbox, Person
from workflow.core.reference import load, parse

TITLE = "白马镇段排污口"
SENDER_DOMAIN = "localhost"  # SmtpSettings' default sender is noreply@localhost
COORD_EMAIL = "coord@qiongjiang.example.cn"  # qj-coord's address in the demo file
TAIAN_EMAIL = "taian@tongnan.example.cn"
BAIMA_EMAIL = "baima@suining.example.cn"
WEBHOOK_SECRET = "riverchief-test-secret"
ROBOT_CLOCK = 1_772_413_200.25  # what the webhook and DingTalk channels are told the time is (seconds)
OK_JSON = b'{"errcode":0,"errmsg":"ok"}'
BOUND = 30.0  # seconds: the bound on every join and barrier wait
DEMO_PEOPLE = {p["code"]: p for p in yaml.safe_load(DATA.read_text(encoding="utf-8"))["people"]}


# -- the world ---------------------------------------------------------------------------------------


def reach(world: World, folder: Path, code: str, **changes: Any) -> None:
    """Change how a demo person is reached (email, channels, contacts, locale) through the reference loader."""
    path = folder / f"reach-{code}.yaml"
    entry = {**DEMO_PEOPLE[code], **changes}
    path.write_text(yaml.safe_dump({"people": [entry]}, allow_unicode=True), encoding="utf-8")
    load(world.app.uow(), parse(path))


def handed_off(world: World, **draft: Any) -> str:
    """A new issue reported by 太安镇 and handed to 白马镇; returns its code."""
    code = world.report(**draft)
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    return code


def dispatcher(world: World, channels: list[Any], *, worker: str | None = None, **policy: Any) -> Dispatcher:
    """A dispatcher on the world's database and clock with the given channels and policy."""
    return Dispatcher(
        world.app.uow,
        channels,
        Renderer(world.app.calendar, world.app.settings.base_url),
        world.clock,
        DispatchPolicy(**policy),
        worker=worker,
    )


def rows(world: World) -> list[Outbox]:
    """Every outbox row, oldest first."""
    with world.app.reader() as uow:
        return list(uow.session.execute(sa.select(Outbox).order_by(Outbox.id)).scalars())


def row_for(world: World, trigger: str, person: str) -> Outbox:
    """The one outbox row of ``trigger`` for a person."""
    with world.app.reader() as uow:
        return uow.session.execute(
            sa.select(Outbox)
            .join(Person, Person.id == Outbox.recipient_id)
            .where(Outbox.kind == trigger, Person.code == person)
        ).scalar_one()


def recipients(world: World) -> dict[int, str]:
    """Person codes by id."""
    with world.app.reader() as uow:
        return {row.id: row.code for row in uow.connection.execute(sa.select(Person.id, Person.code))}


def deliveries(world: World, channel: str | None = None) -> list[Delivery]:
    """Delivery records, optionally of one channel."""
    query = sa.select(Delivery).order_by(Delivery.id)
    if channel:
        query = query.where(Delivery.channel == channel)
    with world.app.reader() as uow:
        return list(uow.session.execute(query).scalars())


def inbox_rows(world: World) -> list[InboxMessage]:
    """Every inbox message."""
    with world.app.reader() as uow:
        return list(uow.session.execute(sa.select(InboxMessage).order_by(InboxMessage.id)).scalars())


def inbox_of(world: World, person: str, *, unread_only: bool = False) -> list[outbox.InboxEntry]:
    """A person's inbox, newest first."""
    with world.app.reader() as uow:
        return outbox.inbox(uow.connection, person, unread_only=unread_only)


def dead_rows(world: World) -> list[outbox.OutboxRow]:
    """What ``outbox list --dead`` shows."""
    with world.app.reader() as uow:
        return outbox.list_rows(uow.connection, status="dead")


def requeue(world: World, ids: list[int] | None) -> int:
    """What ``outbox retry`` does."""
    with world.app.uow() as uow:
        count = outbox.requeue(uow.connection, ids, world.clock.now())
        uow.commit()
    return count


def mid(key: str, recipient: str) -> str:
    """The Message-ID the SMTP channel derives from (event or topic, recipient, channel)."""
    return message_id(f"{key}:{recipient}:email", SENDER_DOMAIN)


# -- a real SMTP server ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class MailSink:
    """An aiosmtpd handler that keeps what it accepts; scripted replies refuse at RCPT or DATA first."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: dict[str, deque[str]] = {"RCPT": deque(), "DATA": deque()}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:  # noqa: N802
        if self.refuse["RCPT"]:
            return self.refuse["RCPT"].popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse["DATA"]:
            return self.refuse["DATA"].popleft()
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted"

    def message_ids(self) -> Counter[str]:
        return Counter(r.message_id for r in self.received)


@contextmanager
def smtp_server(port: int, sink: MailSink | None = None) -> Iterator[MailSink]:
    """A plain-SMTP server on 127.0.0.1:port for the duration of the block."""
    sink = sink or MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def smtp_channel(port: int) -> SmtpChannel:
    """The SMTP channel, plain SMTP to 127.0.0.1:port."""
    return SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5.0))


# -- a real HTTP server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the endpoint answers; ``delay`` seconds first (cut short when the test ends)."""

    status: int = 200
    body: bytes = OK_JSON
    delay: float = 0.0


@dataclass
class Hit:
    """One POST the endpoint received."""

    path: str
    query: dict[str, list[str]]
    headers: HeaderMap
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Endpoint:
    """A ThreadingHTTPServer in a thread: records every POST, answers from a per-path script, then OK."""

    hits: list[Hit] = field(default_factory=list)
    scripts: dict[str, deque[Reply]] = field(default_factory=dict)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        self.scripts.setdefault(path, deque()).extend(replies)

    def to(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def answer(self, hit: Hit) -> Reply:
        with self.lock:
            self.hits.append(hit)
            queue = self.scripts.get(hit.path)
            return queue.popleft() if queue else Reply()


@contextmanager
def http_server() -> Iterator[Endpoint]:
    """An HTTP endpoint on a free port of 127.0.0.1 for the duration of the block."""
    endpoint = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            split = urllib.parse.urlsplit(self.path)
            reply = endpoint.answer(Hit(split.path, urllib.parse.parse_qs(split.query), self.headers, body))
            if reply.delay:
                endpoint.released.wait(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting: that was the point
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.released.set()
        server.shutdown()
        server.server_close()
        thread.join(BOUND)


# -- a fake channel ----------------------------------------------------------------------------------


class Recorder:
    """A channel that reaches everyone and records (key, recipient); it can die on its nth call, or dawdle."""

    def __init__(self, name: str = "email", *, die_on: int | None = None, work: float = 0.0) -> None:
        self.name = name
        self.die_on = die_on
        self.work = work
        self.calls = 0
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    def reaches(self, message: Message) -> bool:
        return True

    def send(self, message: Message) -> str:
        with self.lock:
            self.calls += 1
            if self.calls == self.die_on:
                raise SystemExit("dispatcher killed before this message went out")
            self.messages.append(message)
        if self.work:
            time.sleep(self.work)  # a few milliseconds of "talking to a server", so two workers interleave
        return f"recorded {message.key}"

    @property
    def sent(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(m.key, m.recipient_name) for m in self.messages]


class DiesAfterSending:
    """Wraps a channel: the message goes out, then the process dies before the delivery is recorded."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.name = inner.name

    def reaches(self, message: Message) -> bool:
        return self.inner.reaches(message)

    def send(self, message: Message) -> str:
        self.inner.send(message)
        raise SystemExit("dispatcher killed between sending and recording")


def expected_sends(world: World) -> Counter[tuple[str, str]]:
    """(key, recipient name) of every outbox row: what a channel reaching everyone must send, once each."""
    names = {p["code"]: p["name"] for p in DEMO_PEOPLE.values()}
    people = recipients(world)
    return Counter((f"event-{r.event_id}:{people[r.recipient_id]}", names[people[r.recipient_id]]) for r in rows(world))


# -- email over SMTP ---------------------------------------------------------------------------------


def test_a_hand_off_arrives_by_smtp_with_its_chinese_subject_names_and_both_parts_intact(world: World) -> None:
    port = free_port()
    code = handed_off(world)
    hand_off = row_for(world, "hand_off", COORDINATOR)
    with smtp_server(port) as sink:
        assert dispatcher(world, [smtp_channel(port)]).drain() == Counter(sent=3)

    report = row_for(world, "report", COORDINATOR)
    by_key = {r.message["X-Riverchief-Key"]: r for r in sink.received}
    assert sorted(by_key) == sorted(
        [f"event-{report.event_id}:{COORDINATOR}", f"event-{hand_off.event_id}:{COORDINATOR}"]
    )
    got = by_key[f"event-{hand_off.event_id}:{COORDINATOR}"]
    assert got.mail_from == "noreply@localhost"
    assert got.rcpt_tos == [COORD_EMAIL]
    head = got.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "non-ASCII headers must travel RFC 2047-encoded"
    msg = got.message
    inbox = inbox_of(world, COORDINATOR)[0]
    assert msg["Subject"] == inbox.subject == f"【交办】{code} {TITLE}"
    assert (msg["To"].addresses[0].display_name, msg["To"].addresses[0].addr_spec) == ("许慧敏", COORD_EMAIL)
    assert msg["From"].addresses[0].display_name == "河长制跨界协作"
    assert msg["Message-ID"] == mid(f"event-{hand_off.event_id}", COORDINATOR)
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content().rstrip("\n") == inbox.body
    assert plain.get_content().startswith("许慧敏，您好：\n\n太安镇已将问题交办白马镇，请关注受理进度。")
    assert "<p>许慧敏，您好：</p>" in html.get_content()
    assert f'<a href="http://localhost:8000/issues/{code}">查看详情</a>' in html.get_content()
    email_deliveries = {d.outbox_id: d.reference for d in deliveries(world, "email")}
    assert email_deliveries == {
        report.id: mid(f"event-{report.event_id}", COORDINATOR),
        hand_off.id: msg["Message-ID"],
    }


def test_a_dispatcher_killed_between_sending_and_recording_resends_the_same_message_id(world: World) -> None:
    port = free_port()
    handed_off(world)
    report = row_for(world, "report", COORDINATOR)
    with smtp_server(port) as sink:
        with pytest.raises(SystemExit):
            dispatcher(world, [DiesAfterSending(smtp_channel(port))], worker="killed").drain()
        assert len(sink.received) == 1
        assert deliveries(world, "email") == []

        world.clock.advance(minutes=5, seconds=1)  # the killed worker's lease runs out
        assert dispatcher(world, [smtp_channel(port)], worker="next").drain() == Counter(sent=3)

    key = f"event-{report.event_id}:{COORDINATOR}"
    first, again = (r for r in sink.received if r.message["X-Riverchief-Key"] == key)
    assert first.message_id == again.message_id == mid(f"event-{report.event_id}", COORDINATOR)
    assert first.message["Subject"] == again.message["Subject"]
    assert first.message["Date"] == again.message["Date"]
    assert [d.outbox_id for d in deliveries(world, "email")].count(report.id) == 1


def test_two_recipients_of_one_event_get_emails_with_different_message_ids(sqlite_world: World, tmp_path: Path) -> None:
    # The Message-ID is meant to come from the idempotency key (event, recipient, channel); two different
    # emails, to two people, must not share one, or a mail store that dedupes by Message-ID drops one.
    world = sqlite_world
    port = free_port()
    reach(world, tmp_path, RECEIVER, email=BAIMA_EMAIL)
    handed_off(world)
    with smtp_server(port) as sink:
        dispatcher(world, [smtp_channel(port)]).drain()
    hand_offs = [r for r in sink.received if "【交办】" in str(r.message["Subject"])]
    assert sorted(r.rcpt_tos[0] for r in hand_offs) == [BAIMA_EMAIL, COORD_EMAIL]
    assert hand_offs[0].message_id != hand_offs[1].message_id


def test_each_email_delivered_to_the_eml_folder_is_its_own_file(sqlite_world: World, tmp_path: Path) -> None:
    # EmlChannel names the file after the event key only: the second recipient's email overwrites the first's.
    world = sqlite_world
    reach(world, tmp_path, RECEIVER, email=BAIMA_EMAIL)
    handed_off(world)
    folder = tmp_path / "mail"
    assert dispatcher(world, [EmlChannel(folder)]).drain() == Counter(sent=3)
    recorded = deliveries(world, "email")
    assert len(recorded) == 3
    written = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in folder.glob("*.eml")]
    assert sorted(str(m["To"].addresses[0].addr_spec) for m in written) == sorted(
        [COORD_EMAIL, COORD_EMAIL, BAIMA_EMAIL]
    )


@pytest.mark.parametrize(
    ("stage", "reply", "status"),
    [
        pytest.param("DATA", "550 5.7.1 Message rejected as spam", "dead", id="5xx at DATA: permanent"),
        pytest.param("DATA", "451 4.3.0 Try again later", "pending", id="4xx at DATA: retried"),
        pytest.param("RCPT", "550 5.1.1 Mailbox unavailable", "dead", id="5xx at RCPT: permanent"),
        pytest.param("RCPT", "450 4.2.1 Mailbox busy", "pending", id="4xx at RCPT: retried"),
    ],
)
def test_an_smtp_refusal_is_retried_when_temporary_and_dead_lettered_at_once_when_permanent(
    sqlite_world: World, stage: str, reply: str, status: str
) -> None:
    world = sqlite_world
    port = free_port()
    world.report()
    sink = MailSink()
    sink.refuse[stage].append(reply)
    with smtp_server(port, sink):
        dispatcher(world, [smtp_channel(port)], max_attempts=8).drain()
    (row,) = rows(world)
    assert (row.status, row.attempts) == (status, 1)
    assert reply[:3] in (row.last_error or "")
    assert sink.received == []


# -- the server down while 1,000 events are written, then up ------------------------------------------


def test_with_the_mail_server_down_1000_events_back_off_and_once_it_is_up_each_is_delivered_exactly_once(
    sqlite_world: World, tmp_path: Path
) -> None:
    world = sqlite_world
    port = free_port()  # nothing listens here until the server comes up
    reach(world, tmp_path, REPORTER, email=TAIAN_EMAIL)
    codes = [world.report(title=f"{TITLE}{i}") for i in range(10)]
    for code in codes:
        walk_to(world, code, "start_rectify")
    d = dispatcher(world, [smtp_channel(port)], batch=200)
    down_at = world.clock.now()
    for chunk in range(4):  # the dispatcher keeps running while the steps are written
        for code in codes:
            for i in range(25):
                world.fire(code, "progress", RECEIVER, note=f"第{chunk * 25 + i + 1}次进展", percent=chunk * 25 + i)
        d.drain()

    written = rows(world)
    assert sum(r.kind == "progress" for r in written) == 1000
    owed = [r for r in written if r.status == "pending"]
    # Only 白马镇's hand-offs (no email address: inbox only) went out; every email is owed.
    assert {r.kind for r in written if r.status == "sent"} == {"hand_off"}
    assert len(owed) == len(written) - len(codes)
    for r in owed:
        assert r.attempts == 1
        assert r.last_error is not None
        assert r.last_error.startswith("email: SMTP unreachable")
        assert down_at + timedelta(seconds=15) <= r.next_attempt_at <= down_at + timedelta(seconds=30)
        assert r.claimed_by is None
    assert len(inbox_rows(world)) == len(written), "the inbox does not wait for the mail server"
    assert d.drain() == Counter(), "nothing is retried before its backoff is over"

    with smtp_server(port) as sink:
        world.clock.advance(seconds=31)
        assert dispatcher(world, [smtp_channel(port)], batch=200).drain() == Counter(sent=len(owed))
        assert dispatcher(world, [smtp_channel(port)]).drain() == Counter()

    received = sink.message_ids()
    assert [key for key, n in received.items() if n > 1] == [], "an email was delivered twice"
    people = recipients(world)
    assert set(received) == {mid(f"event-{r.event_id}", people[r.recipient_id]) for r in owed}
    assert {r.status for r in rows(world)} == {"sent"}
    assert len(deliveries(world, "email")) == len(owed)
    assert len(inbox_rows(world)) == len(written)


# -- webhooks and robots over HTTP -------------------------------------------------------------------


def test_a_webhook_posts_the_message_as_json_signed_with_the_secret(sqlite_world: World, tmp_path: Path) -> None:
    world = sqlite_world
    with http_server() as endpoint, httpx.Client(timeout=5.0) as client:
        reach(world, tmp_path, RECEIVER, channels=["inbox", "webhook"], contacts={"webhook": endpoint.url("/hook")})
        code = handed_off(world)
        channel = WebhookChannel(WEBHOOK_SECRET, client=client, clock=lambda: ROBOT_CLOCK)
        assert dispatcher(world, [channel]).drain() == Counter(sent=3)

    (hit,) = endpoint.to("/hook")
    row = row_for(world, "hand_off", RECEIVER)
    inbox = inbox_of(world, RECEIVER)[0]
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.json() == {
        "key": f"event-{row.event_id}:{RECEIVER}",
        "kind": "hand_off",
        "issue": code,
        "recipient": "黄德明",
        "subject": inbox.subject,
        "text": inbox.body,
        "link": f"http://localhost:8000/issues/{code}",
        "occurred_at": START.astimezone(UTC).isoformat(),
        "locale": "zh-CN",
    }
    assert "黄德明".encode() in hit.body, "the body is UTF-8 JSON, not \\u escapes"
    timestamp = hit.headers["X-Riverchief-Timestamp"]
    assert timestamp == str(int(ROBOT_CLOCK))
    algorithm, _, signature = hit.headers["X-Riverchief-Signature"].partition("=")
    assert algorithm == "sha256"
    assert hmac.compare_digest(signature, sign_webhook(WEBHOOK_SECRET, timestamp, hit.body))
    assert not hmac.compare_digest(signature, sign_webhook("wrong-secret", timestamp, hit.body))
    assert not hmac.compare_digest(signature, sign_webhook(WEBHOOK_SECRET, timestamp, hit.body + b" "))
    assert not hmac.compare_digest(signature, sign_webhook(WEBHOOK_SECRET, str(int(ROBOT_CLOCK) + 1), hit.body))
    assert hit.headers["Idempotency-Key"], "the receiver needs a key to drop a redelivery"
    assert hit.headers["Idempotency-Key"].startswith(f"event-{row.event_id}")
    assert [d.reference for d in deliveries(world, "webhook")] == ["HTTP 200"]


def test_two_recipients_of_one_event_on_one_webhook_get_different_idempotency_keys(
    sqlite_world: World, tmp_path: Path
) -> None:
    # Both offices' systems post to one endpoint; it drops a call whose Idempotency-Key it has seen.
    world = sqlite_world
    with http_server() as endpoint, httpx.Client(timeout=5.0) as client:
        hook = {"webhook": endpoint.url("/hook")}
        reach(world, tmp_path, RECEIVER, channels=["inbox", "webhook"], contacts=hook)
        reach(world, tmp_path, COORDINATOR, channels=["inbox", "webhook"], contacts=hook)
        handed_off(world)
        dispatcher(world, [WebhookChannel(WEBHOOK_SECRET, client=client)]).drain()
    hand_offs = [h for h in endpoint.to("/hook") if h.json()["kind"] == "hand_off"]
    assert sorted(h.json()["recipient"] for h in hand_offs) == ["许慧敏", "黄德明"]
    assert hand_offs[0].headers["Idempotency-Key"] != hand_offs[1].headers["Idempotency-Key"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(Reply(500, b"upstream broke"), "webhook: HTTP 500", id="answers 500"),
        pytest.param(Reply(200, b"too late", delay=10.0), "ReadTimeout", id="times out"),
    ],
)
def test_a_failing_webhook_backs_off_is_dead_lettered_after_max_attempts_and_delivered_once_requeued(
    sqlite_world: World, tmp_path: Path, fault: Reply, error: str
) -> None:
    world = sqlite_world
    with http_server() as endpoint, httpx.Client(timeout=0.2) as client:
        reach(world, tmp_path, RECEIVER, channels=["inbox", "webhook"], contacts={"webhook": endpoint.url("/hook")})
        endpoint.script("/hook", fault, fault, fault)
        handed_off(world)
        d = dispatcher(
            world,
            [WebhookChannel(WEBHOOK_SECRET, client=client)],
            max_attempts=3,
            backoff_base=timedelta(seconds=10),
            backoff_cap=timedelta(minutes=1),
        )
        target = row_for(world, "hand_off", RECEIVER)

        for attempt, ceiling in ((1, 10), (2, 20)):
            now = world.clock.now()
            d.drain()
            row = row_for(world, "hand_off", RECEIVER)
            assert (row.status, row.attempts) == ("pending", attempt)
            assert error in (row.last_error or "")
            assert now + timedelta(seconds=ceiling / 2) <= row.next_attempt_at <= now + timedelta(seconds=ceiling)
            assert d.drain() == Counter(), "not retried before its time"
            assert row.next_attempt_at is not None
            world.clock.set(row.next_attempt_at)
        assert d.drain() == Counter(dead=1)

        dead = dead_rows(world)
        assert [(r.id, r.recipient, r.attempts) for r in dead] == [(target.id, RECEIVER, 3)]
        assert error in (dead[0].last_error or "")
        world.clock.advance(hours=1)
        assert d.drain() == Counter(), "a dead letter waits for an operator"
        assert len(endpoint.to("/hook")) == 3

        assert requeue(world, [target.id]) == 1
        row = row_for(world, "hand_off", RECEIVER)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, world.clock.now())
        assert d.drain() == Counter(sent=1)

    hits = endpoint.to("/hook")
    assert len(hits) == 4
    assert len({h.headers["Idempotency-Key"] for h in hits}) == 1, "every retry carries the same key"
    assert row_for(world, "hand_off", RECEIVER).status == "sent"
    assert dead_rows(world) == []
    assert len(deliveries(world, "webhook")) == 1
    assert len(inbox_of(world, RECEIVER)) == 1


def _dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk's scheme, from its documentation: base64 of HMAC-SHA256(secret, "timestamp\\nsecret")."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()).decode()


def test_wecom_and_signed_dingtalk_robots_get_markdown_and_a_retry_sends_only_what_is_still_owed(
    sqlite_world: World, tmp_path: Path
) -> None:
    world = sqlite_world
    secret = "SEC0123456789abcdef+/="
    with http_server() as endpoint, httpx.Client(timeout=5.0) as client:
        robots = {
            "wecom": endpoint.url("/cgi-bin/webhook/send?key=wecom-key"),
            "dingtalk": {"url": endpoint.url("/robot/send?access_token=ding-token"), "secret": secret},
        }
        reach(world, tmp_path, RECEIVER, channels=["inbox", "wecom", "dingtalk"], contacts=robots)
        endpoint.script("/robot/send", Reply(200, b'{"errcode":130101,"errmsg":"send too fast"}'))
        code = handed_off(world)
        channels = [WeComChannel(client=client), DingTalkChannel(client=client, clock=lambda: ROBOT_CLOCK)]
        d = dispatcher(world, channels)
        assert d.drain() == Counter(sent=2, retry=1)
        row = row_for(world, "hand_off", RECEIVER)
        assert (row.status, row.attempts) == ("pending", 1)
        assert "dingtalk: robot errcode 130101" in (row.last_error or "")

        world.clock.advance(minutes=1)
        assert d.drain() == Counter(sent=1)

    (wecom,) = endpoint.to("/cgi-bin/webhook/send")
    first, second = endpoint.to("/robot/send")
    markdown = wecom.json()["markdown"]["content"]
    assert wecom.query == {"key": ["wecom-key"]}
    assert wecom.json()["msgtype"] == "markdown"
    assert markdown.startswith(f"### 【交办】{code} {TITLE}\n")
    assert f"[查看详情](http://localhost:8000/issues/{code})" in markdown
    assert second.json() == {"msgtype": "markdown", "markdown": {"title": f"【交办】{code} {TITLE}", "text": markdown}}
    for hit in (first, second):
        assert hit.query["access_token"] == ["ding-token"]
        (timestamp,) = hit.query["timestamp"]
        assert timestamp == str(int(ROBOT_CLOCK * 1000))
        assert hit.query["sign"] == [_dingtalk_sign(secret, timestamp)]
        assert hit.query["sign"] != [_dingtalk_sign("another secret", timestamp)]
    assert {(d.channel, d.reference) for d in deliveries(world) if d.channel != "inbox"} == {
        ("wecom", "errcode 0 (200)"),
        ("dingtalk", "errcode 0 (200)"),
    }
    assert row_for(world, "hand_off", RECEIVER).status == "sent"


@pytest.mark.parametrize(
    ("robot", "errcode", "status"),
    [
        pytest.param("wecom", 93000, "dead", id="wecom invalid webhook url: permanent"),
        pytest.param("wecom", 45009, "pending", id="wecom rate limit: retried"),
        pytest.param("dingtalk", 310000, "dead", id="dingtalk sign mismatch: permanent"),
        pytest.param("dingtalk", 130101, "pending", id="dingtalk rate limit: retried"),
    ],
)
def test_a_robot_errcode_fails_the_delivery_permanently_unless_it_is_a_rate_limit(
    sqlite_world: World, tmp_path: Path, robot: str, errcode: int, status: str
) -> None:
    world = sqlite_world
    with http_server() as endpoint, httpx.Client(timeout=5.0) as client:
        url = endpoint.url("/robot")
        contact = {robot: url if robot == "wecom" else {"url": url, "secret": "SECret"}}
        reach(world, tmp_path, RECEIVER, channels=["inbox", robot], contacts=contact)
        endpoint.script("/robot", Reply(200, json.dumps({"errcode": errcode, "errmsg": "refused"}).encode()))
        handed_off(world)
        channel = WeComChannel(client=client) if robot == "wecom" else DingTalkChannel(client=client)
        dispatcher(world, [channel], max_attempts=8).drain()
    row = row_for(world, "hand_off", RECEIVER)
    assert (row.status, row.attempts) == (status, 1)
    assert f"{robot}: robot errcode {errcode}: refused" == row.last_error
    assert deliveries(world, robot) == []


# -- a dispatcher killed mid-batch -------------------------------------------------------------------


def test_a_dispatcher_killed_mid_batch_leaves_leased_rows_that_the_next_one_delivers_without_resending(
    world: World,
) -> None:
    code = world.report()
    walk_to(world, code, "start_rectify")
    for percent in (20, 40, 60, 80):
        world.fire(code, "progress", RECEIVER, note="进展", percent=percent)
    everything = expected_sends(world)
    assert len(everything) == 9

    killed = Recorder(die_on=3)
    with pytest.raises(SystemExit):
        dispatcher(world, [killed], worker="killed").drain()
    assert len(killed.sent) == 2
    left = [r for r in rows(world) if r.status == "pending"]
    assert len(left) == 7
    assert {r.claimed_by for r in left} == {"killed"}

    survivor = Recorder()
    world.clock.advance(minutes=4, seconds=59)
    assert dispatcher(world, [survivor], worker="survivor").drain() == Counter(), "the lease still holds"
    world.clock.advance(seconds=2)
    assert dispatcher(world, [survivor], worker="survivor").drain() == Counter(sent=7)

    assert Counter(killed.sent) + Counter(survivor.sent) == everything
    assert not set(killed.sent) & set(survivor.sent), "what went out before the crash is not sent again"
    assert {r.status for r in rows(world)} == {"sent"}
    keys = [d.idempotency_key for d in deliveries(world)]
    assert len(keys) == len(set(keys)) == 18
    assert Counter(m.outbox_id for m in inbox_rows(world)) == Counter({r.id: 1 for r in rows(world)})


# -- the inbox ---------------------------------------------------------------------------------------


def test_every_recipient_gets_exactly_one_inbox_message_per_outbox_row_and_can_mark_theirs_read(
    world: World,
) -> None:
    code = handed_off(world)
    recorder = Recorder()
    assert dispatcher(world, [recorder]).drain() == Counter(sent=3)
    # An operator puts every row back in the queue: nothing is written or sent twice.
    with world.app.uow() as uow:
        uow.connection.execute(sa.update(Outbox).values(status="dead"))
        uow.commit()
    assert requeue(world, None) == 3
    assert dispatcher(world, [recorder]).drain() == Counter(sent=3)
    assert len(recorder.sent) == 3

    people = recipients(world)
    messages = inbox_rows(world)
    assert sorted((m.outbox_id, m.person_id) for m in messages) == sorted((r.id, r.recipient_id) for r in rows(world))
    assert {people[m.person_id] for m in messages} == {RECEIVER, COORDINATOR}

    (baima,) = inbox_of(world, RECEIVER)
    assert (baima.kind, baima.subject) == ("hand_off", f"【交办】{code} {TITLE}")
    assert baima.body.startswith("黄德明，您好：\n\n太安镇向你方交办跨界问题，请在时限内受理")
    assert baima.link == f"http://localhost:8000/issues/{code}"
    assert baima.read_at is None
    assert inbox_of(world, REPORTER) == [], "the actor is not told of their own step"
    coord_hand_off, coord_report = inbox_of(world, COORDINATOR)
    assert (coord_hand_off.kind, coord_report.kind) == ("hand_off", "report")

    world.clock.advance(hours=2)
    with world.app.uow() as uow:
        assert outbox.mark_read(uow.connection, RECEIVER, [coord_report.id], world.clock.now()) == 0
        assert outbox.mark_read(uow.connection, COORDINATOR, [coord_hand_off.id], world.clock.now()) == 1
        assert outbox.mark_read(uow.connection, COORDINATOR, [coord_hand_off.id], world.clock.now()) == 0
        uow.commit()
    assert [e.id for e in inbox_of(world, COORDINATOR, unread_only=True)] == [coord_report.id]
    assert inbox_of(world, COORDINATOR)[0].read_at == world.clock.now()
    assert inbox_of(world, RECEIVER, unread_only=True) == [baima]


# -- two dispatchers on PostgreSQL -------------------------------------------------------------------


@pytest.fixture
def postgres_world(postgres_server: str, tmp_path: Path) -> Iterator[World]:
    """The 琼江 compact on a fresh PostgreSQL database, dropped afterwards."""
    url = fresh_postgres_database(postgres_server)
    engine = make_engine(url)
    try:
        upgrade(engine)
        clock = FrozenClock(START)
        app = bootstrap(Settings(database_url=url, data_dir=tmp_path), clock=clock, engine=engine)
        yield load_world(app, clock)
    finally:
        engine.dispose()
        drop_postgres_database(url)


@pytest.mark.postgres
def test_two_dispatchers_on_postgresql_share_the_outbox_and_deliver_every_row_exactly_once(
    postgres_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = postgres_world
    # 太安镇's office gets nine more staff, so each progress step is owed to ten people.
    for i in range(1, 10):
        staff = {"code": f"taian-staff-{i}", "name": f"太安镇河长办{i}", "role": "office", "jurisdiction": "500152102"}
        monkeypatch.setitem(DEMO_PEOPLE, staff["code"], staff)
        reach(world, tmp_path, f"taian-staff-{i}")
    codes = [world.report(title=f"{TITLE}{i}") for i in range(3)]
    for code in codes:
        walk_to(world, code, "start_rectify")
        for i in range(8):
            world.fire(code, "progress", RECEIVER, note=f"第{i + 1}次进展")
    everything = expected_sends(world)
    assert sum(everything.values()) == 3 * (1 + 2 + 10 + 10 + 8 * 10) == 309

    workers = {name: Recorder(work=0.003) for name in ("worker-a", "worker-b")}
    outcomes: dict[str, Counter[str]] = {}
    failures: list[BaseException] = []
    start = threading.Barrier(len(workers), timeout=BOUND)

    def work(name: str) -> None:
        try:
            d = dispatcher(world, [workers[name]], worker=name, batch=10)
            start.wait()
            outcomes[name] = d.drain()
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND * 4)
    assert not any(t.is_alive() for t in threads)
    assert failures == []

    sent = [Counter(r.sent) for r in workers.values()]
    assert sent[0] + sent[1] == everything, "each row delivered exactly once between them"
    assert all(outcomes[name]["sent"] > 0 for name in workers), f"both workers should share the work: {outcomes}"
    assert sum(o["sent"] for o in outcomes.values()) == len(rows(world))
    assert {r.status for r in rows(world)} == {"sent"}
    assert len(deliveries(world)) == 2 * len(rows(world))


# -- templates ---------------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script> {{ 7*7 }} [点我](http://evil.example) **粗体**"
# In robot markdown every markup character turns full-width, the * of 7*7 too: printed, still not evaluated.
INERT = "＜script＞alert(1)＜/script＞ {{ 7＊7 }} ［点我］(http://evil.example) ＊＊粗体＊＊"


def test_user_text_is_escaped_in_html_printed_literally_and_made_inert_in_robot_markdown(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    code = world.report(title=f"排污口 {HOSTILE}", description=HOSTILE)
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(code, "dispute", RECEIVER, reason=f"不属我方\n### 伪造的标题\n> 伪造的引用 {HOSTILE}")
    recorder = Recorder()
    dispatcher(world, [recorder]).drain()
    (dispute,) = (m for m in recorder.messages if m.kind == "dispute" and m.recipient_name == "陈志强")

    assert "\n" not in dispute.subject
    assert dispute.subject == f"【异议】{code} 排污口 {HOSTILE}"

    assert "<script" not in dispute.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in dispute.html
    assert "<title>【异议】" in dispute.html
    assert 'href="http://evil.example"' not in dispute.html
    assert "</script> 49" not in dispute.html

    assert f"排污口 {HOSTILE}" in dispute.text, "plain text prints the title as written"
    assert "{{ 7*7 }}" in dispute.text
    assert "</script> 49" not in dispute.text

    markdown = dispute.markdown
    assert INERT in markdown
    assert "＜/script＞ 49" not in markdown
    assert "<" not in markdown
    assert "**" not in markdown
    assert markdown.count("[") == markdown.count("](") == 1, "only the template's own link is a link"
    assert [line for line in markdown.splitlines() if line.startswith("#")] == [f"### 【异议】{code} 排污口 {INERT}"]
    assert not [line for line in markdown.splitlines() if "伪造的引用" in line and line.startswith(">")]


def test_a_person_who_reads_english_gets_the_english_layout_and_others_keep_chinese(
    sqlite_world: World, tmp_path: Path
) -> None:
    world = sqlite_world
    reach(world, tmp_path, RECEIVER, locale="en")
    code = handed_off(world)
    recorder = Recorder()
    dispatcher(world, [recorder]).drain()
    (english,) = (m for m in recorder.messages if m.kind == "hand_off" and m.recipient_name == "黄德明")
    (chinese,) = (m for m in recorder.messages if m.kind == "hand_off" and m.recipient_name == "许慧敏")

    assert english.locale == "en"
    assert english.subject == f"[Handed off] {code} {TITLE}"
    assert english.text.startswith(
        "Dear 黄德明,\n\n太安镇 has handed a cross-border issue to you. Please accept it before the deadline, or "
        "dispute it to start a negotiation."
    )
    assert "State: handed off" in english.text
    assert "Deadline: 2026-03-05 23:59 (Beijing time), 3 working days left" in english.text
    assert "您好" not in english.text
    assert '<html lang="en">' in english.html
    assert "<p>Dear 黄德明,</p>" in english.html
    assert "> State: handed off" in english.markdown
    # The template's own brackets stay as written; only the values printed into a robot's markdown turn plain.
    assert english.markdown.startswith(f"### [Handed off] {code} {TITLE}\n")
    assert f"[Details](http://localhost:8000/issues/{code})" in english.markdown
    assert inbox_of(world, RECEIVER)[0].subject == english.subject

    assert chinese.locale == "zh-CN"
    assert chinese.subject == f"【交办】{code} {TITLE}"
    assert chinese.text.startswith("许慧敏，您好：")
    assert '<html lang="zh-CN">' in chinese.html


def test_a_steps_details_say_checklist_items_and_meeting_levels_by_their_words_in_each_language(
    sqlite_world: World, tmp_path: Path
) -> None:
    # The checklist's items and the meeting's level are stored as codes (outfall_closed, district); a message
    # says them as the pages do, in the reader's language, and its labels are the chart's in that language.
    world = sqlite_world
    reach(world, tmp_path, RECEIVER, locale="en")
    code = world.report()
    walk_to(world, code, "pass_check", occurrence=2)
    met = handed_off(world, title="会办")
    world.fire(met, "dispute", RECEIVER, reason="异议")
    world.fire(met, "convene", COORDINATOR, level="district", agenda="会办")
    recorder = Recorder()
    dispatcher(world, [recorder]).drain()

    def one(kind: str, locale: str) -> Message:
        return next(m for m in recorder.messages if m.kind == kind and m.locale == locale)

    chinese, english = one("pass_check", "zh-CN"), one("pass_check", "en")
    assert "核查清单：" + "、".join(item_label(c, en=False) for c in sorted(CHECKLIST)) in chinese.text
    assert "Checklist: " + ", ".join(item_label(c, en=True) for c in sorted(CHECKLIST)) in english.text
    assert "会议层级：" + CHOICE_LABELS["district"][0] in one("convene", "zh-CN").text
    assert "Meeting level: " + CHOICE_LABELS["district"][1] in one("convene", "en").text
    for message in (chinese, one("convene", "zh-CN")):
        for stored in (*CHECKLIST, "district"):
            assert stored not in message.text + message.markdown + message.html, (stored, message.text)
    assert "_" not in english.text.split("Details:")[0]  # no code like outfall_closed either
    for layout in (english.text, english.html, english.markdown):  # nor Chinese punctuation around the English
        assert not re.search("[：，。、（）]", layout), layout


@pytest.mark.parametrize(
    ("locale", "state", "deadline", "link"),
    [
        pytest.param(
            "zh-CN",
            "> 状态：已交办待受理",
            "> 时限：2026-03-05 23:59（北京时间）前，还有 3 个工作日",
            "[查看详情]",
            id="zh-CN",
        ),
        pytest.param(
            "en",
            "> State: handed off",
            "> Deadline: 2026-03-05 23:59 (Beijing time), 3 working days left",
            "[Details]",
            id="en",
        ),
    ],
)
def test_robot_markdown_puts_the_state_the_deadline_and_the_link_each_on_its_own_line(
    sqlite_world: World, tmp_path: Path, locale: str, state: str, deadline: str, link: str
) -> None:
    # A markdown robot shows "> a> b" as one quoted line with a stray ">", and a link glued to a quote inside it.
    world = sqlite_world
    reach(world, tmp_path, RECEIVER, locale=locale)
    code = handed_off(world)
    recorder = Recorder()
    dispatcher(world, [recorder]).drain()
    (message,) = (m for m in recorder.messages if m.kind == "hand_off" and m.recipient_name == "黄德明")
    lines = message.markdown.splitlines()
    assert state in lines
    assert deadline in lines
    assert lines[-1] == f"{link}(http://localhost:8000/issues/{code})"


def test_a_message_sent_late_counts_only_a_deadline_still_running(world: World) -> None:
    # The dispatcher words a message when it sends it. One that went out long after its event (a channel down
    # for weeks, or the demo sending its whole year at the end) said 已超期 165 个工作日 beside 已销号, and
    # counted the days of a deadline that a later step had replaced.
    closed = world.report()
    walk_to(world, closed, "close")
    moved_on = world.report(title="崇龛镇段漂浮物")
    walk_to(world, moved_on, "accept")
    still_open = handed_off(world, title="龙台镇段排口")
    world.clock.advance(days=90)
    assert dispatcher(world, [Recorder()]).drain()["sent"] > 0

    with world.app.reader() as uow:
        codes = dict(uow.connection.execute(sa.select(Issue.id, Issue.code)).all())
    sent = {(codes[m.issue_id], m.kind): m.body for m in inbox_rows(world) if m.issue_id is not None}
    assert "已销号" in sent[closed, "hand_off"]
    assert "办理时限" not in sent[closed, "hand_off"]
    # The hand-off's deadline to accept was met and replaced: its time is said, with no count of days.
    assert re.search(r"办理时限：\d{4}-\d\d-\d\d \d\d:\d\d（北京时间）\n", sent[moved_on, "hand_off"])
    # The deadline still running is counted, however late the message.
    assert "已超期" in sent[moved_on, "accept"]
    assert "已超期" in sent[still_open, "hand_off"]
