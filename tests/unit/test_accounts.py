"""Passwords, sign-in throttling and browser sessions, against a real database and a frozen clock."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from tests.factories import COORDINATOR, RECEIVER, REPORTER, World
from workflow.accounts import signin as accounts
from workflow.accounts.signin import (
    ADDRESS_FAILURES,
    PERSON_FAILURES,
    SESSION_IDLE,
    SESSION_LIFETIME,
    THROTTLE_WINDOW,
    actor_for_session,
    login,
    logout,
    profile,
    session_for,
    set_password,
)
from workflow.accounts.tokens import actor_for_token, create_token
from workflow.core.db import make_engine
from workflow.core.errors import CsrfRefused, NotFound, Throttled, Unauthenticated, ValidationFailed
from workflow.core.models import ApiToken, Credential, LoginAttempt, Person, WebSession, table_of
from workflow.core.uow import UnitOfWork

PASSWORD = "琼江 correct horse 2026"
_credential, _person, _session = table_of(Credential), table_of(Person), table_of(WebSession)
ADDRESS = "10.8.0.7"


def sign_in(world: World, person: str = REPORTER, password: str = PASSWORD, address: str = ADDRESS) -> str:
    """Sign in now; returns the session token."""
    token, _, _ = login(world.app.uow(), person, password, address, "pytest", world.clock.now())
    return token


def rows(world: World, model: Any) -> list[Any]:
    """Every row of a table, as tuples."""
    with world.app.reader() as uow:
        return [tuple(r) for r in uow.connection.execute(sa.select(table_of(model)))]


def stored_hash(world: World, person: str = REPORTER) -> str:
    """The person's stored password hash."""
    with world.app.reader() as uow:
        return str(
            uow.connection.execute(
                sa.select(_credential.c.password_hash)
                .join(_person, _person.c.id == _credential.c.person_id)
                .where(_person.c.code == person)
            ).scalar_one()
        )


def deactivate(world: World, person: str) -> None:
    """Mark a person inactive, as an admin would."""
    with world.app.uow() as uow:
        uow.connection.execute(_person.update().where(_person.c.code == person).values(active=False))
        uow.commit()


@pytest.fixture
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its cheapest, for tests about counting and sessions rather than the hash's cost."""
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class CountingHasher(PasswordHasher):
    """The real hasher, counting how often a password is checked."""

    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        """Count, then verify."""
        CountingHasher.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingHasher]:
    """Swap in a quick counting hasher."""
    CountingHasher.verified = 0
    monkeypatch.setattr(accounts, "HASHER", CountingHasher(time_cost=1, memory_cost=8, parallelism=1))
    return CountingHasher


def test_a_password_is_kept_only_as_an_argon2id_hash(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    kept = stored_hash(sqlite_world)
    assert kept.startswith("$argon2id$")
    assert PasswordHasher().verify(kept, PASSWORD)
    token = sign_in(sqlite_world)
    everything = repr(sqlite_world.counts()) + "".join(
        repr(rows(sqlite_world, m)) for m in (Credential, WebSession, LoginAttempt)
    )
    assert PASSWORD not in everything
    assert token not in everything
    assert hashlib.sha256(token.encode()).hexdigest() in everything


@pytest.mark.parametrize(
    ("password", "says"),
    [("short9chr", "至少 10 个字符"), ("", "至少 10 个字符"), ("x" * 1025, "最多 1024"), ("Ngo-Auditor", "人员编号")],
)
def test_a_bad_password_is_refused_naming_the_field_and_changes_nothing(
    sqlite_world: World, password: str, says: str
) -> None:
    before = sqlite_world.counts()
    person = "ngo-auditor"
    with pytest.raises(ValidationFailed) as refused:
        set_password(sqlite_world.app.uow(), person, password)
    assert refused.value.field == "password"
    assert says in refused.value.reason
    assert sqlite_world.counts() == before


def test_a_password_for_an_unknown_or_inactive_person_is_not_found(sqlite_world: World) -> None:
    with pytest.raises(NotFound):
        set_password(sqlite_world.app.uow(), "nobody-here", PASSWORD)
    deactivate(sqlite_world, RECEIVER)
    with pytest.raises(NotFound):
        set_password(sqlite_world.app.uow(), RECEIVER, PASSWORD)
    assert rows(sqlite_world, Credential) == []


@pytest.mark.usefixtures("quick_hashing")
def test_signing_in_gives_a_session_that_stands_for_the_person(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    token, csrf, actor = login(sqlite_world.app.uow(), REPORTER, PASSWORD, ADDRESS, "phone", sqlite_world.clock.now())
    assert actor == sqlite_world.actor(REPORTER)
    assert actor_for_session(sqlite_world.app.uow(), token, sqlite_world.clock.now()) == actor
    signed_in = session_for(sqlite_world.app.uow(), token, sqlite_world.clock.now())
    assert signed_in.csrf_token == csrf
    assert signed_in.expires_at == sqlite_world.clock.now() + SESSION_LIFETIME
    attempts = {key: succeeded for _, key, _, succeeded in rows(sqlite_world, LoginAttempt)}
    assert attempts == {f"person:{REPORTER}": True, f"addr:{ADDRESS}": True}
    assert [r[-1] for r in rows(sqlite_world, WebSession)] == [f"{ADDRESS} phone"]
    with pytest.raises(Unauthenticated):
        actor_for_session(sqlite_world.app.uow(), token + "x", sqlite_world.clock.now())


def test_a_wrong_password_an_unknown_person_and_one_without_a_password_get_the_same_refusal(
    sqlite_world: World, counting: type[CountingHasher]
) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    refusals = []
    for person, password in [(REPORTER, PASSWORD + "!"), ("nobody-here", PASSWORD), (RECEIVER, PASSWORD)]:
        with pytest.raises(Unauthenticated) as refused:
            sign_in(sqlite_world, person, password)
        refusals.append(str(refused.value))
    assert len(set(refusals)) == 1
    # Each one ran the same argon2 check, so none answers sooner than the others.
    assert counting.verified == 3
    failures = [(key, ok) for _, key, _, ok in rows(sqlite_world, LoginAttempt)]
    assert sorted(failures) == sorted(
        [(f"person:{p}", False) for p in (REPORTER, "nobody-here", RECEIVER)] + [(f"addr:{ADDRESS}", False)] * 3
    )
    assert rows(sqlite_world, WebSession) == []


@pytest.mark.usefixtures("quick_hashing")
def test_an_inactive_person_cannot_sign_in_and_their_sessions_stop(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), RECEIVER, PASSWORD)
    token = sign_in(sqlite_world, RECEIVER)
    deactivate(sqlite_world, RECEIVER)
    with pytest.raises(Unauthenticated) as refused:
        sign_in(sqlite_world, RECEIVER)
    assert "人员编号或密码不对" in str(refused.value)
    with pytest.raises(Unauthenticated):
        actor_for_session(sqlite_world.app.uow(), token, sqlite_world.clock.now())


def test_a_hash_with_older_parameters_is_redone_at_the_next_sign_in(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with sqlite_world.app.uow() as uow:
        uow.connection.execute(_credential.update().values(password_hash=weak))
        uow.commit()
    with pytest.raises(Unauthenticated):
        sign_in(sqlite_world, password="not the password")
    assert stored_hash(sqlite_world) == weak
    sign_in(sqlite_world)
    redone = stored_hash(sqlite_world)
    assert redone != weak
    assert "$m=65536,t=3,p=4$" in redone
    assert PasswordHasher().verify(redone, PASSWORD)


def test_too_many_failures_for_a_person_throttle_them_until_the_window_moves_on(
    world: World, counting: type[CountingHasher]
) -> None:
    set_password(world.app.uow(), REPORTER, PASSWORD)
    first = world.clock.now()
    for n in range(PERSON_FAILURES):
        with pytest.raises(Unauthenticated):
            sign_in(world, password="guess-guess-guess", address=f"10.0.0.{n}")
        world.clock.advance(minutes=1)
    checked = counting.verified
    attempts = len(rows(world, LoginAttempt))
    with pytest.raises(Throttled) as throttled:
        sign_in(world, address="10.9.9.9")  # the right password, from a fresh address
    # Free again when the first failure leaves the window, to the second.
    assert throttled.value.retry_after == (first + THROTTLE_WINDOW - world.clock.now()).total_seconds()
    assert counting.verified == checked  # the password was not even looked at
    assert len(rows(world, LoginAttempt)) == attempts  # and waiting does not extend the wait
    world.clock.advance(seconds=throttled.value.retry_after - 1)
    with pytest.raises(Throttled) as still:
        sign_in(world)
    assert still.value.retry_after == 1
    world.clock.advance(seconds=1)
    assert actor_for_session(world.app.uow(), sign_in(world), world.clock.now()).code == REPORTER


@pytest.mark.usefixtures("quick_hashing")
def test_a_successful_sign_in_clears_the_persons_count(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    for _ in range(PERSON_FAILURES - 1):
        with pytest.raises(Unauthenticated):
            sign_in(sqlite_world, password="typo-typo-typo")
    sign_in(sqlite_world)
    for _ in range(PERSON_FAILURES - 1):
        with pytest.raises(Unauthenticated):
            sign_in(sqlite_world, password="typo-typo-typo")
    sign_in(sqlite_world)  # eight failures in the window, but four since the last success
    for _ in range(PERSON_FAILURES):
        with pytest.raises(Unauthenticated):
            sign_in(sqlite_world, password="typo-typo-typo")
    with pytest.raises(Throttled):
        sign_in(sqlite_world)


@pytest.mark.usefixtures("quick_hashing")
def test_too_many_failures_from_one_address_throttle_everyone_there_and_a_success_does_not_clear_it(
    sqlite_world: World,
) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    set_password(sqlite_world.app.uow(), COORDINATOR, PASSWORD)
    for n in range(ADDRESS_FAILURES - 1):
        with pytest.raises(Unauthenticated):
            sign_in(sqlite_world, f"guess-{n}")  # one try per name: no person is throttled
    sign_in(sqlite_world, COORDINATOR)
    with pytest.raises(Unauthenticated):
        sign_in(sqlite_world, "guess-last")
    with pytest.raises(Throttled) as throttled:
        sign_in(sqlite_world)
    assert throttled.value.retry_after == THROTTLE_WINDOW.total_seconds()
    # Another address is not held back, nor is this person elsewhere.
    assert sign_in(sqlite_world, address="10.8.0.8")
    sqlite_world.clock.advance(seconds=throttled.value.retry_after)
    assert sign_in(sqlite_world)


PARALLEL = 30  # sign-ins at once: more than either limit, fewer than the pool's connections


@pytest.mark.usefixtures("quick_hashing")
@pytest.mark.parametrize("shared", ["person", "address"])
def test_parallel_wrong_guesses_check_no_more_passwords_than_the_limit(world: World, shared: str) -> None:
    set_password(world.app.uow(), REPORTER, PASSWORD)
    barrier = threading.Barrier(PARALLEL, timeout=30)

    def guess(n: int) -> str:
        # One person from many addresses, or many (unknown) people from one address.
        person, address = (REPORTER, f"10.1.0.{n}") if shared == "person" else (f"nobody-{n}", ADDRESS)
        barrier.wait()
        try:
            sign_in(world, person, f"guess-guess-{n}", address)
        except (Unauthenticated, Throttled) as refused:
            return type(refused).__name__
        return "signed in"

    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(pool.map(guess, range(PARALLEL)))

    limit = PERSON_FAILURES if shared == "person" else ADDRESS_FAILURES
    # A refusal as Unauthenticated means the password was checked; Throttled, that it was not.
    assert outcomes.count("Unauthenticated") == limit, outcomes
    assert outcomes.count("Throttled") == PARALLEL - limit, outcomes
    key = f"person:{REPORTER}" if shared == "person" else f"addr:{ADDRESS}"
    assert len([r for r in rows(world, LoginAttempt) if r[1] == key]) == limit


@pytest.mark.usefixtures("quick_hashing")
def test_a_session_ends_after_two_idle_hours(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    token = sign_in(sqlite_world)
    clock, uow = sqlite_world.clock, sqlite_world.app.uow
    clock.advance(seconds=(SESSION_IDLE - timedelta(seconds=1)).total_seconds())
    assert actor_for_session(uow(), token, clock.now()).code == REPORTER  # and this use counts
    clock.advance(seconds=(SESSION_IDLE - timedelta(seconds=1)).total_seconds())
    assert actor_for_session(uow(), token, clock.now()).code == REPORTER
    clock.advance(seconds=SESSION_IDLE.total_seconds())
    with pytest.raises(Unauthenticated) as expired:
        actor_for_session(uow(), token, clock.now())
    assert "重新登录" in str(expired.value)


@pytest.mark.usefixtures("quick_hashing")
def test_a_session_ends_after_twelve_hours_however_busy(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    token = sign_in(sqlite_world)
    clock, uow = sqlite_world.clock, sqlite_world.app.uow
    for _ in range(int(SESSION_LIFETIME / timedelta(hours=1)) - 1):
        clock.advance(hours=1)
        actor_for_session(uow(), token, clock.now())
    clock.advance(minutes=59, seconds=59)
    actor_for_session(uow(), token, clock.now())
    clock.advance(seconds=1)
    with pytest.raises(Unauthenticated):
        actor_for_session(uow(), token, clock.now())


@pytest.mark.usefixtures("quick_hashing")
def test_last_seen_is_written_at_most_once_a_minute(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    token = sign_in(sqlite_world)
    signed_in_at = sqlite_world.clock.now()

    def last_seen() -> Any:
        with sqlite_world.app.reader() as uow:
            return uow.connection.execute(sa.select(_session.c.last_seen_at)).scalar_one()

    sqlite_world.clock.advance(seconds=59)
    actor_for_session(sqlite_world.app.uow(), token, sqlite_world.clock.now())
    assert last_seen() == signed_in_at
    sqlite_world.clock.advance(seconds=1)
    actor_for_session(sqlite_world.app.uow(), token, sqlite_world.clock.now())
    assert last_seen() == sqlite_world.clock.now()


@pytest.mark.usefixtures("quick_hashing")
def test_an_unsafe_use_needs_the_sessions_csrf_token_and_a_refusal_does_not_keep_it_alive(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    token, csrf, _ = login(sqlite_world.app.uow(), REPORTER, PASSWORD, ADDRESS, None, sqlite_world.clock.now())
    uow, clock = sqlite_world.app.uow, sqlite_world.clock
    clock.advance(hours=1)
    for sent in (None, "", csrf[:-1] + ("A" if csrf[-1] != "A" else "B"), "令牌"):
        with pytest.raises(CsrfRefused):
            session_for(uow(), token, clock.now(), unsafe=True, csrf_token=sent)
    clock.advance(hours=1)  # two hours since the last accepted use
    with pytest.raises(Unauthenticated):
        session_for(uow(), token, clock.now(), unsafe=True, csrf_token=csrf)


@pytest.mark.usefixtures("quick_hashing")
def test_signing_out_ends_the_session_once(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    token, other = sign_in(sqlite_world), sign_in(sqlite_world)
    assert logout(sqlite_world.app.uow(), token, sqlite_world.clock.now())
    assert not logout(sqlite_world.app.uow(), token, sqlite_world.clock.now())
    with pytest.raises(Unauthenticated):
        actor_for_session(sqlite_world.app.uow(), token, sqlite_world.clock.now())
    assert actor_for_session(sqlite_world.app.uow(), other, sqlite_world.clock.now()).code == REPORTER


@pytest.mark.usefixtures("quick_hashing")
def test_changing_the_password_signs_out_the_persons_other_sessions(sqlite_world: World) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    set_password(sqlite_world.app.uow(), RECEIVER, PASSWORD)
    here, phone, theirs = sign_in(sqlite_world), sign_in(sqlite_world), sign_in(sqlite_world, RECEIVER)
    assert set_password(sqlite_world.app.uow(), REPORTER, "a new one for 2026", keep_session=here) == 1
    now = sqlite_world.clock.now()
    assert actor_for_session(sqlite_world.app.uow(), here, now).code == REPORTER
    assert actor_for_session(sqlite_world.app.uow(), theirs, now).code == RECEIVER
    with pytest.raises(Unauthenticated):
        actor_for_session(sqlite_world.app.uow(), phone, now)
    with pytest.raises(Unauthenticated):
        sign_in(sqlite_world)  # the old password
    # Set from outside any session (the CLI), it signs out every one.
    assert set_password(sqlite_world.app.uow(), REPORTER, "and another 2026") == 1
    with pytest.raises(Unauthenticated):
        actor_for_session(sqlite_world.app.uow(), here, now)


def test_a_profile_names_the_jurisdiction_and_compacts(sqlite_world: World) -> None:
    coordinator = profile(sqlite_world.app.reader(), sqlite_world.actor(COORDINATOR))
    assert [code for code, _ in coordinator.coordinates] == ["QJ"]
    assert coordinator.audits == ()
    chief = profile(sqlite_world.app.reader(), sqlite_world.actor(REPORTER))
    assert chief.jurisdiction == ("500152102", "太安镇")
    assert [code for code, _ in chief.member_of] == ["QJ"]
    assert chief.coordinates == ()


@pytest.mark.parametrize("unit", ["read-only, stamped in a unit of its own", "writable, stamped in it"])
def test_a_token_in_use_is_stamped_at_most_once_a_minute(sqlite_world: World, unit: str) -> None:
    app = sqlite_world.app
    token_id, token = create_token(app.uow(), REPORTER, "phone")
    start = app.clock.now()

    def stamp() -> object:
        with app.reader() as uow:
            return uow.connection.execute(
                sa.select(table_of(ApiToken).c.last_used_at).where(table_of(ApiToken).c.id == token_id)
            ).scalar()

    for offset, expected in ((0, 0), (30, 0), (59, 0), (61, 61)):
        now = start + timedelta(seconds=offset)
        if unit.startswith("read-only"):
            actor = actor_for_token(app.reader(), token, now, stamp=app.uow)
        else:
            actor = actor_for_token(app.uow(), token, now)
        assert actor.code == REPORTER
        assert stamp() == start + timedelta(seconds=expected)


def test_a_session_read_in_a_read_only_unit_is_still_kept_alive(sqlite_world: World) -> None:
    app = sqlite_world.app
    set_password(app.uow(), RECEIVER, "correct horse 1")
    start = app.clock.now()
    token, _, _ = login(app.uow(), RECEIVER, "correct horse 1", "10.0.0.1", None, start)
    # Someone who only reads pages for hours is not signed out as idle: each read stamps the session.
    for hours in range(1, 6):
        seen = session_for(app.reader(), token, start + timedelta(hours=hours), stamp=app.uow)
        assert seen.actor.code == RECEIVER
    # Without a unit to stamp in, reads would not keep it alive and the idle limit ends it.
    with pytest.raises(Unauthenticated):
        session_for(app.reader(), token, start + timedelta(hours=5) + SESSION_IDLE)


def test_old_sign_in_attempts_and_ended_sessions_are_pruned_and_live_ones_kept(sqlite_world: World) -> None:
    app = sqlite_world.app
    set_password(app.uow(), RECEIVER, "correct horse 1")
    start = app.clock.now()
    old_token, _, _ = login(app.uow(), RECEIVER, "correct horse 1", "10.0.0.1", None, start)
    with pytest.raises(Unauthenticated):
        login(app.uow(), RECEIVER, "a wrong one!", "10.0.0.1", None, start)
    later = start + timedelta(days=31)
    live_token, _, _ = login(app.uow(), RECEIVER, "correct horse 1", "10.0.0.1", None, later)
    assert accounts.prune(app.uow(), later) == {"attempts": 4, "sessions": 1}
    with pytest.raises(Unauthenticated):
        session_for(app.uow(), old_token, later)
    assert session_for(app.uow(), live_token, later).actor.code == RECEIVER
    assert accounts.prune(app.uow(), later) == {"attempts": 0, "sessions": 0}


@pytest.mark.parametrize("credential", ["token", "session"])
def test_a_read_only_unit_stamps_its_caller_holding_one_of_the_pools_connections_at_a_time(
    world: World, credential: str
) -> None:
    # A request's unit that kept its connection while the stamp's unit waited for another deadlocked the pool
    # when as many requests as it has connections stamped at once: each waited for the others until the pool's
    # timeout, and answered 500. A pool of one connection shows it without the crowd.
    app = world.app
    now = app.clock.now()
    if credential == "token":
        token_id, secret = create_token(app.uow(), RECEIVER, "phone")
        later = now + timedelta(minutes=2)

        def identify(uow: UnitOfWork) -> str:
            return actor_for_token(uow, secret, later, stamp=uow.fresh).code

        stamped = sa.select(table_of(ApiToken).c.last_used_at).where(table_of(ApiToken).c.id == token_id)
    else:
        set_password(app.uow(), RECEIVER, "correct horse 1")
        secret, _, _ = login(app.uow(), RECEIVER, "correct horse 1", "10.0.0.1", None, now)
        later = now + timedelta(hours=1)

        def identify(uow: UnitOfWork) -> str:
            return session_for(uow, secret, later, stamp=uow.fresh).actor.code

        stamped = sa.select(sa.func.max(table_of(WebSession).c.last_seen_at))
    url = app.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    try:
        uow = UnitOfWork(engine, app.clock, app.calendar, readonly=True)
        uow.snapshot = False  # as a web request's unit reads
        with uow:
            assert identify(uow) == RECEIVER
            assert uow.connection.execute(sa.select(sa.literal(7))).scalar() == 7  # and it reads on
    finally:
        engine.dispose()
    with app.reader() as uow:
        assert uow.connection.execute(stamped).scalar() == later
