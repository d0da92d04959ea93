"""The floor of the API bench: riverchief's HTTP stack serving the same bodies without doing any of its work.

Started by ``bench/api.py`` as ``python -m bench.api_floor --port P --body FILE [--workers N]``, the way
``riverchief serve`` starts the API: uvicorn with the same logging (INFO, one access-log line per request),
a FastAPI app whose routes are plain ``def`` functions behind a plain ``def`` bearer-token dependency, as
riverchief's were: each request takes three trips through the thread pool (the dependency, the route, and
FastAPI's check of the route's answer against its return type), where riverchief's GET of an issue and POST
of a step now take one (``web.access.Access.answer``).

* ``GET /api/v1/issues/{code}`` returns a copy of a body riverchief gave for one issue, serialised by
  FastAPI as riverchief's are (FILE is read at the first GET: the bench writes it once riverchief is up,
  so both servers can start at the same time);
* ``POST /api/v1/issues/{code}/transitions`` parses a body of riverchief's shape (trigger, payload,
  expected version) and answers with riverchief's result shape, the version one past the expected one.

No database, no token lookup, no statechart: what is left is HTTP, routing, validation and JSON.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import argparse
import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

BODY_ENV = "RIVERCHIEF_BENCH_FLOOR_BODY"  # the GET body's file, for every worker process
DUE_AT = "2026-03-16T23:59:59.999999+08:00"  # a deadline as riverchief writes one, for the same body size
_bearer = HTTPBearer(auto_error=False)


class TransitionIn(BaseModel):
    """The shape of riverchief's transition body."""

    trigger: str
    payload: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = None


def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The bearer token as sent: present, but not looked up."""
    if credentials is None:
        raise HTTPException(401, "send a bearer token", headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


def create_app(body: dict[str, Any] | None = None) -> FastAPI:
    """The floor app answering GETs with ``body`` (default: the JSON file named by the environment)."""

    @cache
    def issue_body() -> dict[str, Any]:
        if body is not None:
            return body
        loaded: dict[str, Any] = json.loads(Path(os.environ[BODY_ENV]).read_text(encoding="utf-8"))
        return loaded

    api = FastAPI(title="riverchief bench floor", openapi_url=None, docs_url=None, redoc_url=None)
    Caller = Annotated[str, Depends(caller)]  # noqa: N806 (a type alias, named as one)

    @api.get("/api/v1/issues/{code}")
    def issue(code: str, _token: Caller) -> dict[str, Any]:
        """The precomputed issue, under the code asked for."""
        return {**issue_body(), "code": code}

    @api.post("/api/v1/issues/{code}/transitions")
    def transition(code: str, body: TransitionIn, _token: Caller) -> dict[str, Any]:
        """A result of riverchief's shape: the state kept, the version one past the expected one."""
        version = (body.expected_version or 0) + 1
        return {"code": code, "state": "ban.rectifying", "version": version, "due_at": DUE_AT, "notified": 1}

    return api


def main(argv: list[str] | None = None) -> None:
    """Serve the floor the way ``riverchief serve`` serves the API."""
    parser = argparse.ArgumentParser(prog="python -m bench.api_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--body", type=Path, required=True, help="a JSON object: the GET body")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ[BODY_ENV] = str(args.body.resolve())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.workers == 1:
        uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    else:
        uvicorn.run(
            "bench.api_floor:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            log_level="info",
            workers=args.workers,
        )


if __name__ == "__main__":
    main()
