"""The guards and effects the chart names, by name.

A guard raises ``ValidationFailed`` naming what is missing and changes
nothing. An effect only records column changes and rows to insert on the
step; the service writes them, so a refused step leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from states import Party, Transition
from states.chart import CHART, PARTY_LABELS, PARTY_LABELS_EN
from states.policy import CATEGORIES, CHECKLIST_EN, DEADLINES, REBOUND_RECTIFY_WORKING_DAYS, revisit_offsets
from workflow.core.actors import Actor, side_of
from workflow.core.calendar import WorkCalendar, local_today
from workflow.core.deadlines import next_check
from workflow.core.errors import Reason, ValidationFailed
from workflow.core.lookups import in_compact
from workflow.core.models import (
    Attachment,
    ChecklistCheck,
    Event,
    Issue,
    Jurisdiction,
    ReportFile,
    Revisit,
    SignOff,
    table_of,
)

_sign_off = table_of(SignOff)
_check = table_of(ChecklistCheck)
_revisit = table_of(Revisit)
_report_file = table_of(ReportFile)
_attachment = table_of(Attachment)
_issue = table_of(Issue)
_event = table_of(Event)
_juris = table_of(Jurisdiction)

# Every statement a guard or an effect sends is built once, here, with bound parameters: a step pays for
# running it, not for building and cache-keying it again.
_RECEIVING = sa.select(
    _juris.c.id,
    _juris.c.path,
    _juris.c.name,
    in_compact(_juris.c.path, sa.bindparam("b_compact")).label("in_compact"),
).where(_juris.c.code == sa.bindparam("b_code"))
_REPORT_FILED = sa.select(_report_file.c.id).where(_report_file.c.sha256 == sa.bindparam("b_sha256")).limit(1)
_EVIDENCE_STORED = sa.select(_attachment.c.id).where(
    _attachment.c.issue_id == sa.bindparam("b_issue"),
    _attachment.c.sha256 == sa.bindparam("b_sha256"),
    _attachment.c.event_seq == sa.bindparam("b_seq"),
)
_ORIGINAL = sa.select(
    _issue.c.id,
    _issue.c.code,
    _issue.c.compact_id,
    _issue.c.state,
    _issue.c.closed_at,
    _issue.c.duplicate_of_id,
).where(_issue.c.code == sa.bindparam("b_code"))
_DUPLICATE = sa.select(_issue.c.duplicate_of_id).where(
    _issue.c.code == sa.bindparam("b_code"), _issue.c.compact_id == sa.bindparam("b_compact")
)
_LINKED = sa.select(_event.c.payload).where(
    _event.c.issue_id == sa.bindparam("b_issue"), _event.c.trigger == "duplicate_linked"
)
_INSERT_SIGN_OFF = _sign_off.insert()
_INSERT_CHECKS = _check.insert()
_INSERT_REVISITS = _revisit.insert()
_CANCEL_REVISITS = (
    _revisit.update()
    .where(_revisit.c.issue_id == sa.bindparam("b_issue"), _revisit.c.status == "planned")
    .values(status="cancelled")
)

# The current check round as the issue's load reads it, in the same statement (see ROUND_READERS): the
# sides that signed it and the checklist items confirmed in it, each joined by commas.
ROUND_COLUMNS = (
    sa.select(sa.func.aggregate_strings(_sign_off.c.side, ","))
    .where(_sign_off.c.issue_id == _issue.c.id, _sign_off.c.round == _issue.c.check_round)
    .scalar_subquery()
    .label("signed"),
    sa.select(sa.func.aggregate_strings(_check.c.item, ","))
    .where(_check.c.issue_id == _issue.c.id, _check.c.round == _issue.c.check_round)
    .scalar_subquery()
    .label("confirmed"),
)
_open_revisit = (
    sa.select(_revisit.c.id)
    .where(
        _revisit.c.issue_id == sa.bindparam("b_issue"),
        _revisit.c.cycle == sa.bindparam("b_cycle"),
        _revisit.c.status == "planned",
    )
    .order_by(_revisit.c.seq)
    .limit(1)
    .scalar_subquery()
)
_FINISH_REVISIT = (
    _revisit.update()
    .where(_revisit.c.id == _open_revisit)
    .values(
        status="done", outcome=sa.bindparam("b_outcome"), done_at=sa.bindparam("b_now", type_=_revisit.c.done_at.type)
    )
)


@dataclass(slots=True)
class Step:
    """Everything one firing needs, and what it will write."""

    conn: sa.Connection
    issue: Any  # the issue row, with reporting_path and receiving_path
    transition: Transition
    actor: Actor
    held: frozenset[Party]
    payload: dict[str, Any]
    now: datetime
    calendar: WorkCalendar
    seq: int
    changes: dict[str, Any] = field(default_factory=dict)
    # Rows to write after the issue's own: (statement, parameters), a list of them for several rows at once.
    writes: list[tuple[sa.Executable, dict[str, Any] | list[dict[str, Any]]]] = field(default_factory=list)
    found: dict[str, Any] = field(default_factory=dict)
    # Steps the service fires on other issues in the same transaction, after this one: (issue id, trigger,
    # payload). The merge of a duplicate records itself in the original's ledger this way.
    follow: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def signed(self) -> set[str]:
        """The sides that signed the current check round (read with the issue)."""
        return _split(self.issue.signed)

    @property
    def confirmed(self) -> set[str]:
        """The checklist items confirmed in the current check round (read with the issue)."""
        return _split(self.issue.confirmed)


def _split(joined: str | None) -> set[str]:
    return set(joined.split(",")) if joined else set()


# -- guards --------------------------------------------------------------------


def receiving_is_other_side(step: Step) -> None:
    """A hand-off goes to a jurisdiction that is not the reporter's own side."""
    code = step.payload["receiving"]
    target = step.conn.execute(_RECEIVING, {"b_code": code, "b_compact": step.issue.compact_id}).first()
    if target is None:
        raise ValidationFailed("receiving", Reason("no_jurisdiction", code=code))
    reporting = step.issue.reporting_path
    if target.path.startswith(reporting) or reporting.startswith(target.path):
        raise ValidationFailed("receiving", Reason("own_side", name=target.name, code=code))
    step.found["receiving"] = target


def receiving_in_compact(step: Step) -> None:
    """A hand-off stays within the compact's member jurisdictions (asked when the target was found)."""
    target = step.found["receiving"]
    if not target.in_compact:
        raise ValidationFailed("receiving", Reason("not_compact_member", name=target.name))


def deadline_in_future(step: Step) -> None:
    """A rectification deadline is today or later (Asia/Shanghai)."""
    deadline = step.payload.get("deadline")
    today = local_today(step.now)
    if deadline is not None and date.fromisoformat(deadline) < today:
        raise ValidationFailed("deadline", Reason("deadline_past", deadline=deadline, today=today.isoformat()))


def side_not_signed(step: Step) -> None:
    """Each side signs a verification round once, unless both have and the round still misses checklist
    items (a round signed before every sign-off had to complete it): then a side may amend its sign-off
    with them, instead of failing a good rectification to get out."""
    side = side_of(step.held)
    signed = step.signed
    if side in signed and not (signed >= _BOTH and _unconfirmed(step)):
        raise ValidationFailed("sign_off", Reason("already_signed", side=_party(side)))


_BOTH = frozenset({Party.REPORTING.value, Party.RECEIVING.value})


def _unconfirmed(step: Step, adding: Collection[str] = ()) -> list[str]:
    """The codes of the category's checklist items not confirmed this round (counting ``adding``)."""
    done = step.confirmed | set(adding)
    return [code for code, _ in CATEGORIES[step.issue.category].checklist if code not in done]


def _items(step: Step, codes: list[str]) -> tuple[str, str]:
    """Checklist items named in a reason: their labels in each language (the English with their codes)."""
    labels = dict(CATEGORIES[step.issue.category].checklist)
    return "、".join(labels[c] for c in codes), ", ".join(f"{c} ({CHECKLIST_EN[c]})" for c in codes)


def _party(side: str) -> tuple[str, str]:
    return PARTY_LABELS[Party(side)], PARTY_LABELS_EN[Party(side)]


def sign_off_completes_checklist(step: Step) -> None:
    """The sign-off that makes both sides' must leave every checklist item confirmed, so the round can close:
    the first side may confirm part of the list, the second confirms the rest or is refused, naming them."""
    if not (step.signed | {side_of(step.held)}) >= _BOTH:
        return
    missing = _unconfirmed(step, step.payload.get("checklist", []))
    if missing:
        raise ValidationFailed("checklist", Reason.in_both("checklist_when_both", missing=_items(step, missing)))


def checklist_items_known(step: Step) -> None:
    """Only the category's own checklist items can be confirmed."""
    known = {code for code, _ in CATEGORIES[step.issue.category].checklist}
    unknown = [i for i in step.payload.get("checklist", []) if i not in known]
    if unknown:
        raise ValidationFailed(
            "checklist", Reason("unknown_items", unknown=", ".join(unknown), known=", ".join(sorted(known)))
        )


def both_sides_signed(step: Step) -> None:
    """Closure needs the sign-off of both sides in the current round."""
    missing = [_party(p) for p in (Party.REPORTING, Party.RECEIVING) if p.value not in step.signed]
    if missing:
        named = ("、".join(zh for zh, _ in missing), ", ".join(en for _, en in missing))
        raise ValidationFailed("sign_off", Reason("both_sides_sign", missing=named))


def checklist_complete(step: Step) -> None:
    """Closure needs every checklist item of the issue's category confirmed this round."""
    missing = _unconfirmed(step)
    if missing:
        raise ValidationFailed("checklist", Reason("items_unconfirmed", missing=_items(step, missing)))


def last_revisit_clean(step: Step) -> None:
    """Archiving needs a revisit that found no rebound."""
    if step.issue.last_revisit_clean is not True:
        raise ValidationFailed("revisit", Reason("archive_needs_clean_revisit"))


def report_on_file(step: Step) -> None:
    """A report enters the ledger only once it is filed (``riverchief report``), never by hand."""
    found = step.conn.execute(_REPORT_FILED, {"b_sha256": step.payload["sha256"]}).first()
    if found is None:
        raise ValidationFailed(
            "sha256",
            Reason("report_not_filed"),
        )


def evidence_on_file(step: Step) -> None:
    """Evidence enters the ledger together with its stored file (``riverchief issue attach``), never by hand."""
    stored = {"b_issue": step.issue.id, "b_sha256": step.payload["sha256"], "b_seq": step.seq}
    found = step.conn.execute(_EVIDENCE_STORED, stored).first()
    if found is None:
        raise ValidationFailed(
            "sha256",
            Reason("evidence_not_stored"),
        )


def original_open(step: Step) -> None:
    """A duplicate names another open issue of its compact (not closed, not itself a duplicate) as its original."""
    code = step.payload["of"]
    original = step.conn.execute(_ORIGINAL, {"b_code": code}).first()
    # Another compact's issue is not there for this one: the same answer as for a code nobody issued.
    if original is None or original.compact_id != step.issue.compact_id:
        raise ValidationFailed("of", Reason("no_issue_in_compact", code=code))
    if original.id == step.issue.id:
        raise ValidationFailed("of", Reason("is_itself", code=code))
    if original.duplicate_of_id is not None:
        raise ValidationFailed("of", Reason("is_duplicate", code=code))
    if CHART.state(original.state).terminal or original.closed_at is not None:
        state = CHART.state(original.state)
        raise ValidationFailed("of", Reason("not_open", code=code, state=(state.label_zh, state.label_en)))
    step.found["original"] = original


def duplicate_points_here(step: Step) -> None:
    """The original records a duplicate once, and only one already merged into it (by ``mark_duplicate``)."""
    code = step.payload["duplicate"]
    duplicate = step.conn.execute(_DUPLICATE, {"b_code": code, "b_compact": step.issue.compact_id}).first()
    if duplicate is None or duplicate.duplicate_of_id != step.issue.id:
        raise ValidationFailed(
            "duplicate",
            Reason("not_duplicate_here", code=code),
        )
    linked = step.conn.execute(_LINKED, {"b_issue": step.issue.id}).scalars()
    if any(payload.get("duplicate") == code for payload in linked):
        raise ValidationFailed("duplicate", Reason("duplicate_already_linked", code=code))


GUARDS: dict[str, Callable[[Step], None]] = {
    f.__name__: f
    for f in (
        receiving_is_other_side,
        receiving_in_compact,
        deadline_in_future,
        side_not_signed,
        checklist_items_known,
        sign_off_completes_checklist,
        both_sides_signed,
        checklist_complete,
        last_revisit_clean,
        report_on_file,
        evidence_on_file,
        original_open,
        duplicate_points_here,
    )
}


# -- effects -------------------------------------------------------------------


def set_receiving(step: Step) -> None:
    """Record the side the problem is handed to."""
    step.changes["receiving_jurisdiction_id"] = step.found["receiving"].id


def set_plan(step: Step) -> None:
    """Record the rectification plan and its deadline."""
    step.changes["rectify_plan"] = step.payload["plan"]
    step.changes["rectify_deadline"] = date.fromisoformat(step.payload["deadline"])


def set_deadline(step: Step) -> None:
    """A failed check reopens rectification with a new deadline."""
    step.changes["rectify_deadline"] = date.fromisoformat(step.payload["deadline"])


def open_check_round(step: Step) -> None:
    """Each request for verification starts a new round of sign-offs."""
    step.changes["check_round"] = step.issue.check_round + 1


def sign_off(step: Step) -> None:
    """Record the actor's side's sign-off and the checklist items it confirms."""
    side = side_of(step.held)
    mine = {
        "issue_id": step.issue.id,
        "round": step.issue.check_round,
        "person_id": step.actor.id,
        "event_seq": step.seq,
    }
    if side not in step.signed:  # an amendment (see side_not_signed) adds items to the side's sign-off
        step.writes.append((_INSERT_SIGN_OFF, {**mine, "side": side, "signed_at": step.now}))
    done = step.confirmed
    items = [item for item in step.payload.get("checklist", []) if item not in done]
    if items:
        step.writes.append((_INSERT_CHECKS, [{**mine, "item": item, "checked_at": step.now} for item in items]))


def mark_closed(step: Step) -> None:
    """Stamp the closure time and plan this closure's revisits (回头看)."""
    step.changes["closed_at"] = step.now
    step.changes["last_revisit_clean"] = None
    # Only a rebound reopens a closed issue, so closures = rebounds + 1.
    cycle = step.issue.rebound_count + 1
    closed_on = local_today(step.now)
    planned = {"issue_id": step.issue.id, "cycle": cycle, "status": "planned"}
    revisits = [
        {**planned, "seq": seq, "offset_days": days, "due_on": closed_on + timedelta(days=days)}
        for seq, days in enumerate(revisit_offsets(step.issue.category), start=1)
    ]
    if revisits:
        step.writes.append((_INSERT_REVISITS, revisits))


def _finish_revisit(step: Step, outcome: str) -> None:
    """Mark the earliest open revisit of the current closure done (an unplanned visit counts too)."""
    step.writes.append(
        (
            _FINISH_REVISIT,
            {
                "b_issue": step.issue.id,
                "b_cycle": step.issue.rebound_count + 1,
                "b_outcome": outcome,
                "b_now": step.now,
            },
        )
    )


def record_clean_revisit(step: Step) -> None:
    """Count a revisit that found no rebound."""
    step.changes["revisit_count"] = step.issue.revisit_count + 1
    step.changes["last_revisit_clean"] = True
    _finish_revisit(step, "clean")


def record_rebound(step: Step) -> None:
    """Count the rebound, close this closure's revisits and reopen rectification with a deadline."""
    _finish_revisit(step, "rebound")
    cancel_revisits(step)
    step.changes["revisit_count"] = step.issue.revisit_count + 1
    step.changes["rebound_count"] = step.issue.rebound_count + 1
    step.changes["last_revisit_clean"] = False
    step.changes["closed_at"] = None
    deadline = step.payload.get("deadline")
    step.changes["rectify_deadline"] = (
        date.fromisoformat(deadline)
        if deadline
        else step.calendar.add_working_days(local_today(step.now), REBOUND_RECTIFY_WORKING_DAYS)
    )


def cancel_revisits(step: Step) -> None:
    """An archived issue is not revisited again: what is still planned is cancelled."""
    step.writes.append((_CANCEL_REVISITS, {"b_issue": step.issue.id}))


def recompute_due(step: Step) -> None:
    """Count the waiting state's working days again from when the wait began, as the calendar now has them."""
    policy = DEADLINES[step.issue.state]
    since = step.issue.waiting_since or step.now
    due = step.calendar.due_after(since, policy.working_days)
    step.changes["due_at"] = due
    step.changes["next_check_at"] = next_check(step.calendar, since, due, step.now)


def link_duplicate(step: Step) -> None:
    """Close the duplicate into its original, and have the original's ledger record it in the same transaction."""
    original = step.found["original"]
    step.changes["duplicate_of_id"] = original.id
    step.changes["closed_at"] = step.now
    step.follow.append(
        (original.id, "duplicate_linked", {"duplicate": step.issue.code, "reason": step.payload["reason"]})
    )


EFFECTS: dict[str, Callable[[Step], None]] = {
    f.__name__: f
    for f in (
        set_receiving,
        set_plan,
        set_deadline,
        open_check_round,
        sign_off,
        mark_closed,
        record_clean_revisit,
        record_rebound,
        cancel_revisits,
        recompute_due,
        link_duplicate,
    )
}

# The guards and effects that read the current check round (Step.signed, Step.confirmed): a step whose
# transition names one loads its issue with ROUND_COLUMNS.
ROUND_READERS = frozenset(
    {"side_not_signed", "sign_off_completes_checklist", "both_sides_signed", "checklist_complete", "sign_off"}
)
