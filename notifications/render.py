"""Renders an outbox notice into a message: zh-CN by default, English where the person asked for it.

Every word a message says is the catalogue's (``states.words.notices``): its kind's subject and first sentence,
and the frame it is laid out in. Three Jinja2 environments lay it out from one template per layout: HTML with
autoescape, plain text, and robot markdown whose every value is made inert (markup characters turned
full-width, lines joined). User text can never become markup, and ``{{ }}`` in it is printed, never evaluated.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from notifications.ics import meeting_invitation
from notifications.message import Attachment, Message
from states import CHART
from states.chart import CHOICE_LABELS
from states.words import LANGUAGES, WORDS, said_value, word
from workflow.core.calendar import WorkCalendar
from workflow.core.clock import SHANGHAI
from workflow.core.deadlines import due_texts
from workflow.core.outbox import Notice

TEMPLATES = Path(__file__).with_name("templates")
# Notices that carry the meeting's calendar invitation.
_INVITATIONS = {"meeting_invited", "meeting_changed", "meeting_cancelled"}
_MARKDOWN_INERT = str.maketrans(
    {"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀", "\n": " ", "\r": " "}
)


class _Written(str):
    """The catalogue's words with values filled in for a robot: each value in it was made plain before it was
    filled in, and the catalogue's own words ("[Handed off]") are left as written, on one line."""

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


class _Sentences:
    """A notice's subject and its first sentence (what it tells or asks of its reader), from the catalogue.

    A kind about one issue is subject-lined by its tag (``notice.<kind>.tag``, else what the kind is called);
    any other kind has a subject of its own (``notice.<kind>.subject``). Its sentence is the first of
    ``notice.<kind>.ask_to_<party>`` (what it asks of a reader standing so to the issue),
    ``notice.<kind>.ask_with_<field>`` (when the step or the topic gave that field) and ``notice.<kind>.ask``;
    a kind with none says what it is called. Blanks are filled from the step's payload and the topic's
    detail, the two sides and the actor by name, a meeting's level, start and agenda as the reader says them;
    a blank nothing fills reads "—".
    """

    def __init__(self, notice: Notice, en: bool, party: str) -> None:
        self.kind = notice.kind
        label = _kind_labels(notice.kind)[en]
        self.label = label[:1].upper() + label[1:]
        detail = notice.detail
        # A step's words are its payload's; a topic's (a meeting, an action item, a revisit) its detail's.
        stored = {**detail, **notice.payload} if notice.trigger else {**notice.payload, **detail}
        given = [name for name, value in stored.items() if value not in (None, "", [])]
        self.ask = _ask_key(notice.kind, party, given) or (
            "notice.default.ask_due" if party == "receiving" and notice.due_at else "notice.default.ask"
        )
        self.own_subject = f"notice.{notice.kind}.subject" in WORDS
        self.issue = {"code": notice.issue_code or detail.get("code"), "title": notice.issue_title}
        self.values: dict[str, Any] = {
            **stored,
            "label": self.label,
            "receiving": notice.receiving_name,
            "reporting": notice.reporting_name,
            "actor": notice.actor_name,
        }
        if stored.get("level"):
            level = stored["level"]  # a meeting's level, as the chart words the choice
            self.values["level"] = CHOICE_LABELS[level][en] if level in CHOICE_LABELS else level
        if isinstance(stored.get("starts_at"), str):
            self.values.update(starts=stored["starts_at"][:16].replace("T", " "), day=stored["starts_at"][:10])
        # A meeting's agenda is its issues, said as a sentence; a step's agenda is what its chief wrote.
        self.agenda = stored["agenda"] if isinstance(stored.get("agenda"), list) else None

    def said(self, say: Callable[..., str]) -> tuple[str, str]:
        """(subject, sentence), each said through ``say`` (the layout's way of filling values in)."""
        values = dict(self.values)
        if self.agenda is not None:
            items = [
                say("notice.meeting_invited.agenda_item", code=a.get("code"), title=a.get("title")) for a in self.agenda
            ]
            values["agenda"] = (
                say("notice.meeting_invited.agenda", items=say("notice.meeting_invited.agenda_sep").join(items))
                if items
                else say("notice.meeting_invited.no_agenda")
            )
        if self.own_subject:
            subject = say(f"notice.{self.kind}.subject", **_filled(f"notice.{self.kind}.subject", values))
        else:
            tag_key = f"notice.{self.kind}.tag"
            tag = say(tag_key) if tag_key in WORDS else self.label
            subject = say("notice.subject.issue", **_filled("notice.subject.issue", {**self.issue, "tag": tag}))
        return subject, say(self.ask, **_filled(self.ask, values))


def _ask_key(kind: str, party: str, given: Iterable[str]) -> str | None:
    for key in (f"notice.{kind}.ask_to_{party}", *(f"notice.{kind}.ask_with_{name}" for name in given)):
        if key in WORDS:
            return key
    return f"notice.{kind}.ask" if f"notice.{kind}.ask" in WORDS else None


@cache
def _blanks(key: str) -> frozenset[str]:
    """The blanks an entry fills, in either language."""
    return frozenset(name for text in WORDS[key] for _, name, _, _ in string.Formatter().parse(text) if name)


def _filled(key: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of an entry's blanks; one nothing fills (an older step's payload, a topic's missing detail)
    reads "—" rather than failing the message."""
    return {name: "—" if values.get(name) in (None, "") else values[name] for name in _blanks(key)}


class Renderer:
    """Turns notices into messages; ``base_url`` makes the links to the issue pages."""

    def __init__(self, calendar: WorkCalendar, base_url: str = "http://localhost:8000") -> None:
        self.calendar = calendar
        self.base_url = base_url
        self._html = _env(autoescape=True)
        self._text = _env(autoescape=False)
        self._markdown = _env(autoescape=False, finalize=_inert)

    def render(self, notice: Notice, now: datetime) -> Message:
        """The message for one notice, in the recipient's language."""
        locale = notice.locale if notice.locale in LANGUAGES else "zh-CN"
        en = locale == "en"
        context = self._context(notice, now, locale)
        sentences = _Sentences(notice, en, context["party"])

        def page(env: Environment, layout: str, say: Callable[..., str]) -> str:
            subject, ask = sentences.said(say)
            return env.get_template(layout).render(t=say, subject=subject, ask=ask, **context).strip()

        def plain(key: str, /, **values: Any) -> str:
            return word(key, en, **values)

        def robot(key: str, /, **values: Any) -> str:
            return _Written(word(key, en, **{name: _inert(value) for name, value in values.items()}))

        subject = " ".join(sentences.said(plain)[0].split())
        return Message(
            # One message per (event or topic, recipient); each channel adds its own name to it.
            key=f"{notice.key}:{notice.recipient_code}",
            kind=notice.kind,
            recipient_name=notice.recipient_name,
            email=notice.email,
            locale=locale,
            subject=subject,
            text=page(self._text, "email.txt.j2", plain),
            html=page(self._html, "email.html.j2", plain),
            markdown=page(self._markdown, "robot.md.j2", robot),
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
        """What the frame shows, in the reader's language."""
        en = locale == "en"
        state = CHART.state(notice.issue_state) if notice.issue_state else None
        # A message is worded when it is sent, which may be long after its event (a channel down for a while): a
        # closed issue's deadline is over, and one a later step replaced is said without a count of days.
        over = state is not None and (state.closed or state.terminal)
        due = None if over else due_texts(self.calendar, notice.due_at, now, counted=notice.deadline_running)[en]
        return {
            "lang": locale,
            "state": (state.label_en if en else state.label_zh) if state else "",
            "due": due,
            "details": _details(notice, locale),
            "n": {
                "issue_code": notice.issue_code,
                "issue_title": notice.issue_title,
                "reporting_name": notice.reporting_name,
                "receiving_name": notice.receiving_name,
                "actor_name": notice.actor_name,
                "when": notice.occurred_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                "link": self._link(notice),
            },
            "party": _party(notice),
            "recipient": notice.recipient_name,
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
