"""Who is calling, and what they may read: the dependencies every router shares.

(No postponed annotations here: FastAPI reads the signatures at run time.)
"""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workflow.actors import Actor
from workflow.errors import NotFound, Unauthenticated
from workflow.queries import IssueScope, IssueView, issue_scope, issue_view
from workflow.tokens import actor_for_token

if TYPE_CHECKING:
    from riverchief.bootstrap import App

_bearer = HTTPBearer(auto_error=False)


def iso(value: Any) -> str | None:
    """A date or time as ISO 8601, or None."""
    return value.isoformat() if value is not None else None


def compacts_of(actor: Actor) -> frozenset[int]:
    """The compacts whose issues the actor may read."""
    return actor.member_of | actor.coordinates | actor.audits


class Access:
    """The caller dependency and the read-scope checks, bound to one wired app."""

    def __init__(self, wired: "App") -> None:
        self.wired = wired

        def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
            if credentials is None:
                raise Unauthenticated("send a personal access token: Authorization: Bearer <token>")
            return actor_for_token(wired.uow(), credentials.credentials, wired.clock.now())

        self.caller = caller

    def readable(self, actor: Actor, code: str) -> tuple[IssueView, IssueScope]:
        """The issue's view and scope; NotFound when it is another compact's (it does not exist for the caller)."""
        with self.wired.reader() as uow:
            scope = issue_scope(uow.connection, code)
            if scope.compact_id not in compacts_of(actor):
                raise NotFound("issue", code)
            return issue_view(uow.session, code), scope
