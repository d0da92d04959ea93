"""Drains the outbox: renders each notice, delivers it through the recipient's channels, once each.

Every delivery is recorded under its idempotency key (event or topic,
recipient, channel) in the commit right after the send, together with the
row's status when it was the last one owed, so a retry sends only what is
still owed. Before each send the dispatcher renews its lease on the row and
gives the row up if another dispatcher has taken it meanwhile. Each row
stands alone: whatever fails while rendering, storing or sending it (a
channel's DeliveryError or any other error) counts against that row only.
Failures back off exponentially with jitter; a row that keeps failing, or
fails in a way retrying cannot mend, is dead-lettered for ``outbox retry``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from notifications.channels import Channel, DeliveryError
from notifications.message import Message
from notifications.render import Renderer
from workflow.core import outbox
from workflow.core.clock import Clock
from workflow.core.outbox import Notice
from workflow.core.uow import UnitOfWork

log = logging.getLogger(__name__)

INBOX = "inbox"
LOST = "lost"  # the lease passed to another dispatcher, which delivers what is still owed


def _reason(exc: BaseException) -> str:
    """An unexpected error in one line: the driver's own error rather than SQLAlchemy's statement and parameters."""
    cause = getattr(exc, "orig", None)
    error = cause if isinstance(cause, BaseException) else exc
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """Retries and leases."""

    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=2)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50


class Dispatcher:
    """One dispatcher worker; several may run against PostgreSQL, one against SQLite."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        channels: Sequence[Channel],
        renderer: Renderer,
        clock: Clock,
        policy: DispatchPolicy | None = None,
        *,
        worker: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.uow = uow
        self.channels = list(channels)
        self.renderer = renderer
        self.clock = clock
        self.policy = policy or DispatchPolicy()
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.rng = rng or random.Random()

    def run_once(self) -> Counter[str]:
        """Claim one batch and deliver it; returns counts by outcome (sent, retry, dead, lost)."""
        now = self.clock.now()
        with self.uow() as unit:
            notices = outbox.claim(
                unit.connection, worker=self.worker, now=now, lease=self.policy.lease, limit=self.policy.batch
            )
            unit.commit()
        outcomes: Counter[str] = Counter()
        for notice in notices:
            outcomes[self._settle(notice)] += 1
        return outcomes

    def drain(self, max_batches: int = 1000) -> Counter[str]:
        """Deliver until nothing is due now (for the demo, tests and ``dispatch --once``)."""
        total: Counter[str] = Counter()
        for _ in range(max_batches):
            outcomes = self.run_once()
            if not outcomes:
                break
            total += outcomes
        return total

    def run(self, stop: threading.Event, idle_seconds: float = 2.0) -> None:
        """Deliver until ``stop`` is set, resting when the queue is empty."""
        while not stop.is_set():
            try:
                busy = bool(self.run_once())
            except Exception:  # a database hiccup must not kill the worker; the rows wait
                log.exception("dispatch batch failed")
                busy = False
            if not busy:
                stop.wait(idle_seconds)

    def _settle(self, notice: Notice) -> str:
        """Deliver one row so that whatever goes wrong with it is counted against it alone."""
        try:
            return self._deliver(notice)
        except Exception as exc:  # a fault outside any channel (the database, most likely): this row retries
            log.exception("outbox %s failed", notice.outbox_id)
            try:
                return self._failed(notice, [("dispatch", DeliveryError(_reason(exc)))])
            except Exception:  # nor could the failure be recorded: the row waits for its lease to run out
                log.exception("cannot record the failure of outbox %s", notice.outbox_id)
                return "error"

    def _deliver(self, notice: Notice) -> str:
        now = self.clock.now()
        try:
            message = self.renderer.render(notice, now)
            channels = self._channels_for(notice, message)
        except Exception as exc:  # a broken template, or a row it cannot read: retried, then dead-lettered
            log.exception("cannot render outbox row %s", notice.outbox_id)
            return self._failed(notice, [("render", DeliveryError(_reason(exc)))])
        try:
            with self.uow() as unit:
                if not outbox.hold(unit.connection, notice.outbox_id, self.worker, now, self.policy.lease):
                    return LOST
                done = outbox.delivered_keys(unit.connection, notice.outbox_id)
                if notice.delivery_key(INBOX) not in done:
                    # The inbox lives in our own database: message and record commit together.
                    inbox_id = outbox.write_inbox(
                        unit.connection, notice, message.subject, message.text, message.link, now
                    )
                    outbox.record_delivery(unit.connection, notice, INBOX, f"inbox:{inbox_id}", now)
                owed = [c for c in channels if notice.delivery_key(c.name) not in done]
                if not owed:
                    outbox.finish(unit.connection, notice.outbox_id, self.worker)
                unit.commit()
        except Exception as exc:  # the message cannot be stored (PostgreSQL refuses NUL in text, say)
            log.exception("cannot write the inbox message of outbox %s", notice.outbox_id)
            return self._failed(notice, [(INBOX, DeliveryError(_reason(exc)))])
        if not owed:
            return "sent"
        errors: list[tuple[str, DeliveryError]] = []
        for i, channel in enumerate(owed):
            reference: str | None = None
            try:
                reference = channel.send(message)
            except DeliveryError as exc:
                log.warning("outbox %s via %s failed: %s", notice.outbox_id, channel.name, exc)
                errors.append((channel.name, exc))
            except Exception as exc:  # a channel's bug fails this delivery, not the batch; retried as temporary
                log.exception("outbox %s via %s failed unexpectedly", notice.outbox_id, channel.name)
                errors.append((channel.name, DeliveryError(_reason(exc))))
            last = i == len(owed) - 1
            if last and errors and reference is None:
                break
            with self.uow() as unit:
                # The record commits right after the send: a dispatcher killed in between sends again.
                now = self.clock.now()
                if reference is not None and not outbox.record_delivery(
                    unit.connection, notice, channel.name, reference, now
                ):
                    log.warning(
                        "outbox %s via %s went out twice: another dispatcher recorded it",
                        notice.outbox_id,
                        channel.name,
                    )
                if last and not errors:
                    finished = outbox.finish(unit.connection, notice.outbox_id, self.worker)
                    unit.commit()
                    return "sent" if finished else LOST
                if not last and not outbox.hold(unit.connection, notice.outbox_id, self.worker, now, self.policy.lease):
                    unit.commit()
                    return LOST
                unit.commit()
        return self._failed(notice, errors)

    def _channels_for(self, notice: Notice, message: Message) -> list[Channel]:
        return [c for c in self.channels if c.name in notice.channels and c.reaches(message)]

    def _failed(self, notice: Notice, errors: list[tuple[str, DeliveryError]]) -> str:
        permanent = all(exc.permanent for _, exc in errors)
        attempts = notice.attempts + 1
        delay = outbox.backoff(attempts, base=self.policy.backoff_base, cap=self.policy.backoff_cap, rng=self.rng)
        text = "; ".join(f"{name}: {exc}" for name, exc in errors)
        with self.uow() as unit:
            status = outbox.fail(
                unit.connection,
                notice,
                self.worker,
                text,
                self.clock.now(),
                max_attempts=attempts if permanent else self.policy.max_attempts,
                delay=delay,
            )
            unit.commit()
        return {"dead": "dead", "pending": "retry"}.get(status, LOST)
