"""The HTTP edge: a body's size limit, credentials before a body is read, and the one input check on what arrives.

``Edges`` is an ASGI middleware around every route. Before any route runs it:

- refuses a NUL or a lone surrogate in the path or the query (422 naming the parameter);
- answers a request that brings a body but no credentials to a protected route (401, or the
  sign-in page), without reading that body;
- refuses a body over its limit (413): at once when its Content-Length says so, else as soon
  as the bytes of a chunked body pass the limit, so nothing larger is ever held in memory;
- checks a JSON body within the edge's bounds (``workflow.core.payload.load_json``): depth
  before parsing, numbers' digits while parsing, then every key and string (422 naming each).

Refusals come in the shape of the interface asked: the API's error body, Open311's, or a page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import pages
from web.access import SESSION_COOKIE, UNSAFE_METHODS
from web.pages.routes import LoginRequired, login_redirect
from web.routes import open311
from web.routes.patrols import MAX_BATCH_BYTES
from web.routes.reference import MAX_DOCUMENT_BYTES
from workflow.core.errors import TooLarge, Unauthenticated, ValidationFailed, WorkflowError
from workflow.core.evidence import readable_size
from workflow.core.payload import load_json, text_problem

if TYPE_CHECKING:
    from web.wiring import Wired

API = "/api/"
OPEN311 = "/open311/"
# Unsafe requests that need no credentials: signing in (the API's and the page's). Open311 filing carries its
# api_key in the body itself, so it is not judged here.
PUBLIC_POSTS = frozenset({"/api/v1/session", "/login"})
# Routes whose body is larger than the general limit by design: a whole reference document, a batch of patrols.
DOCUMENT_PATHS = {"/api/v1/admin/reference": MAX_DOCUMENT_BYTES, "/api/v1/patrols": MAX_BATCH_BYTES}
NO_CREDENTIALS = (
    "sign in (POST /api/v1/session) or send a personal access token: Authorization: Bearer <token>; "
    "the body was not read"
)


class _Overflow(Exception):
    """A streamed body passed its limit: raised into the app from ``receive``, answered here with 413."""


def _is_json(content_type: str) -> bool:
    # As FastAPI reads bodies: no content type at all is read as JSON too.
    media = content_type.split(";")[0].strip().lower()
    return not media or media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _patterns(routes: Sequence[Any]) -> Iterator[re.Pattern[str]]:
    """The path patterns of every route, those of included routers too (only read when a path is refused)."""
    for route in routes:
        pattern = getattr(route, "path_regex", None)
        if isinstance(pattern, re.Pattern):
            yield pattern
        for inner in (getattr(route, "routes", None), getattr(getattr(route, "original_router", None), "routes", None)):
            if inner:
                yield from _patterns(inner)


class Edges:
    """The ASGI middleware that runs the edge's checks before any route (see the module's docstring)."""

    def __init__(self, app: ASGIApp, wired: Wired, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.wired = wired  # settings are read on each request: tests and operators may swap them
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_url(scope)
        except ValidationFailed as exc:
            await self._refuse(scope, exc)(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if not headers.get("transfer-encoding") and declared in (None, "0"):
            await self.app(scope, receive, send)  # no body to guard
            return
        path, method = scope["path"], scope["method"]
        if method in UNSAFE_METHODS and path not in PUBLIC_POSTS and not self._has_credentials(scope, headers):
            await self._refuse(scope, Unauthenticated(NO_CREDENTIALS))(scope, receive, send)
            return
        content_type = headers.get("content-type", "")
        limit = self._limit(path, content_type)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, self._too_large(limit))(scope, receive, send)
            return
        if method in UNSAFE_METHODS and _is_json(content_type):
            await self._json(scope, receive, send, limit)
        else:
            await self._streamed(scope, receive, send, limit)

    # -- the checks ----------------------------------------------------------------------------------------

    def _check_url(self, scope: Scope) -> None:
        """Refuse a NUL or a lone surrogate anywhere in the path or the query, naming the parameter."""
        errors: list[tuple[str, str]] = []
        path: str = scope["path"]
        # Open311 answers a path that names nothing with its spec's 404, and never looks such a code up.
        if not path.startswith(OPEN311) and (reason := text_problem(path)):
            errors.append((self._path_parameter(scope), reason))
        # As Starlette reads the query (so the check sees what the routes would).
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
            if reason := text_problem(name):
                errors.append(("query", f"a parameter's name {reason}"))
            elif reason := text_problem(value):
                errors.append((name, reason))
        if errors:
            raise ValidationFailed.of(errors)

    def _path_parameter(self, scope: Scope) -> str:
        """The name of the path parameter holding the bad text (``code``), or ``path`` when no route names it."""
        for pattern in _patterns(self.routes):
            if found := pattern.match(scope["path"]):
                for name, value in found.groupdict().items():
                    if text_problem(value):
                        return name
        return "path"

    @staticmethod
    def _has_credentials(scope: Scope, headers: Headers) -> bool:
        # Whether the credentials are good is for the route to judge; only their absence is judged here.
        path: str = scope["path"]
        if path.startswith(OPEN311):
            return True  # filing carries its api_key in the body
        if path.startswith(API) and headers.get("authorization", "").lower().startswith("bearer "):
            return True
        return bool(cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE))

    def _limit(self, path: str, content_type: str) -> int:
        settings = self.wired.settings
        if content_type.lower().startswith("multipart/form-data"):
            return settings.form_max_bytes
        return max(settings.body_max_bytes, DOCUMENT_PATHS.get(path, 0))

    @staticmethod
    def _too_large(limit: int) -> TooLarge:
        size = (
            f"{limit >> 20} MB"
            if limit % 2**20 == 0
            else f"{limit >> 10} KB"
            if limit % 1024 == 0
            else readable_size(limit)
        )
        return TooLarge("body", f"请求体超过 {size} 上限 (the request body is over the limit of {size})")

    # -- the bodies ----------------------------------------------------------------------------------------

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Read a JSON body (up to its limit), check it, then hand the route the same bytes."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, self._too_large(limit))(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            load_json(body)
        except ValidationFailed as exc:
            await self._refuse(scope, exc)(scope, receive, send)
            return
        except ValueError:
            pass  # not JSON at all: the route refuses it in its own words
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass a body through as it streams, counting its bytes; past the limit, the route's answer becomes 413."""
        size = 0
        over = started = False

        async def counted() -> Message:
            nonlocal size, over
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    over = True
                    raise _Overflow
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:
                return  # whatever the route made of the cut-off body, the answer is the 413 below
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, self._too_large(limit))(scope, receive, send)

    # -- the answers ---------------------------------------------------------------------------------------

    def _refuse(self, scope: Scope, exc: WorkflowError) -> Response:
        """The refusal in the shape of the interface asked: the API's body, Open311's, or a page."""
        path: str = scope["path"]
        if path.startswith(API):
            body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
            if isinstance(exc, ValidationFailed):
                body["fields"] = [{"field": f, "reason": r} for f, r in exc.errors]
            headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
            return JSONResponse(body, status_code=exc.http_status, headers=headers)
        if path.startswith(OPEN311):
            status = exc.http_status if isinstance(exc, TooLarge) else 400
            fmt = "xml" if path.endswith(".xml") else "json"
            return open311.render(fmt, "errors", "error", [{"code": status, "description": str(exc)}], status)
        request = Request(scope)
        if isinstance(exc, Unauthenticated):
            return login_redirect(request, LoginRequired(path))
        return pages.refusal(request, exc)
