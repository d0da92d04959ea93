"""A dispatcher that meets a bad row, a faulty channel or a kill: each row alone succeeds, retries or dead-letters.

The servers, the world and the helpers are those of ``test_notifications``. The clock is frozen and moved by hand:
backoff and leases are crossed by advancing it, never by sleeping.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from tests.factories import RECEIVER, World
from tests.integration.test_notifications import (
    COORD_EMAIL,
    MailSink,
    Recorder,
    deliveries,
    dispatcher,
    free_port,
    handed_off,
    reach,
    row_for,
    smtp_channel,
    smtp_server,
)
from workflow.core.models import Person

LEASE = timedelta(minutes=5)  # DispatchPolicy's default


def person_id(world: World, code: str) -> int:
    """A person's row id."""
    with world.app.reader() as uow:
        return int(uow.connection.execute(sa.select(Person.id).where(Person.code == code)).scalar_one())


def keys_sent(channel: Recorder) -> Counter[str]:
    """How many times each message key went out through a recording channel."""
    return Counter(m.key for m in channel.messages)


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
