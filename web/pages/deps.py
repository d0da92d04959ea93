"""What every page route shares: the signed-in viewer and the posted form.

(No postponed annotations here: FastAPI reads the signatures at run time.)
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from web.pages.text import Text
from workflow.accounts.signin import Profile, SignedIn
from workflow.core.actors import Actor
from workflow.core.payload import check_text
from workflow.core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person as the pages need them."""

    actor: Actor
    signed_in: SignedIn
    who: Profile
    t: Text
    uow: UnitOfWork  # the request's one unit of work

    @property
    def csrf(self) -> str:
        """The token every form of this session carries."""
        return self.signed_in.csrf_token


async def _posted_form(request: Request) -> AsyncIterator[FormData]:
    """The posted form, its text fields checked at the edge, closed (with its spooled uploads) once answered."""
    form = await request.form()
    try:
        for name, value in form.multi_items():
            # A file's name is the evidence service's to judge; every other field is text a database stores.
            check_text("form", name)
            check_text(name, value if isinstance(value, str) else None)
        yield form
    finally:
        await form.close()


Posted = Annotated[FormData, Depends(_posted_form)]
