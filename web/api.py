"""The versioned HTTP API, assembled from one router per resource family.

``create_api(wired)`` receives everything the composition root wired; no
route touches rows: each change goes through ``workflow.core.services``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException

from web import pages
from web.access import ERRORS, Access, Opened
from web.limits import Edges
from web.pages import offline
from web.pages import routes as page_routes
from web.routes import enforcement, issues, meetings, open311, patrols, reference, session, stats, work
from web.security import SecurityHeaders
from workflow.core.errors import Throttled, Unauthenticated, ValidationFailed, WorkflowError

if TYPE_CHECKING:
    from web.wiring import Wired

# Machine clients get JSON refusals; people on the pages get a page.
API_PATHS = ("/api/", "/open311/")
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_api(wired: Wired) -> FastAPI:
    """The API application for the wired app."""

    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        async with access.serving():
            yield

    api = FastAPI(
        lifespan=lifespan,
        title="riverchief",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        # riverchief sets up no OpenTelemetry provider; left on, FastAPI asks OpenTelemetry on every request whether
        # one is set, reading the environment each time: 8 % of the server's Python time under 50 clients.
        telemetry=NO_TELEMETRY,
    )

    @api.exception_handler(WorkflowError)
    async def _refused(request: Request, exc: WorkflowError) -> Response:
        if not request.url.path.startswith(API_PATHS):
            return pages.refusal(request, exc)
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
        if isinstance(exc, ValidationFailed):
            body["fields"] = [{"field": f, "reason": r} for f, r in exc.errors]
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        if isinstance(exc, Throttled):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    @api.exception_handler(HTTPException)
    async def _http_refused(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(API_PATHS):
            return await http_exception_handler(request, exc)
        return pages.error_page(request, exc.status_code, headers=dict(exc.headers or {}))

    @api.exception_handler(Exception)
    async def _failed(request: Request, _exc: Exception) -> Response:
        # Starlette logs the exception after this answer; the person gets a page (or a client JSON), never a trace.
        if request.url.path.startswith(API_PATHS):
            return JSONResponse({"error": "InternalError", "detail": "an internal error; it is logged"}, 500)
        return pages.error_page(request, 500)

    @api.get("/favicon.ico", include_in_schema=False)
    async def _favicon() -> FileResponse:
        return FileResponse(pages.STATIC / "favicon.ico", media_type="image/x-icon")

    access = Access(wired)
    for family in (issues, meetings, patrols, enforcement, stats, session, reference, work, open311):
        # Open311 answers in GeoReport's own error shape and documents it on its router.
        api.include_router(family.router(access), responses=None if family is open311 else ERRORS)
    api.include_router(page_routes.router(access))
    api.include_router(offline.router())
    api.add_exception_handler(page_routes.LoginRequired, page_routes.login_redirect)
    api.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    api.add_middleware(Opened)
    api.add_middleware(Edges, wired=wired, routes=api.router.routes)
    api.add_middleware(SecurityHeaders, docs_paths=(api.docs_url, api.swagger_ui_oauth2_redirect_url))
    return api
