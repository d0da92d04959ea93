"""A dispatcher that meets a bad row, a faulty channel or a kill: each row alone succeeds, retries or dead-letters.

The servers, the world and the helpers are those of ``test_notifications``. The clock is frozen and moved by hand:
backoff and leases are crossed by advancing it, never by sleeping.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from notifications.channels import Channel, SmtpChannel, SmtpSettings
from notifications.dispatcher import Dispatcher, DispatchPolicy
from notifications.message import Message
from notifications.render import Renderer
from riverchief.bootstrap import bootstrap
from riverchief.settings import Settings
from tests.factories import COORDINATOR, RECEIVER, START, World, load_world, walk_to
from tests.integration.test_notifications import (
    COORD_EMAIL,
    MailSink,
    Recorder,
    deliveries,
    dispatcher,
    free_port,
    handed_off,
    inbox_rows,
    mid,
    postgres_world,  # noqa: F401 (a fixture)
    reach,
    row_for,
    rows,
    smtp_channel,
    smtp_server,
)
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Outbox, Person
from workflow.core.outbox import Notice
from workflow.core.uow import UnitOfWork

LEASE = timedelta(minutes=5)  # DispatchPolicy's default


def person_id(world: World, code: str) -> int:
    """A person's row id."""
    with world.app.reader() as uow:
        return int(uow.connection.execute(sa.select(Person.id).where(Person.code == code)).scalar_one())


def keys_sent(channel: Recorder) -> Counter[str]:
    """How many times each message key went out through a recording channel."""
    return Counter(m.key for m in channel.messages)


# -- item 1: a row that cannot be stored, an address that cannot be sent ------------------------------


@pytest.mark.postgres
def test_a_message_postgresql_cannot_store_in_the_inbox_fails_alone_and_the_rest_of_its_batch_goes_out(
    postgres_world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    # A NUL reaches the message through the row itself (the edges now refuse it in a step's payload, but rows
    # written before that, or by a path that forgets, must not poison the queue): PostgreSQL's text columns
    # refuse it, so the inbox write fails.
    world = postgres_world
    handed_off(world)
    with world.app.uow() as uow:
        uow.connection.execute(
            sa.insert(Outbox).values(
                topic="bulletin:QJ:2026-02",
                recipient_id=person_id(world, COORDINATOR),
                kind="bulletin",
                detail={"compact": "QJ", "period": "2026-02\x00"},
                status="pending",
                attempts=0,
                next_attempt_at=world.clock.now() - timedelta(seconds=1),  # first in the batch
                created_at=world.clock.now(),
            )
        )
        uow.commit()
    recorder = Recorder()
    d = dispatcher(world, [recorder], max_attempts=2)

    assert d.run_once() == Counter(sent=3, retry=1)
    bad = next(r for r in rows(world) if r.kind == "bulletin")
    assert (bad.status, bad.attempts, bad.claimed_by) == ("pending", 1, None)
    assert bad.last_error is not None
    assert bad.last_error.startswith("inbox: ")
    assert "NUL" in bad.last_error
    assert "\x00" not in bad.last_error
    assert {r.status for r in rows(world) if r.kind != "bulletin"} == {"sent"}
    assert len(inbox_rows(world)) == 3
    assert len(recorder.messages) == 3, "the row whose inbox write failed sent nothing else"

    assert bad.next_attempt_at is not None
    world.clock.set(bad.next_attempt_at)
    assert d.run_once() == Counter(dead=1)
    assert len(recorder.messages) == 3


BAD_LOCAL_PART = "имя@пример.рф"  # the reference loader accepts it; an SMTP message with a To: header cannot carry it


def test_an_address_with_a_non_ascii_local_part_is_dead_lettered_at_once_with_the_reason_and_its_batch_goes_on(
    sqlite_world: World, tmp_path: Path
) -> None:
    world = sqlite_world
    port = free_port()
    reach(world, tmp_path, RECEIVER, email=BAD_LOCAL_PART)
    handed_off(world)
    with smtp_server(port) as sink:
        assert dispatcher(world, [smtp_channel(port)]).drain() == Counter(sent=2, dead=1)

    row = row_for(world, "hand_off", RECEIVER)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error is not None
    assert row.last_error.startswith(f"email: the address {BAD_LOCAL_PART!r} has a non-ASCII local part")
    assert [d.channel for d in deliveries(world) if d.outbox_id == row.id] == ["inbox"]
    assert sorted(r.rcpt_tos[0] for r in sink.received) == [COORD_EMAIL, COORD_EMAIL]


def test_an_address_with_a_chinese_domain_goes_to_its_idna_form_even_where_the_server_lacks_smtputf8(
    sqlite_world: World, tmp_path: Path
) -> None:
    world = sqlite_world
    port = free_port()
    reach(world, tmp_path, RECEIVER, email="baima@白马镇.中国")
    handed_off(world)
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        assert dispatcher(world, [smtp_channel(port)]).drain() == Counter(sent=3)
    finally:
        controller.stop()
    idna = "baima@" + "白马镇.中国".encode("idna").decode()
    assert sorted(r.rcpt_tos[0] for r in sink.received) == sorted([COORD_EMAIL, COORD_EMAIL, idna])
    (to_baima,) = (r for r in sink.received if r.rcpt_tos == [idna])
    assert to_baima.message["To"].addresses[0].addr_spec == idna


def test_a_sender_no_mail_server_can_take_is_a_temporary_failure_that_names_the_setting(sqlite_world: World) -> None:
    world = sqlite_world
    world.report()
    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=free_port(), sender=f"河长办 <{BAD_LOCAL_PART}>"))
    assert dispatcher(world, [channel]).drain() == Counter(retry=1)
    (row,) = rows(world)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert row.last_error.startswith(
        f"email: the sender '河长办 <{BAD_LOCAL_PART}>' (RIVERCHIEF_MAIL_FROM) cannot be used"
    )


# -- the fault test: 50 rows, one that cannot be built, one channel that breaks ------------------------


class BrokenFor(Renderer):
    """A renderer that cannot build the message of one outbox row."""

    def __init__(self, inner: Renderer, outbox_id: int) -> None:
        super().__init__(inner.calendar, inner.base_url)
        self.outbox_id = outbox_id

    def render(self, notice: Notice, now: Any) -> Message:
        if notice.outbox_id == self.outbox_id:
            raise KeyError("template variable missing")
        return super().render(notice, now)


class BreaksFor(Recorder):
    """A recording channel that raises an unexpected error (not DeliveryError) for one message key."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.broke = 0

    def send(self, message: Message) -> str:
        if message.key == self.key:
            self.broke += 1
            raise RuntimeError("channel bug: unexpected reply")
        return super().send(message)


def test_in_a_batch_of_50_an_unbuildable_row_and_a_broken_channel_retry_with_backoff_and_die_alone(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    code = world.report()
    walk_to(world, code, "start_rectify")
    percent = 0
    while len(rows(world)) < 50:
        percent += 1
        world.fire(code, "progress", RECEIVER, note=f"第{percent}次进展", percent=percent)
    batch = rows(world)
    assert len(batch) == 50
    people = {person_id(world, c): c for c in world.people if c != "system"}
    unbuildable, broken = batch[0], batch[1]
    broken_key = f"event-{broken.event_id}:{people[broken.recipient_id]}"
    channel = BreaksFor(broken_key)
    base = timedelta(seconds=30)
    d = Dispatcher(
        world.app.uow,
        [channel],
        BrokenFor(Renderer(world.app.calendar, world.app.settings.base_url), unbuildable.id or 0),
        world.clock,
        DispatchPolicy(max_attempts=4, backoff_base=base, backoff_cap=timedelta(hours=2), batch=50),
    )

    assert d.run_once() == Counter(sent=48, retry=2), "the 48 good rows go out in the same batch"
    assert len(channel.messages) == 48
    for attempt in range(1, 4):
        now = world.clock.now()
        bad = {r.id: r for r in rows(world) if r.status != "sent"}
        assert set(bad) == {unbuildable.id, broken.id}
        ceiling = base * 2 ** (attempt - 1)
        for r in bad.values():
            assert (r.status, r.attempts, r.claimed_by) == ("pending", attempt, None)
            assert r.next_attempt_at is not None
            assert now + ceiling / 2 <= r.next_attempt_at <= now + ceiling
        assert bad[unbuildable.id].last_error == "render: KeyError: 'template variable missing'"
        assert bad[broken.id].last_error == "email: RuntimeError: channel bug: unexpected reply"
        assert d.run_once() == Counter(), "nothing is retried before its backoff is over"
        world.clock.set(max(r.next_attempt_at for r in bad.values() if r.next_attempt_at is not None))
        assert d.run_once() == (Counter(retry=2) if attempt < 3 else Counter(dead=2))

    final = {r.id: r for r in rows(world)}
    assert (final[unbuildable.id].status, final[unbuildable.id].attempts) == ("dead", 4)
    assert (final[broken.id].status, final[broken.id].attempts) == ("dead", 4)
    assert sum(r.status == "sent" for r in final.values()) == 48
    assert channel.broke == 4
    assert set(keys_sent(channel).values()) == {1}, "nothing was sent twice"
    assert broken_key not in keys_sent(channel)
    recorded = Counter(x.idempotency_key for x in deliveries(world))
    assert set(recorded.values()) == {1}
    assert len(recorded) == 48 * 2 + 1, "the broken channel's row has its inbox message, written once"
    assert Counter(m.outbox_id for m in inbox_rows(world)) == Counter({i: 1 for i in final if i != unbuildable.id})


# -- item 5: the double-send window ------------------------------------------------------------------


class SaysNoGoodbye(MailSink):
    """A mail server that accepts each message, then is shut down before it can say goodbye."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "421 4.3.2 Service shutting down"


def test_an_email_the_server_accepted_is_delivered_even_when_the_server_dies_before_saying_goodbye(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    port = free_port()
    handed_off(world)
    d = dispatcher(world, [smtp_channel(port)])
    with smtp_server(port, SaysNoGoodbye()) as sink:
        assert d.drain() == Counter(sent=3)
        world.clock.advance(hours=3)
        assert d.drain() == Counter()
    assert len(sink.received) == 2
    assert set(sink.message_ids().values()) == {1}, "an accepted email was sent again"
    assert len(deliveries(world, "email")) == 2


def test_a_dispatcher_whose_lease_ran_out_mid_batch_does_not_send_what_another_dispatcher_took(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    code = world.report()
    walk_to(world, code, "start_rectify")
    assert len(rows(world)) == 5
    late = Recorder()
    survivor = Recorder()
    took: list[Counter[str]] = []
    claimed_at = world.clock.now()

    class Slow(Recorder):
        """Each send takes two minutes; once the batch's lease has run out, another dispatcher claims what it can."""

        def send(self, message: Message) -> str:
            world.clock.advance(minutes=2)
            reference = late.send(message)
            if world.clock.now() - claimed_at > LEASE and not took:
                took.append(dispatcher(world, [survivor], worker="survivor").drain())
            return reference

    # The third send ends six minutes after the claim: the fourth and fifth rows' leases have run out and the
    # other dispatcher takes them; the third's lease, renewed before its send, still holds.
    assert dispatcher(world, [Slow()], worker="late").drain() == Counter(sent=3, lost=2)
    assert took == [Counter(sent=2)]
    sent = keys_sent(late) + keys_sent(survivor)
    assert len(sent) == 5
    assert set(sent.values()) == {1}, "a row was sent by both dispatchers"
    assert {r.status for r in rows(world)} == {"sent"}
    assert len(deliveries(world)) == 10


class Killed(BaseException):
    """The dispatcher process dies here (as SIGKILL would: nothing after it runs)."""


@contextmanager
def fresh_world(template: Path, folder: Path) -> Iterator[World]:
    """A new SQLite world in ``folder``: one per kill point."""
    folder.mkdir()
    path = folder / "riverchief.db"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        clock = FrozenClock(START)
        yield load_world(bootstrap(Settings(database_url=url, data_dir=folder), clock=clock, engine=engine), clock)
    finally:
        engine.dispose()


class Steps:
    """Counts the dispatcher's steps (commits and sends) and kills it at the chosen one, noting what it saw."""

    def __init__(self, world: World, kill_at: int) -> None:
        self.world = world
        self.kill_at = kill_at
        self.seen: list[str] = []
        self.state: tuple[list[str], str] | None = None

    def step(self, name: str) -> None:
        self.seen.append(name)
        if len(self.seen) == self.kill_at:
            (row,) = rows(self.world)
            self.state = (sorted(d.channel for d in deliveries(self.world)), row.status)
            raise Killed(name)

    def uow(self) -> Callable[[], UnitOfWork]:
        steps = self

        class Unit(UnitOfWork):
            def commit(self) -> None:
                steps.step("commit")
                super().commit()
                steps.step("committed")

        app = self.world.app
        return lambda: Unit(app.engine, app.clock, app.calendar)

    def channel(self, inner: Channel) -> Channel:
        steps = self

        class Watched:
            name = inner.name

            def reaches(self, message: Message) -> bool:
                return inner.reaches(message)

            def send(self, message: Message) -> str:
                steps.step("send")
                reference = inner.send(message)
                steps.step("accepted")
                return reference

        return Watched()


# What the database holds when the dispatcher dies at each step of delivering one row (inbox and email), and how
# many times the email reaches the mail server in all: twice only when it dies after the server accepted the
# email and before the one commit that records it and marks the row sent.
KILL_POINTS = [
    ("commit", [], "pending", 1),  # claiming the batch
    ("committed", [], "pending", 1),
    ("commit", [], "pending", 1),  # renewing the lease, writing the inbox message and its record
    ("committed", ["inbox"], "pending", 1),
    ("send", ["inbox"], "pending", 1),
    ("accepted", ["inbox"], "pending", 2),  # the window: the email is out, its record not yet written
    ("commit", ["inbox"], "pending", 2),  # the email's record and the row's status, together
    ("committed", ["email", "inbox"], "sent", 1),
]
NOTHING_LEFT = ["commit", "committed"]  # the next claim finds nothing


def test_a_dispatcher_killed_at_each_step_resends_only_between_the_servers_acceptance_and_the_one_commit_after_it(
    sqlite_template: Path, tmp_path: Path
) -> None:
    with fresh_world(sqlite_template, tmp_path / "unharmed") as world:
        world.report()
        port = free_port()
        with smtp_server(port):
            steps = Steps(world, kill_at=0)
            unharmed = Dispatcher(
                steps.uow(),
                [steps.channel(smtp_channel(port))],
                Renderer(world.app.calendar, world.app.settings.base_url),
                world.clock,
            )
            assert unharmed.drain() == Counter(sent=1)
        assert steps.seen == [p for p, *_ in KILL_POINTS] + NOTHING_LEFT, "one row's steps, nothing between them"

    for kill_at, (point, recorded, status, emails) in enumerate(KILL_POINTS, start=1):
        with fresh_world(sqlite_template, tmp_path / f"kill-{kill_at}") as world:
            world.report()
            port = free_port()
            with smtp_server(port) as sink:
                steps = Steps(world, kill_at)
                killed = Dispatcher(
                    steps.uow(),
                    [steps.channel(smtp_channel(port))],
                    Renderer(world.app.calendar, world.app.settings.base_url),
                    world.clock,
                    worker="killed",
                )
                with pytest.raises(Killed):
                    killed.drain()
                assert steps.seen[-1] == point
                assert steps.state == (recorded, status), f"killed at step {kill_at} ({point})"

                world.clock.advance(minutes=5, seconds=1)  # the killed dispatcher's lease runs out
                after = dispatcher(world, [smtp_channel(port)], worker="next").drain()
                assert after == (Counter(sent=1) if status == "pending" else Counter())

            (row,) = rows(world)
            assert row.status == "sent"
            assert sorted(d.channel for d in deliveries(world)) == ["email", "inbox"]
            assert len(inbox_rows(world)) == 1
            assert sink.message_ids() == Counter({mid(f"event-{row.event_id}", COORDINATOR): emails}), point
