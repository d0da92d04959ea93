"""Who is calling, and what they may read: the dependencies every router shares.

A caller is known by a personal access token (``Authorization: Bearer``) or by the
session cookie a sign-in set. A cookie is sent by the browser on its own, so a
cookie-authenticated request that may change something must also carry the
session's CSRF token, which another site's page cannot read.

(No postponed annotations here: FastAPI reads the signatures at run time.)
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy.util import greenlet_spawn
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from workflow.accounts.signin import SignedIn, session_for
from workflow.accounts.tokens import token_holder
from workflow.core.actors import Actor, Beside
from workflow.core.db import Contended, without_waiting
from workflow.core.errors import NotFound, Unauthenticated, ValidationFailed
from workflow.core.payload import INT_MAX, day_problem
from workflow.core.uow import UnitOfWork
from workflow.reading.issues import IssueScope, IssueView, compact_id_of, issue_scope, issue_view

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from web.wiring import Wired

SESSION_COOKIE = "rc_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_bearer = HTTPBearer(auto_error=False)
# The largest id a database integer column holds (PostgreSQL's integer is 32 bits, as are this schema's ids and
# versions): larger ones in a path, a query or a body are refused (422), not looked up.
DB_INT_MAX = INT_MAX


class FieldError(BaseModel):
    """One bad field of a refused request, and why."""

    field: str
    reason: str


class Refusal(BaseModel):
    """Why a request was refused: the error's type, a sentence, and for a 422 each bad field."""

    error: str
    detail: str
    fields: list[FieldError] | None = None


class RequestInvalid(BaseModel):
    """A request whose shape was refused before any route ran (FastAPI's own 422 body)."""

    detail: list[dict[str, Any]]


class Unparsable(BaseModel):
    """A body that could not be parsed at all (FastAPI's own 400 body)."""

    detail: str


# The refusals every /api/v1 route may answer with (web/api.py's exception handler writes them).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Unparsable, "description": "the body cannot be parsed (请求体无法解析)"},
    401: {"model": Refusal, "description": "no valid token or session (未登录或令牌无效)"},
    403: {"model": Refusal, "description": "the caller may not do this (无权操作)"},
    404: {"model": Refusal, "description": "no such thing, or not the caller's to see (不存在或无权查看)"},
    409: {"model": Refusal, "description": "a stale version, or a step the state does not allow now (版本冲突)"},
    413: {"model": Refusal, "description": "the body or upload is over its size limit (文件过大)"},
    415: {"model": Refusal, "description": "the body or upload is not a kind taken here (文件类型不支持)"},
    422: {"model": Refusal | RequestInvalid, "description": "bad input, each field named with the reason (输入有误)"},
    429: {"model": Refusal, "description": "too many failed sign-ins; see Retry-After (登录失败次数过多)"},
}


def iso(value: Any) -> str | None:
    """A date or time as ISO 8601, or None."""
    return value.isoformat() if value is not None else None


def one_of(field: str, value: str | None, choices: tuple[str, ...]) -> None:
    """Refuse a query value outside its choices, naming the field (None means "not asked")."""
    if value is not None and value not in choices:
        raise ValidationFailed(field, f"{value!r} is not one of {', '.join(choices)}")


def sane_days(**days: date | None) -> None:
    """Refuse days outside 1970-2100, naming each query field (``from_`` names ``from``); None means "not asked"."""
    errors = [
        (name.rstrip("_"), reason) for name, day in days.items() if day is not None and (reason := day_problem(day))
    ]
    if errors:
        raise ValidationFailed.of(errors)


def compacts_of(actor: Actor) -> frozenset[int]:
    """The compacts whose issues the actor may read."""
    return actor.member_of | actor.coordinates | actor.audits


def compacts_named(uow: UnitOfWork, actor: Actor, compact: str | None) -> frozenset[int]:
    """The caller's compacts, or the one named; another compact does not exist for the caller (NotFound)."""
    mine = compacts_of(actor)
    if compact is None:
        return mine
    with uow:
        wanted = compact_id_of(uow.connection, compact)
    if wanted not in mine:
        raise NotFound("compact", compact)
    return frozenset({wanted})


@dataclass(frozen=True, slots=True)
class Presented:
    """The credentials a request presents, as its headers carry them: nothing looked up yet."""

    token: str | None  # a personal access token (``Authorization: Bearer``)
    cookie: str | None  # the session cookie
    unsafe: bool  # a method that may change something: a session's request then needs its CSRF token
    csrf_token: str | None  # the header's, else an HTML form's field


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The caller, and the browser session it signed in with (None for a personal access token)."""

    actor: Actor
    session: SignedIn | None
    beside: Mapping[str, Any] | None = None  # what a ``Beside`` read found with the caller


# Where a request's dependencies leave what ``Opened`` closes once the request is answered (in ``request.state``).
_UNIT = "riverchief_unit"
_FORM = "riverchief_form"


async def _form_csrf(request: Request) -> str | None:
    """The ``csrf_token`` field of an HTML form posted with the session cookie, when no header carries it."""
    wanted = (
        request.method in UNSAFE_METHODS
        and SESSION_COOKIE in request.cookies
        and not request.headers.get("authorization", "").lower().startswith("bearer ")
        and CSRF_HEADER not in request.headers
        and request.headers.get("content-type", "").startswith(FORM_TYPES)
    )
    if not wanted:
        return None
    # A route with form fields has parsed the form already and this returns the same object.
    form = await request.form()
    setattr(request.state, _FORM, form)  # closed with its spooled uploads by ``Opened``
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


class Opened:
    """ASGI middleware: once a request is answered, close what its dependencies opened.

    That is its unit of work (given back to the pool, rolling back what was not committed) and a form read
    for its CSRF token. Plain coroutines open them: a dependency with ``yield`` costs every request a
    context manager, an exit stack and an async generator the event loop tracks, which here was more than
    the unit's own work on a read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; close what it opened, whatever happened."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with the copies of the scope the routes see
        try:
            await self.app(scope, receive, send)
        finally:
            form, opened = state.pop(_FORM, None), state.pop(_UNIT, None)
            try:
                if form is not None:
                    await form.close()
            finally:
                if opened is not None:
                    await _give_back(opened)


async def _give_back(opened: UnitOfWork) -> None:
    """Leave a request's unit of work: at once when that needs no round trip, else from the thread pool."""
    if opened.idle:
        opened.__exit__(None, None, None)
    else:
        await run_in_threadpool(opened.__exit__, None, None, None)


class Access:
    """The request's unit of work, the caller dependency and the read-scope checks, bound to one wired app.

    Every request that needs the database has one unit of work, opened by ``unit``: read-only for a safe
    method (GET, HEAD), writable otherwise. Its first statement finds the caller (one statement, run before
    the unit's transaction, so on SQLite it takes no write lock, and run again on a new connection if the
    pooled one was dropped); the scope checks and the step follow in its transaction (on SQLite a writer
    takes the write lock at the first of them, so the checks and the step see one state), and the
    services commit it. The one exception is the at-most-once-a-minute stamp of a session's or token's
    last use on a read-only request, written in a short unit of its own. Reads that may lag a moment take
    ``replica`` besides: a read-only unit on the read replica, when one is set.

    ``unit`` is a coroutine: opening a unit takes no connection yet, and ``Opened`` gives it back once the
    request is answered, with no round trip unless a transaction was left open on PostgreSQL. A plain ``def``
    route behind ``caller`` takes the trips through the thread pool a bare route with a plain ``def``
    dependency takes (the caller's look-up, the route, and FastAPI's check of its answer); a route that goes
    through ``answer`` takes one.
    """

    def __init__(self, wired: "Wired") -> None:
        self.wired = wired
        # Each serving event loop's engine for the quick routes on PostgreSQL (``serving``, ``answer_beside``).
        self._loop_engines: dict[asyncio.AbstractEventLoop, AsyncEngine] = {}

        async def unit(request: Request) -> UnitOfWork:
            if request.method in UNSAFE_METHODS:
                opened = wired.uow()
            else:
                opened = wired.reader()
                opened.snapshot = False  # one BEGIN less on SQLite: a request's reads see commits as on PostgreSQL
            opened.__enter__()
            setattr(request.state, _UNIT, opened)  # left by ``Opened`` once the request is answered
            return opened

        Unit = Annotated[UnitOfWork, Depends(unit)]  # noqa: N806 (a type alias, named as one)

        def replica(uow: Unit) -> Iterator[UnitOfWork]:
            with self.lagging(uow) as lagging:
                yield lagging

        async def presented(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
            form_csrf: Annotated[str | None, Depends(_form_csrf)],
        ) -> Presented:
            # async: it only reads the request's headers (and a posted form), so it takes no trip through the pool.
            return Presented(
                token=credentials.credentials if credentials is not None else None,
                cookie=request.cookies.get(SESSION_COOKIE) or None,
                unsafe=request.method in UNSAFE_METHODS,
                csrf_token=request.headers.get(CSRF_HEADER) or form_csrf,
            )

        def caller(request: Request, shown: Annotated[Presented, Depends(presented)], uow: Unit) -> Actor:
            found = self.identify(uow, shown)
            request.state.signed_in = found.session  # for ``authenticated``
            return found.actor

        async def authenticated(request: Request, actor: Annotated[Actor, Depends(caller)]) -> Authenticated:
            # async: it only gathers what ``caller`` found, so it need not take a trip through the thread pool.
            return Authenticated(actor, getattr(request.state, "signed_in", None))

        self.unit = unit
        self.replica = replica
        self.presented = presented
        self.authenticated = authenticated
        self.caller = caller

    @contextmanager
    def lagging(self, uow: UnitOfWork) -> Iterator[UnitOfWork]:
        """For reads that may lag (the dashboard, the stats, the map): a unit on the read replica beside the
        request's own ``uow``, which still signs the caller in on the primary; with no replica, ``uow`` itself,
        its statements inside planned for their own values as the replica's are (``db.PLANNED``)."""
        lagging = self.wired.replica_reader()
        if lagging.engine is uow.engine:
            with uow.planning():
                yield uow
            return
        with lagging:
            yield lagging

    def identify(self, uow: UnitOfWork, shown: Presented, beside: Beside | None = None) -> Authenticated:
        """Who the credentials a request presented stand for: one statement, in ``uow`` (see ``caller``), which
        also carries the ``beside`` read when one is given (``Authenticated.beside``).

        Unauthenticated without credentials or for unknown, revoked or expired ones; CsrfRefused for a
        session's unsafe request without its CSRF token. A token needs none: a cross-site page cannot set
        the header that carries it.
        """
        now = self.wired.clock.now()
        if shown.token is not None:
            found = token_holder(uow, shown.token, now, stamp=uow.fresh, beside=beside)
            return Authenticated(found.actor, None, found.beside)
        if shown.cookie is None:
            raise Unauthenticated(
                "sign in (POST /api/v1/session) or send a personal access token: Authorization: Bearer <token>"
            )
        signed_in = session_for(
            uow,
            shown.cookie,
            now,
            unsafe=shown.unsafe,
            csrf_token=shown.csrf_token,
            stamp=uow.fresh,
            beside=beside,
        )
        return Authenticated(signed_in.actor, signed_in, signed_in.beside)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """While the running event loop serves (the app's lifespan): on PostgreSQL, the engine its quick routes
        run on (``answer_beside``), disposed when it stops."""
        async with self.wired.on_loop() as engine:
            if engine is None:
                yield
                return
            loop = asyncio.get_running_loop()
            self._loop_engines[loop] = engine
            try:
                yield
            finally:
                del self._loop_engines[loop]

    async def answer(
        self, uow: UnitOfWork, shown: Presented, work: Callable[[Actor], Any], *, status_code: int = 200
    ) -> Response:
        """Find the caller, do ``work`` as them and encode its JSON answer, all in one trip through the thread pool.

        For the API's busy routes (an issue's GET, a step's POST, the lists, the stats, the creates), declared
        ``async`` with ``Presented``, which reads only headers, in place of ``Caller``: a plain ``def`` route
        behind the ``caller`` dependency takes three trips (the caller, the route, FastAPI's check of the
        answer against the return type), and under many clients each trip is a turn at the GIL for the event
        loop and a pool thread. The database work runs on the event loop only for ``answer_beside``'s quick
        routes on SQLite, and never waits there. ``work`` may return a ``Response`` of its own (an idempotent
        create's replay).
        """
        return await self.answer_beside(uow, shown, None, lambda actor, _found: work(actor), status_code=status_code)

    async def answer_beside(
        self,
        uow: UnitOfWork,
        shown: Presented,
        beside: Beside | None,
        work: Callable[[Actor, Mapping[str, Any] | None], Any],
        *,
        status_code: int = 200,
        quick: bool = False,
    ) -> Response:
        """``answer`` with a read sent in the caller's statement: ``work`` gets the row it found (None for none).

        For a read that does not depend on who asks (the issue a GET names, the scope a step checks): one
        round trip to the database for the caller and that read instead of two.

        ``quick``: ``work`` is a small read or one step, and runs on the event loop: under many clients the trip
        through the thread pool and the turns at the GIL it brings cost more than the work (bench/README.md).
        On SQLite that work costs CPU and no wait (the database is a file this process reads); it never waits
        there: when a writer would wait for SQLite's write lock (``Contended``, nothing begun, nothing written)
        the whole of it runs again in the thread pool, where waiting is allowed. On PostgreSQL its statements
        wait for the server, so they go through the loop's own engine (psycopg's asyncio driver, ``serving``):
        the work's code runs in a greenlet and hands the loop back at each statement until the server answers,
        a row lock included, so the other requests go on meanwhile. Without a serving loop (an app used
        without its lifespan) it runs in the thread pool.
        """

        def run() -> Response:
            who = self.identify(uow, shown, beside)
            done = work(who.actor, who.beside)
            if isinstance(done, Response):
                return done
            return Response(to_json(done), status_code=status_code, media_type="application/json")

        if quick and uow.engine.dialect.name == "sqlite":
            try:
                with without_waiting():
                    return run()
            except Contended:
                pass
        loop_engine = self._loop_engines.get(asyncio.get_running_loop()) if quick else None
        if loop_engine is not None and not uow.connected:

            def on_loop() -> Response:
                with uow.on(loop_engine.sync_engine):
                    return run()

            on_the_loop: Response = await greenlet_spawn(on_loop)
            return on_the_loop
        answered: Response = await run_in_threadpool(run)
        return answered

    def scope(self, uow: UnitOfWork, actor: Actor, code: str) -> IssueScope:
        """The issue's compact and sides; NotFound when it is another compact's (it does not exist for the caller)."""
        with uow:
            found = issue_scope(uow.connection, code)
        return self.scoped(actor, code, found)

    @staticmethod
    def scoped(actor: Actor, code: str, found: IssueScope) -> IssueScope:
        """``found``, the issue's scope, when the caller may read the issue; NotFound otherwise."""
        if found.compact_id not in compacts_of(actor):
            raise NotFound("issue", code)
        return found

    def readable(
        self, uow: UnitOfWork, actor: Actor, code: str, *, timeline: bool = True
    ) -> tuple[IssueView, IssueScope]:
        """The issue's view (with its timeline unless told otherwise) and scope, if the caller may read it: the
        read the API's GET and the issue page share, one statement (two with the timeline)."""
        with uow:
            view = issue_view(uow.connection, code, timeline=timeline, compacts=compacts_of(actor))
        return view, view.scope
