"""The service worker at ``/sw.js``: the app shell kept on the phone, so pages open and drafts are made without signal.

The worker's script is ``web/static/sw.js`` with two things baked in when the app starts: the shell's
version (a hash of every static file, so a changed file makes a new worker and a new cache) and the static
files to keep. It is served from the root so that its scope is the whole site, never cached by the browser
without asking (``no-cache``: the browser compares the bytes to find a new version), and with a policy of
its own: a worker runs under the policy of its script's response, and it must be allowed to fetch the
site's own pages and files (the API's ``default-src 'none'`` would forbid that).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from web.pages import STATIC

WORKER = "sw.js"
# Pages kept for opening without signal, besides whatever page was last seen online.
SHELL_PAGES = ("/report",)
WORKER_POLICY = "default-src 'self'; frame-ancestors 'none'"


# What a page loads: scripts, styles, images (a vendored library's licence and notes are not kept).
SHELL_SUFFIXES = frozenset({".css", ".js", ".png", ".svg", ".ico"})


def _static_files(static: Path) -> list[Path]:
    """Every file under the static folder, vendored libraries' folders included, in a stable order."""
    return sorted(p for p in static.rglob("*") if p.is_file() and not p.name.startswith("."))


def shell_files(static: Path = STATIC) -> list[Path]:
    """The static files a page may need (the worker itself is not one), in a stable order."""
    return [p for p in _static_files(static) if p.suffix in SHELL_SUFFIXES and p != static / WORKER]


def shell_version(static: Path = STATIC) -> str:
    """A short hash of every static file's path and bytes, the worker included."""
    digest = hashlib.sha256()
    for path in _static_files(static):
        digest.update(path.relative_to(static).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def worker_script(static: Path = STATIC) -> bytes:
    """``sw.js`` with the shell's version and URLs written in."""
    shell = [f"/static/{p.relative_to(static).as_posix()}" for p in shell_files(static)] + list(SHELL_PAGES)
    source = (static / WORKER).read_text(encoding="utf-8")
    return (
        source.replace('"__SHELL_VERSION__"', json.dumps(shell_version(static)))
        .replace('["__SHELL_URLS__"]', json.dumps(shell))
        .encode()
    )


def router() -> APIRouter:
    """The route that serves the worker; its script is read once, at start-up."""
    script = worker_script()
    offline = APIRouter(include_in_schema=False)

    @offline.get("/sw.js")
    def service_worker() -> Response:
        return Response(
            script,
            media_type="application/javascript",
            headers={"Cache-Control": "no-cache", "Content-Security-Policy": WORKER_POLICY},
        )

    return offline
