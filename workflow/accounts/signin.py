"""Passwords and browser sessions: argon2id hashes, throttled sign-ins, sessions kept only as a SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from workflow.core.actors import Actor, Beside, KnownActor, actor_statement, known_by, load_actor
from workflow.core.errors import CsrfRefused, NotFound, Throttled, Unauthenticated, ValidationFailed
from workflow.core.models import Compact, Credential, Jurisdiction, LoginAttempt, Person, WebSession, table_of
from workflow.core.uow import UnitOfWork, write_now

_person = table_of(Person)
_credential = table_of(Credential)
_session = table_of(WebSession)
_attempt = table_of(LoginAttempt)
_jurisdiction = table_of(Jurisdiction)
_compact = table_of(Compact)

# Failed sign-ins are counted in a sliding window, per person and per address; over the limit
# the password is not even checked. Five per person hold a targeted guesser to 480 tries a day
# without locking the owner out for long; an address gets more because a township office
# signs in from behind one shared address.
THROTTLE_WINDOW = timedelta(minutes=15)
PERSON_FAILURES = 5
ADDRESS_FAILURES = 20

SESSION_LIFETIME = timedelta(hours=12)  # absolute: about one working day, then sign in again
SESSION_IDLE = timedelta(hours=2)  # a browser left alone this long is signed out
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often, not on every request

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; this only bounds what a request can make us hash

# argon2id with the library's defaults (RFC 9106's low-memory profile); hashes made with
# other parameters are redone at the next successful sign-in.
HASHER = PasswordHasher()

BAD_CREDENTIALS = "人员编号或密码不对 (unknown person or wrong password)"
SESSION_GONE = "登录已过期或已退出，请重新登录 (the session has expired or was signed out; sign in again)"


@dataclass(frozen=True, slots=True)
class Profile:
    """Who a person is, by name: their jurisdiction and the compacts they serve or belong to (code, name)."""

    code: str
    name: str
    role: str
    jurisdiction: tuple[str, str] | None
    coordinates: tuple[tuple[str, str], ...]
    audits: tuple[tuple[str, str], ...]
    member_of: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live browser session: who it is (with the names a page shows) and the CSRF token its unsafe requests
    must carry."""

    session_id: int
    actor: Actor
    csrf_token: str
    expires_at: datetime
    profile: Profile
    beside: Mapping[str, Any] | None = None  # what a ``Beside`` read found in the same statement


# Who a session stands for, with the session's own columns: one statement (see ``actor_statement``).
_BY_SESSION = actor_statement(
    sa.select(
        _session.c.person_id,
        _session.c.id.label("session_id"),
        _session.c.csrf_token,
        _session.c.last_seen_at,
        _session.c.expires_at,
    )
    .where(_session.c.token_hash == sa.bindparam("digest"), _session.c.revoked_at.is_(None))
    .cte("credential")
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Unknown people are checked against this, so that they take as long as a wrong password.
    return hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(password_hash or _dummy_hash(HASHER), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password(person_code: str, password: str) -> None:
    """Raise ValidationFailed("password", ...) unless the password is acceptable for the person."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed("password", f"至少 {MIN_PASSWORD} 个字符 (at least {MIN_PASSWORD} characters)")
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed("password", f"最多 {MAX_PASSWORD} 个字符 (at most {MAX_PASSWORD} characters)")
    if password.strip().casefold() == person_code.strip().casefold():
        raise ValidationFailed("password", "不能与人员编号相同 (must not be the person's code)")


def set_password(uow: UnitOfWork, person_code: str, password: str, *, keep_session: str | None = None) -> int:
    """Set (or change) a person's password and sign out their sessions but ``keep_session``; returns how many."""
    check_password(person_code, password)
    password_hash = HASHER.hash(password)  # before the transaction: it takes a noticeable fraction of a second
    with uow:
        now = uow.clock.now()
        person_id = uow.connection.execute(
            sa.select(_person.c.id).where(_person.c.code == person_code, _person.c.active.is_(True))
        ).scalar()
        if person_id is None:
            raise NotFound("person", person_code)
        values = {"password_hash": password_hash, "changed_at": now}
        changed = uow.connection.execute(_credential.update().where(_credential.c.person_id == person_id), values)
        if changed.rowcount == 0:
            uow.connection.execute(_credential.insert(), {"person_id": person_id, **values})
        others = _session.update().where(_session.c.person_id == person_id, _session.c.revoked_at.is_(None))
        if keep_session is not None:
            others = others.where(_session.c.token_hash != _hash(keep_session))
        revoked = uow.connection.execute(others.values(revoked_at=now)).rowcount
        uow.commit()
    return int(revoked)


def _retry_after(conn: sa.Connection, key: str, limit: int, now: datetime, *, since_success: bool) -> int:
    """Seconds until ``key`` has fewer than ``limit`` failures in the window again (0: not throttled)."""
    start = now - THROTTLE_WINDOW
    after_id = 0
    if since_success:
        # A person's own successful sign-in wipes their slate; an address's does not, or a
        # guesser could reset it by signing in to an account of their own from the same place.
        # Ids, not times, tell what came after it: several attempts can share one instant.
        last_ok = conn.execute(
            sa.select(sa.func.max(_attempt.c.id)).where(
                _attempt.c.key == key, _attempt.c.succeeded.is_(True), _attempt.c.at > start
            )
        ).scalar()
        after_id = last_ok or 0
    recent: list[datetime] = list(
        conn.execute(
            sa.select(_attempt.c.at)
            .where(
                _attempt.c.key == key,
                _attempt.c.succeeded.is_(False),
                _attempt.c.at > start,
                _attempt.c.id > after_id,
            )
            .order_by(_attempt.c.at.desc())
            .limit(limit)
        ).scalars()
    )
    if len(recent) < limit:
        return 0
    # Free again once the limit-th most recent failure leaves the window.
    return max(1, math.ceil((recent[-1] + THROTTLE_WINDOW - now).total_seconds()))


def _keys(person_code: str, address: str | None) -> tuple[str, str]:
    return f"person:{person_code[:150]}", f"addr:{(address or 'unknown')[:150]}"


# The first half of PostgreSQL's two-int advisory lock keys for the throttle ("RCTH"): a key space
# of its own, apart from the scheduler's single-bigint lock.
_THROTTLE_LOCKS = int.from_bytes(b"RCTH", "big", signed=True)
_LOCK = sa.text("SELECT pg_advisory_xact_lock(:space, :key)")


def _serialize(conn: sa.Connection, keys: tuple[str, ...]) -> None:
    """Hold each throttle key until the transaction ends, so that counting and recording are one step.

    Without it, parallel sign-ins on PostgreSQL all count the same failures before any records its
    own, and each goes on to check a password. SQLite's writer already holds the write lock.
    """
    if conn.dialect.name != "postgresql":
        return
    # Always in the same order, so two sign-ins sharing both keys cannot wait for each other.
    for key in sorted(keys):
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)
        conn.execute(_LOCK, {"space": _THROTTLE_LOCKS, "key": digest})


def login(
    uow: UnitOfWork, person_code: str, password: str, address: str | None, user_agent: str | None, now: datetime
) -> tuple[str, str, Actor]:
    """Sign a person in; returns (session token, CSRF token, actor). Only the token's SHA-256 is kept.

    Unknown people, wrong passwords and inactive people get the same Unauthenticated
    and take the same time; Throttled, without checking the password, after too many
    recent failures for the person or the address.
    """
    person_key, address_key = _keys(person_code, address)
    with uow:
        _serialize(uow.connection, (person_key, address_key))
        wait = max(
            _retry_after(uow.connection, person_key, PERSON_FAILURES, now, since_success=True),
            _retry_after(uow.connection, address_key, ADDRESS_FAILURES, now, since_success=False),
        )
        if wait:
            raise Throttled(wait)
        row = uow.connection.execute(
            sa.select(_person.c.id, _person.c.active, _credential.c.password_hash)
            .outerjoin(_credential, _credential.c.person_id == _person.c.id)
            .where(_person.c.code == person_code)
        ).first()
        # Recorded as failures before the slow check and committed, so that parallel guesses
        # already count against each other; a success turns them into successes afterwards.
        attempt_ids = []
        for key in (person_key, address_key):
            inserted = uow.connection.execute(_attempt.insert(), {"key": key, "at": now, "succeeded": False})
            attempt_ids.append(inserted.inserted_primary_key[0])  # type: ignore[index]
        uow.commit()
    password_hash: str | None = row.password_hash if row is not None else None
    if not _verify(password_hash, password) or password_hash is None or row is None or not row.active:
        raise Unauthenticated(BAD_CREDENTIALS)
    # Parameters raised since this hash was made: redo it now that the password is known.
    rehashed = HASHER.hash(password) if HASHER.check_needs_rehash(password_hash) else None
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with uow:
        try:
            actor = load_actor(uow.session, person_code)  # NotFound if made inactive meanwhile
        except NotFound as exc:
            raise Unauthenticated(BAD_CREDENTIALS) from exc
        uow.connection.execute(
            _attempt.update().where(_attempt.c.id.in_(attempt_ids)).values(succeeded=True),
        )
        if rehashed is not None:
            uow.connection.execute(
                _credential.update().where(_credential.c.person_id == row.id).values(password_hash=rehashed)
            )
        client = " ".join(part for part in (address, user_agent) if part)[:300] or None
        uow.connection.execute(
            _session.insert(),
            {
                "person_id": row.id,
                "token_hash": _hash(token),
                "csrf_token": csrf_token,
                "created_at": now,
                "last_seen_at": now,
                "expires_at": now + SESSION_LIFETIME,
                "client": client,
            },
        )
        uow.commit()
    return token, csrf_token, actor


def session_for(
    uow: UnitOfWork,
    token: str,
    now: datetime,
    *,
    unsafe: bool = False,
    csrf_token: str | None = None,
    stamp: Callable[[], UnitOfWork] | None = None,
    beside: Beside | None = None,
) -> SignedIn:
    """The live session a cookie stands for; Unauthenticated when unknown, signed out or expired.

    For an ``unsafe`` request (one that may change something) the session's CSRF token
    must come with it: CsrfRefused otherwise, before the session is touched. The session's
    ``last_seen_at`` is written at most every TOUCH_EVERY: in ``uow`` when it is writable,
    else in a short unit from ``stamp``. ``beside``: a read sent in the same statement (``SignedIn.beside``).
    """
    digest = {"digest": _hash(token)}
    with uow:
        found = uow.read_first(lambda conn: known_by(conn, _BY_SESSION, digest, beside))
        if found is None:
            raise Unauthenticated(SESSION_GONE)
        row = found.credential
        if now >= row.expires_at or now >= row.last_seen_at + SESSION_IDLE:
            raise Unauthenticated(SESSION_GONE)
        if unsafe and not (csrf_token and hmac.compare_digest(csrf_token.encode(), row.csrf_token.encode())):
            raise CsrfRefused(
                "缺少或不符的 CSRF 令牌 (send the session's csrf_token in the X-CSRF-Token header, "
                "or as a csrf_token form field, with every POST, PUT, PATCH or DELETE)"
            )
        if now - row.last_seen_at >= TOUCH_EVERY:
            write_now(uow, _session.update().where(_session.c.id == row.session_id).values(last_seen_at=now), stamp)
    return SignedIn(
        session_id=row.session_id,
        actor=found.actor,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
        profile=profile_of(found),
        beside=found.beside,
    )


def actor_for_session(uow: UnitOfWork, token: str, now: datetime) -> Actor:
    """The actor a session cookie stands for; Unauthenticated when unknown, signed out or expired."""
    return session_for(uow, token, now).actor


def logout(uow: UnitOfWork, token: str, now: datetime) -> bool:
    """Sign a session out; False if it was not live."""
    with uow:
        revoked = uow.connection.execute(
            _session.update()
            .where(_session.c.token_hash == _hash(token), _session.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        uow.commit()
    return revoked.rowcount == 1


def profile_of(known: KnownActor) -> Profile:
    """The profile of an actor found with the names of their jurisdiction and compacts."""
    return _profile(known.actor, known.jurisdiction, known.compacts)


def _profile(actor: Actor, jurisdiction: tuple[str, str] | None, names: Mapping[int, tuple[str, str]]) -> Profile:
    """The actor with their jurisdiction and each of their compacts named (code, name)."""

    def named(compact_ids: frozenset[int]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(names[c] for c in compact_ids if c in names))

    return Profile(
        code=actor.code,
        name=actor.name,
        role=actor.role,
        jurisdiction=jurisdiction,
        coordinates=named(actor.coordinates),
        audits=named(actor.audits),
        member_of=named(actor.member_of),
    )


def profile(uow: UnitOfWork, actor: Actor) -> Profile:
    """The actor's jurisdiction and compacts by code and name."""
    with uow:
        conn = uow.connection
        jurisdiction = None
        if actor.jurisdiction_id is not None:
            found = conn.execute(
                sa.select(_jurisdiction.c.code, _jurisdiction.c.name).where(_jurisdiction.c.id == actor.jurisdiction_id)
            ).first()
            jurisdiction = (found.code, found.name) if found is not None else None
        ids = actor.coordinates | actor.audits | actor.member_of
        names = {
            r.id: (r.code, r.name)
            for r in conn.execute(
                sa.select(_compact.c.id, _compact.c.code, _compact.c.name).where(_compact.c.id.in_(ids))
            )
        }
    return _profile(actor, jurisdiction, names)


# Sign-in attempts and ended sessions are kept this long, for looking into abuse, then removed.
KEEP_ACCOUNT_RECORDS = timedelta(days=30)


def prune(uow: UnitOfWork, now: datetime) -> dict[str, int]:
    """Remove sign-in attempts older than KEEP_ACCOUNT_RECORDS and sessions that ended before it."""
    cutoff = now - KEEP_ACCOUNT_RECORDS
    with uow:
        attempts = uow.connection.execute(_attempt.delete().where(_attempt.c.at < cutoff)).rowcount
        sessions = uow.connection.execute(
            _session.delete().where(
                sa.or_(
                    _session.c.expires_at < cutoff,
                    _session.c.revoked_at < cutoff,
                    _session.c.last_seen_at < cutoff - SESSION_IDLE,
                )
            )
        ).rowcount
        uow.commit()
    return {"attempts": attempts, "sessions": sessions}
