"""The ASGI entry point for several worker processes: ``uvicorn riverchief.asgi:create --factory``.

Each worker is a fresh process (spawned, not forked), so it wires its own app
from the environment (``RIVERCHIEF_*``), as the CLI does. It lives in the
composition root because it wires: ``web`` never imports ``riverchief``. Nothing
here starts the scheduler or the outbox dispatcher: ``riverchief serve
--workers N`` runs them once, in the parent process that supervises the workers.

(No postponed annotations here: FastAPI modules keep their annotations real.)
"""

import gc

from fastapi import FastAPI


def create() -> FastAPI:
    """The API application, wired from the environment's settings (a uvicorn factory), settled."""
    from riverchief.bootstrap import bootstrap
    from web.api import create_api  # the web stack only in the worker that serves it

    return settled(create_api(bootstrap()))


def settled(app: FastAPI) -> FastAPI:
    """``app``, with every object made so far (the imported modules, the app, its routes and templates: some
    170,000) moved out of the garbage collector's sight, once, before the first request.

    Python's full collection walks every object that survived the younger ones; in a serving process that
    is mostly what starting it made, which lives as long as the process. Walking them took 60-160 ms on this
    machine, a pause for whichever requests were in flight. Frozen, they are still freed when nothing refers
    to them; they are only never searched for cycles, and a full collection walks what requests made.
    """
    gc.collect()
    gc.freeze()
    return app
