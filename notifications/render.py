"""Renders an outbox notice into a message: zh-CN by default, English where the person asked for it.

Three Jinja2 environments read the same template folder: HTML with
autoescape, plain text, and robot markdown whose every value is made inert
(markup characters turned full-width, lines joined). User text can never
become markup, and ``{{ }}`` in it is printed, never evaluated.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from notifications.ics import meeting_invitation
from notifications.message import Attachment, Message
from states import CHART
from states.chart import CHOICE_LABELS, MEETING_LEVELS
from states.words import LANGUAGES, WORDS, said_value, word
from workflow.core.calendar import WorkCalendar
from workflow.core.clock import SHANGHAI
from workflow.core.deadlines import due_texts
from workflow.core.outbox import Notice

TEMPLATES = Path(__file__).with_name("templates")
# Notices that carry the meeting's calendar invitation.
_INVITATIONS = {"meeting_invited", "meeting_changed", "meeting_cancelled"}
# A meeting's level in each language, from the chart's words for the choice.
_LEVELS = {locale: {level: CHOICE_LABELS[level][i] for level in MEETING_LEVELS} for i, locale in enumerate(LANGUAGES)}
_MARKDOWN_INERT = str.maketrans(
    {"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀", "\n": " ", "\r": " "}
)


class _Written(str):
    """What a kind's macro wrote (its subject, its ask): each value in it was made plain where the macro printed
    it, and its own words ("[hand off]") are left as written, on one line."""

    __slots__ = ()


def _inert(value: Any) -> Any:
    """Markdown robots render markup: every value printed into them is made plain."""
    if isinstance(value, _Written):
        return " ".join(value.splitlines())
    return value.translate(_MARKDOWN_INERT) if isinstance(value, str) else value


def _env(**options: Any) -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        **options,
    )


class _Payload(dict[str, Any]):
    """Payload fields read as attributes; a field the trigger did not carry reads as None."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


class Renderer:
    """Turns notices into messages; ``base_url`` makes the links to the issue pages."""

    def __init__(self, calendar: WorkCalendar, base_url: str = "http://localhost:8000") -> None:
        self.calendar = calendar
        self.base_url = base_url
        self._html = _env(autoescape=True)
        self._text = _env(autoescape=False)
        self._markdown = _env(autoescape=False, finalize=_inert)
        self._markdown.filters["written"] = _Written

    def _kind(self, env: Environment, locale: str, kind: str) -> Template:
        return env.select_template([f"{locale}/kinds/{kind}.j2", f"{locale}/kinds/_default.j2"])

    def render(self, notice: Notice, now: datetime) -> Message:
        """The message for one notice, in the recipient's language."""
        locale = notice.locale if notice.locale in LANGUAGES else "zh-CN"
        context = self._context(notice, now, locale)

        def page(env: Environment, layout: str) -> str:
            kind = self._kind(env, locale, notice.kind).module
            return env.get_template(layout).render(k=kind, **context).strip()

        subject_module = self._kind(self._text, locale, notice.kind).module
        subject = " ".join(str(subject_module.subject(context["n"], context["p"], context["d"])).split())  # type: ignore[attr-defined]
        return Message(
            # One message per (event or topic, recipient); each channel adds its own name to it.
            key=f"{notice.key}:{notice.recipient_code}",
            kind=notice.kind,
            recipient_name=notice.recipient_name,
            email=notice.email,
            locale=locale,
            subject=subject,
            text=page(self._text, "email.txt.j2"),
            html=page(self._html, "email.html.j2"),
            markdown=page(self._markdown, "robot.md.j2"),
            link=context["n"]["link"],
            issue_code=notice.issue_code,
            occurred_at=notice.occurred_at,
            contacts=notice.contacts,
            attachments=self._attachments(notice),
        )

    def _attachments(self, notice: Notice) -> tuple[Attachment, ...]:
        if notice.kind not in _INVITATIONS or not notice.detail.get("meeting"):
            return ()
        domain = urlsplit(self.base_url).hostname or "riverchief.local"
        method = "CANCEL" if notice.kind == "meeting_cancelled" else "REQUEST"
        content = meeting_invitation(notice.detail, notice.recipient_name, notice.email, domain, notice.occurred_at)
        return (Attachment("invite.ics", f"text/calendar; method={method}", content),)

    def _link(self, notice: Notice) -> str | None:
        base = self.base_url.rstrip("/")
        if notice.issue_code:
            return f"{base}/issues/{notice.issue_code}"
        if notice.detail.get("meeting"):
            return f"{base}/meetings/{notice.detail['meeting']}"
        if notice.detail.get("action"):
            return f"{base}/actions"
        return None

    def _context(self, notice: Notice, now: datetime, locale: str) -> dict[str, Any]:
        label_zh, label_en = _kind_labels(notice.kind)
        state = CHART.state(notice.issue_state) if notice.issue_state else None
        due_zh, due_en = due_texts(self.calendar, notice.due_at, now)
        view = _Payload(
            kind=notice.kind,
            kind_label=label_zh,
            kind_label_en=label_en,
            issue_code=notice.issue_code,
            issue_title=notice.issue_title,
            reporting_name=notice.reporting_name,
            receiving_name=notice.receiving_name,
            actor_name=notice.actor_name,
            state_label=state.label_zh if state else "",
            state_label_en=state.label_en if state else "",
            due_at=notice.due_at,
            due_text=due_zh,
            due_text_en=due_en,
            when=notice.occurred_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            link=self._link(notice),
        )
        en = locale == "en"
        return {
            # The frame's words, in the reader's language; the kind's own sentences are in its template.
            "t": lambda key, /, **values: word(key, en, **values),
            "lang": locale,
            "state": view["state_label_en" if en else "state_label"],
            "due": view["due_text_en" if en else "due_text"],
            "details": _details(notice, locale),
            "n": view,
            "p": _Payload(notice.payload),
            "d": _Payload(notice.detail),
            "party": _party(notice),
            "recipient": notice.recipient_name,
            "levels": _LEVELS[locale],
        }


def _kind_labels(kind: str) -> tuple[str, str]:
    """What a notice's kind is called in each language: a step by the chart's label, any other kind by the
    catalogue's name for it, and one it lacks as a plain "notice" (never by its code)."""
    if kind in CHART.trigger_names():
        return CHART.trigger_label(kind), CHART.trigger_label(kind, en=True)
    return WORDS.get(f"notice.{kind}") or WORDS["notice.other"]


def _details(notice: Notice, locale: str) -> list[tuple[str, str]]:
    """The step's payload as (label, text) pairs in the reader's language, in the order the chart declares its
    fields: each value as the pages say it (checklist items and choices by their labels, never their codes)."""
    if notice.trigger is None or notice.trigger in ("report", "flag"):
        return []
    en = locale == "en"
    out = []
    for name, label in CHART.field_labels(notice.trigger, en=en).items():
        value = notice.payload.get(name)
        if value in (None, "", []):
            continue
        text = said_value(notice.trigger, name, value, en=en)
        if name == "receiving" and notice.receiving_name:
            text = word("notice.place_with_code", en, name=notice.receiving_name, code=text)
        out.append((label, text))
    return out


def _party(notice: Notice) -> str:
    """How the recipient stands to the issue, for what the message asks of them."""
    if notice.recipient_role in ("coordinator", "auditor"):
        return notice.recipient_role
    if notice.recipient_jurisdiction_id is not None and notice.recipient_jurisdiction_id == notice.receiving_id:
        return "receiving"
    if notice.recipient_jurisdiction_id is not None and notice.recipient_jurisdiction_id == notice.reporting_id:
        return "reporting"
    return "other"
