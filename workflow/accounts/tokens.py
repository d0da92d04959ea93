"""Personal access tokens for API clients: shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from workflow.core.actors import Actor, Beside, KnownActor, actor_statement, known_by
from workflow.core.errors import NotFound, Unauthenticated, ValidationFailed
from workflow.core.models import ApiToken, Person, table_of
from workflow.core.uow import UnitOfWork, write_now

_token = table_of(ApiToken)
_person = table_of(Person)
PREFIX = "rc_"


# last_used_at is written at most this often: it tells which tokens are in use, not each request.
TOUCH_EVERY = timedelta(minutes=1)


# Who a token stands for, with the token's id and last use: one statement (see ``actor_statement``).
_BY_TOKEN = actor_statement(
    sa.select(_token.c.person_id, _token.c.id.label("token_id"), _token.c.last_used_at)
    .where(_token.c.token_hash == sa.bindparam("digest"), _token.c.revoked_at.is_(None))
    .cte("credential")
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: whose, its number, and the token itself (shown once, never stored)."""

    person: str
    id: int
    token: str


def create_token(uow: UnitOfWork, person_code: str, name: str) -> tuple[int, str]:
    """A new token for a person; returns (id, token). The token itself is not stored anywhere."""
    made = create_tokens(uow, [person_code], name)[0]
    return made.id, made.token


def create_tokens(
    uow: UnitOfWork, person_codes: Sequence[str], name: str, *, progress: Callable[[], None] | None = None
) -> list[NewToken]:
    """A new token for each person, in the order given (each person once), in one transaction: all or none.

    NotFound names every unknown or inactive person, and then no token is made. ``progress`` is called once
    per token made.
    """
    codes = list(dict.fromkeys(person_codes))
    if not codes:
        raise ValidationFailed("people", "name at least one person")
    with uow:
        conn = uow.connection
        ids = dict(
            conn.execute(
                sa.select(_person.c.code, _person.c.id).where(_person.c.code.in_(codes), _person.c.active.is_(True))
            ).all()
        )
        if missing := [code for code in codes if code not in ids]:
            raise NotFound("person", ", ".join(missing))
        now = uow.clock.now()
        tokens = []
        for _ in codes:
            tokens.append(PREFIX + secrets.token_urlsafe(32))
            if progress is not None:
                progress()
        rows = [
            {"person_id": ids[code], "name": name[:100], "token_hash": _hash(token), "created_at": now}
            for code, token in zip(codes, tokens, strict=True)
        ]
        inserted = conn.execute(_token.insert().returning(_token.c.id, sort_by_parameter_order=True), rows)
        made = [NewToken(code, int(row.id), token) for code, token, row in zip(codes, tokens, inserted, strict=True)]
        uow.commit()
    return made


def revoke_token(uow: UnitOfWork, token_id: int) -> None:
    """Revoke a token; NotFound if there is no live token with that id."""
    with uow:
        revoked = uow.connection.execute(
            _token.update()
            .where(_token.c.id == token_id, _token.c.revoked_at.is_(None))
            .values(revoked_at=uow.clock.now())
        )
        if revoked.rowcount != 1:
            raise NotFound("token", token_id)
        uow.commit()


def actor_for_token(
    uow: UnitOfWork, token: str, now: datetime, *, stamp: Callable[[], UnitOfWork] | None = None
) -> Actor:
    """The actor a bearer token stands for; Unauthenticated for an unknown or revoked token (see ``token_holder``)."""
    return token_holder(uow, token, now, stamp=stamp).actor


def token_holder(
    uow: UnitOfWork,
    token: str,
    now: datetime,
    *,
    stamp: Callable[[], UnitOfWork] | None = None,
    beside: Beside | None = None,
) -> KnownActor:
    """Who a bearer token stands for, with what ``beside`` read in the same statement; Unauthenticated for an
    unknown or revoked token.

    ``last_used_at`` is written only when it is more than TOUCH_EVERY old, so a busy
    client does not turn every read into a write: in ``uow`` when it is writable, else
    in a short unit from ``stamp`` (without one, a later writable request stamps it).
    """
    digest = {"digest": _hash(token)}
    with uow:
        found = uow.read_first(lambda conn: known_by(conn, _BY_TOKEN, digest, beside))
        if found is None:
            raise Unauthenticated("the token is unknown or revoked")
        used = found.credential.last_used_at
        if used is None or now - used >= TOUCH_EVERY:
            touch = _token.update().where(_token.c.id == found.credential.token_id).values(last_used_at=now)
            write_now(uow, touch, stamp)
    return found
