"""iCalendar (.ics) invitations for joint meetings, so a meeting lands in the invitee's own calendar.

One UID per meeting and a SEQUENCE that grows with each change: a mail client updates the event it has
instead of adding another, and a cancellation (METHOD:CANCEL) removes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

# How long a joint meeting is shown as lasting; the record keeps only its start.
MEETING_LENGTH = timedelta(hours=2)
PRODUCT = "-//riverchief//joint meetings//ZH"


def meeting_invitation(
    detail: dict[str, Any], recipient: str, email: str | None, domain: str, stamp: datetime
) -> bytes:
    """The .ics of a meeting as ``detail`` describes it (the notice's detail), addressed to one invitee."""
    cancelled = detail.get("status") == "cancelled"
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    # In UTC ("...Z"): every calendar reads it, and none has to know Asia/Shanghai's rules.
    starts = datetime.fromisoformat(str(detail["starts_at"])).astimezone(UTC)
    event.add("uid", f"{detail['meeting']}@{domain}")
    event.add("sequence", int(detail.get("sequence") or 0))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", starts)
    event.add("dtend", starts + MEETING_LENGTH)
    event.add("summary", f"{detail['title']}（{detail['meeting']}）")
    event.add("location", str(detail.get("place") or ""))
    agenda = "\n".join(f"{a['code']} {a['title']}" for a in detail.get("agenda") or [])
    event.add("description", f"议题：\n{agenda}" if agenda else "会议不涉及具体问题，听取整改进展。")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if email:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["cn"] = vText(recipient)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
