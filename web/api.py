"""The versioned HTTP API, assembled from one router per resource family.

``create_api(wired)`` receives everything the composition root wired; no
route touches rows: each change goes through ``workflow.services``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from web.access import Access
from web.routes import issues, stats
from workflow.errors import Unauthenticated, ValidationFailed, WorkflowError

if TYPE_CHECKING:
    from riverchief.bootstrap import App


def create_api(wired: App) -> FastAPI:
    """The API application for the wired app."""
    api = FastAPI(
        title="riverchief", version="1", openapi_url="/api/v1/openapi.json", docs_url="/api/docs", redoc_url=None
    )

    @api.exception_handler(WorkflowError)
    async def _refused(_request: Request, exc: WorkflowError) -> JSONResponse:
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
        if isinstance(exc, ValidationFailed):
            body["fields"] = [{"field": f, "reason": r} for f, r in exc.errors]
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    access = Access(wired)
    for family in (issues, stats):
        api.include_router(family.router(access))
    return api
