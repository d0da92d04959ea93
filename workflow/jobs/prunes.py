"""Records kept only for a while, removed by the daily prune: ``Idempotency-Key`` rows older than their keep."""

from __future__ import annotations

from datetime import datetime, timedelta

from states.policy import IDEMPOTENCY_KEEP_DAYS
from workflow.core.models import IdempotencyKey, table_of
from workflow.core.uow import UnitOfWork

_key = table_of(IdempotencyKey)


def prune_idempotency_keys(uow: UnitOfWork, now: datetime) -> dict[str, int]:
    """Remove the idempotency keys stored more than IDEMPOTENCY_KEEP_DAYS before ``now``.

    A draft is refused once older than the keys are kept (states.policy), so a key
    pruned here can no longer be needed to stop a second create.
    """
    cutoff = now - timedelta(days=IDEMPOTENCY_KEEP_DAYS)
    with uow:
        removed = uow.connection.execute(_key.delete().where(_key.c.created_at < cutoff)).rowcount
        uow.commit()
    return {"idempotency_keys": removed}
