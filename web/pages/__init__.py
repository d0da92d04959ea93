"""The server-rendered pages for chiefs, coordinators, auditors and admins, on the API's app."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from states.words import LANGUAGES
from web.pages.text import Text
from workflow.core.errors import WorkflowError

STATIC = Path(__file__).resolve().parent.parent / "static"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANG_COOKIE = "rc_lang"

_templates = Jinja2Templates(directory=TEMPLATES)


def language(request: Request) -> str:
    """The language the person chose (a cookie), Chinese by default."""
    lang = request.cookies.get(LANG_COOKIE, LANGUAGES[0])
    return lang if lang in LANGUAGES else LANGUAGES[0]


def refusal(request: Request, exc: WorkflowError) -> HTMLResponse:
    """A refusal on a page, as a page: the reason (in the reader's words where the catalogue has them), and the
    way home."""
    t = Text(language(request))
    return _templates.TemplateResponse(
        request,
        "message.html",
        {"t": t, "view": None, "path": request.url.path, "message": t.refusal(exc), "flash": None},
        status_code=exc.http_status,
    )


def error_page(request: Request, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A page for an HTTP error (no such page, not allowed, our failure), in the person's language."""
    t = Text(language(request))
    key = f"error_{status}" if status in (403, 404, 405, 500) else None
    return _templates.TemplateResponse(
        request,
        "message.html",
        {
            "t": t,
            "view": None,
            "path": request.url.path,
            "message": t(key) if key else t("error_other", status=status),
            "flash": None,
        },
        status_code=status,
        headers=headers,
    )
