"""``Idempotency-Key``: a create sent again gets the first answer, and creates nothing more.

A phone that made a report or a patrol without signal sends it when the
signal returns, and may send it twice (a timeout after the server committed,
a reload, a second tab). Every create route runs through ``once``: the key,
the request's digest and the answer are stored in the transaction that
creates the thing, so either both are committed or neither is. A request with
a key already used by the same person

- and the same body, at the same path, gets the stored answer again, with
  ``Idempotent-Replayed: true`` (status and body as the first time);
- and a different body or path is refused (422, naming the header): a key
  names one request, never two.

Two requests with one key at once: the second waits for the first's key row
(PostgreSQL's unique index; SQLite's single writer), then replays its answer.
Refusals are not stored: a request refused for bad input may be corrected and
sent again under its key. Keys are kept for ``KEEP_DAYS`` (states.policy) and pruned daily by
workflow.jobs.prunes.

(No postponed annotations here: FastAPI reads signatures at run time.)
"""

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from states.policy import IDEMPOTENCY_KEEP_DAYS
from workflow.core.actors import Actor
from workflow.core.errors import ValidationFailed
from workflow.core.models import IdempotencyKey, table_of
from workflow.core.uow import UnitOfWork

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_MAX = 100
KEEP_DAYS = IDEMPOTENCY_KEEP_DAYS  # days a key is kept; the daily prune removes older ones
_KEY = re.compile(r"[\x21-\x7e]{1,100}")  # visible ASCII: a UUID, a ULID, a client's own scheme

_key = table_of(IdempotencyKey)


def request_key(request: Request) -> str | None:
    """The request's key, or None without one; a malformed key is refused naming the header."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        raise ValidationFailed(HEADER, f"must be 1 to {KEY_MAX} visible ASCII characters, e.g. a UUID")
    return value


def digest(body: BaseModel | Any) -> str:
    """SHA-256 of the request as parsed (a model's fields, or JSON-able data), in a canonical form."""
    if isinstance(body, BaseModel):
        data = body.model_dump(mode="json")
    else:
        try:  # JSON as parsed (a batch of patrols with their tracks): dumped as it is, the encoder's walk skipped
            canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            data = jsonable_encoder(body)
        else:
            return hashlib.sha256(canonical.encode()).hexdigest()
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def once(
    uow: UnitOfWork,
    actor: Actor,
    request: Request,
    body: BaseModel | Any,
    make: Callable[[], Any],
    *,
    status: int = 201,
) -> Any:
    """Run ``make`` (a create, returning the answer's JSON-able body) at most once per key.

    Without a key it simply runs. With one, the answer is a JSONResponse: the new one, or the
    stored one replayed. ``make`` must do its writes in ``uow`` (the services do when given it).
    """
    key = request_key(request)
    if key is None or actor.id is None:
        return make()
    answered, answer, replayed = _once(
        uow, actor.id, key, request.method, request.url.path, digest(body), make, status, HEADER
    )
    return JSONResponse(answer, status_code=answered, headers={REPLAYED: "true"} if replayed else None)


def once_posted(
    uow: UnitOfWork, actor: Actor, key: str, path: str, body: Any, make: Callable[[], Any], *, field: str
) -> tuple[Any, bool]:
    """``once`` for a page's form: its key is a hidden ``field`` drawn with the form, so a form sent twice (a
    double click, a reload, the back button) makes its thing once. Returns the answer and whether it was
    the first one replayed; a key that is not one, or one used for another form, is refused naming ``field``.
    """
    if not _KEY.fullmatch(key):
        raise ValidationFailed(field, f"must be 1 to {KEY_MAX} visible ASCII characters")
    if actor.id is None:
        return jsonable_encoder(make()), False
    _, answer, replayed = _once(uow, actor.id, key, "POST", path, digest(body), make, 200, field)
    return answer, replayed


def _once(
    uow: UnitOfWork,
    person: int,
    key: str,
    method: str,
    path: str,
    sha: str,
    make: Callable[[], Any],
    status: int,
    field: str,
) -> tuple[int, Any, bool]:
    """The status, the answer and whether it was replayed: ``make`` run under a newly claimed key, or what the
    key's first request answered."""
    with uow:
        stored = _stored(uow, person, key)
        if stored is None:
            try:
                with uow.held():
                    # The key is claimed first: a second request with it waits here, not after its own create.
                    claimed = uow.connection.execute(
                        _key.insert().values(
                            person_id=person,
                            key=key,
                            method=method,
                            path=path,
                            request_hash=sha,
                            status=0,
                            response={},
                            created_at=uow.clock.now(),
                        )
                    ).inserted_primary_key
                    answer = jsonable_encoder(make())
                    uow.connection.execute(
                        _key.update().where(_key.c.id == claimed[0]).values(status=status, response=answer)  # type: ignore[index]
                    )
            except sa.exc.IntegrityError as exc:
                if "idempotency" not in str(exc.orig).lower():
                    raise
                stored = _stored(uow, person, key)
                if stored is None:
                    raise
            else:
                return status, answer, False
    if stored.path != path or stored.request_hash != sha:
        raise ValidationFailed(
            field, f"{key} was used for another request (at {stored.path}); a new request needs a new key"
        )
    return stored.status, stored.response, True


def _stored(uow: UnitOfWork, person: int, key: str) -> Any:
    return uow.connection.execute(
        sa.select(_key.c.path, _key.c.request_hash, _key.c.status, _key.c.response).where(
            _key.c.person_id == person, _key.c.key == key
        )
    ).first()
