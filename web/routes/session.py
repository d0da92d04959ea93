"""Signing in and out of the browser session, and who the caller is.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from web.access import SESSION_COOKIE, Access, Authenticated
from web.security import client_address
from workflow.accounts.signin import MAX_PASSWORD, SESSION_LIFETIME, Profile, login, logout, profile
from workflow.core.uow import UnitOfWork


class SignIn(BaseModel):
    """A person's code and password."""

    person: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


def _named(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"code": code, "name": name} for code, name in pairs]


def _jurisdiction(found: Profile) -> dict[str, str] | None:
    return None if found.jurisdiction is None else {"code": found.jurisdiction[0], "name": found.jurisdiction[1]}


def router(access: Access) -> APIRouter:
    """The session routes."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["session"])
    Who = Annotated[Authenticated, Depends(access.authenticated)]  # noqa: N806 (a type alias, named as one)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806

    def secure(request: Request) -> bool:
        return request.url.scheme == "https" or wired.settings.cookie_secure

    @api.post("/session")
    def sign_in(uow: Unit, body: SignIn, request: Request, response: Response) -> dict[str, Any]:
        """Sign in with a password: sets the session cookie and returns the CSRF token for unsafe requests."""
        token, csrf_token, actor = login(
            uow,
            body.person,
            body.password,
            client_address(request, wired.settings.trusted_proxies),
            request.headers.get("user-agent"),
            wired.clock.now(),
        )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path="/",
            secure=secure(request),
            httponly=True,
            samesite="lax",
        )
        response.headers["Cache-Control"] = "no-store"
        found = profile(uow, actor)
        return {
            "person": found.code,
            "name": found.name,
            "role": found.role,
            "jurisdiction": _jurisdiction(found),
            "csrf_token": csrf_token,
        }

    @api.delete("/session", status_code=204)
    def sign_out(uow: Unit, who: Who, request: Request, response: Response) -> None:
        """Sign out: the session cookie stops working here and everywhere it was copied."""
        token = request.cookies.get(SESSION_COOKIE)
        if who.session is not None and token:
            logout(uow, token, wired.clock.now())
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure(request), httponly=True, samesite="lax")

    @api.get("/me")
    def me(uow: Unit, who: Who, response: Response) -> dict[str, Any]:
        """Who the caller is: jurisdiction, the compacts they coordinate, audit or belong to."""
        found = profile(uow, who.actor)
        body: dict[str, Any] = {
            "code": found.code,
            "name": found.name,
            "role": found.role,
            "jurisdiction": _jurisdiction(found),
            "compacts": {
                "coordinates": _named(found.coordinates),
                "audits": _named(found.audits),
                "member_of": _named(found.member_of),
            },
        }
        if who.session is not None:
            body["csrf_token"] = who.session.csrf_token
            response.headers["Cache-Control"] = "no-store"
        return body

    return api
