"""The ASGI entry point for several worker processes: ``uvicorn riverchief.asgi:create --factory``.

Each worker is a fresh process (spawned, not forked), so it wires its own app
from the environment (``RIVERCHIEF_*``), as the CLI does. It lives in the
composition root because it wires: ``web`` never imports ``riverchief``. Nothing
here starts the scheduler or the outbox dispatcher: ``riverchief serve
--workers N`` runs them once, in the parent process that supervises the workers.

(No postponed annotations here: FastAPI modules keep their annotations real.)
"""

from fastapi import FastAPI


def create() -> FastAPI:
    """The API application, wired from the environment's settings (a uvicorn factory)."""
    from riverchief.bootstrap import bootstrap
    from web.api import create_api  # the web stack only in the worker that serves it

    return create_api(bootstrap())
