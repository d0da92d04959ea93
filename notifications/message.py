"""A message rendered for one person, ready for any channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an email: a meeting's invitation (.ics)."""

    filename: str
    content_type: str  # e.g. text/calendar; method=REQUEST
    content: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel sends: the same notice as plain text, HTML and robot markdown."""

    key: str  # the idempotency key's first part: event or topic
    kind: str
    recipient_name: str
    email: str | None
    locale: str
    subject: str
    text: str
    html: str
    markdown: str
    link: str | None
    issue_code: str | None
    occurred_at: datetime
    contacts: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The webhook body."""
        return {
            "key": self.key,
            "kind": self.kind,
            "issue": self.issue_code,
            "recipient": self.recipient_name,
            "subject": self.subject,
            "text": self.text,
            "link": self.link,
            "occurred_at": self.occurred_at.isoformat(),
            "locale": self.locale,
        }
