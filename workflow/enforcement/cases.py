"""Joint enforcement cases (联合执法), seen only by their parties and the compact's coordinators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.calendar import local_today
from workflow.core.errors import NotFound, NotPermitted, Reason, ValidationFailed
from workflow.core.lookups import insert_with_code, member_paths
from workflow.core.models import (
    Compact,
    EnforcementCase,
    EnforcementIssue,
    EnforcementParty,
    Issue,
    Jurisdiction,
    table_of,
)
from workflow.core.uow import UnitOfWork
from workflow.enforcement.basics import (
    can_see,
    check_day,
    check_kind,
    check_text,
    compact_of,
    issue_id_of,
    jurisdiction_ids,
)

_case = table_of(EnforcementCase)
_party = table_of(EnforcementParty)
_case_issue = table_of(EnforcementIssue)
_compact = table_of(Compact)
_juris = table_of(Jurisdiction)
_issue = table_of(Issue)


# -- joint enforcement cases ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseView:
    """A joint enforcement case as its parties read it."""

    code: str
    compact: str
    kind: str
    title: str
    parties: list[str]  # names
    party_codes: list[str]
    team: list[str]
    opened_on: date
    closed_on: date | None
    outcome: str | None
    issues: list[str]  # codes
    issue_titles: list[str]  # the same issues' titles

    @property
    def closed(self) -> bool:
        """Whether the case was closed with its outcome."""
        return self.closed_on is not None


def open_case(
    uow: UnitOfWork,
    actor: Actor,
    compact: str,
    kind: str,
    title: str,
    parties: Sequence[str],
    opened_on: date,
    *,
    team: Sequence[str] = (),
    issues: Sequence[str] = (),
) -> str:
    """Open a joint enforcement case between two or more member jurisdictions; returns its code.

    The one opening it is a coordinator of the compact or a chief or office
    at or above one of the parties.
    """
    with uow:
        conn = uow.connection
        row = compact_of(conn, actor, compact)
        errors = check_kind(kind)
        errors += check_text(title, "title", 200)
        errors += check_day(opened_on, local_today(uow.clock.now()), "opened_on")
        for i, member in enumerate(team):
            errors += check_text(member, f"team[{i}]", 200)
        members = member_paths(conn, row.id)
        found = jurisdiction_ids(conn, parties, "parties", members, errors)
        if len({p.id for p in found}) < 2 and len(found) == len(parties):
            errors.append(("parties", Reason.in_both("two_parties")))
        issue_ids = [issue_id_of(conn, code, row.id, f"issues[{i}]", errors) for i, code in enumerate(issues)]
        if errors:
            raise ValidationFailed.of(errors)
        if not can_see(actor, row.id, [p.path for p in found]):
            raise NotPermitted(actor.code, "open_case", ["coordinator", "a party's chief or office"], [])
        year = opened_on.year
        case_id, code = insert_with_code(
            conn,
            _case,
            f"{row.code}-ZF-{year}-",
            {
                "compact_id": row.id,
                "kind": kind,
                "title": title.strip(),
                "team": [m.strip() for m in team],
                "opened_on": opened_on,
                "created_by": actor.id,
                "created_at": uow.clock.now(),
            },
        )
        for jurisdiction_id in sorted({p.id for p in found}):
            conn.execute(_party.insert().values(case_id=case_id, jurisdiction_id=jurisdiction_id))
        for issue_id in sorted({i for i in issue_ids if i is not None}):
            conn.execute(_case_issue.insert().values(case_id=case_id, issue_id=issue_id))
        uow.commit()
    return code


_CASES = (
    sa.select(_case, _compact.c.code.label("compact"))
    .join(_compact, _compact.c.id == _case.c.compact_id)
    .order_by(_case.c.opened_on.desc(), _case.c.id.desc())
)


def _visible_case(conn: sa.Connection, actor: Actor, code: str) -> Any:
    """The case row if the actor may see it; NotFound otherwise, as if it did not exist."""
    row = conn.execute(_CASES.where(_case.c.code == code)).first()
    if row is None or not can_see(actor, row.compact_id, party_paths(conn, [row.id]).get(row.id, [])):
        raise NotFound("enforcement case", code)
    return row


def party_paths(conn: sa.Connection, case_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for case_id, path in conn.execute(
        sa.select(_party.c.case_id, _juris.c.path)
        .join(_juris, _juris.c.id == _party.c.jurisdiction_id)
        .where(_party.c.case_id.in_(case_ids))
    ):
        out.setdefault(case_id, []).append(path)
    return out


def close_case(uow: UnitOfWork, actor: Actor, code: str, closed_on: date, outcome: str) -> None:
    """Close a case with its outcome (处理结果)."""
    with uow:
        conn = uow.connection
        row = _visible_case(conn, actor, code)
        errors = check_text(outcome, "outcome", 2000)
        errors += check_day(closed_on, local_today(uow.clock.now()), "closed_on", ("opened_on", row.opened_on))
        if row.closed_on is not None:
            errors.append(("closed_on", Reason.in_both("case_closed_on", day=row.closed_on, code=code)))
        if errors:
            raise ValidationFailed.of(errors)
        conn.execute(_case.update().where(_case.c.id == row.id).values(closed_on=closed_on, outcome=outcome.strip()))
        uow.commit()


def link_issue(uow: UnitOfWork, actor: Actor, code: str, issue: str) -> None:
    """Link an issue of the same compact to an open case (once); a closed case is a finished record."""
    with uow:
        conn = uow.connection
        row = _visible_case(conn, actor, code)
        errors: list[tuple[str, str]] = []
        issue_id = issue_id_of(conn, issue, row.compact_id, "issue", errors)
        if row.closed_on is not None:
            errors.append(("issue", Reason.in_both("case_closed_already", day=row.closed_on, code=code)))
        if errors:
            raise ValidationFailed.of(errors)
        linked = conn.execute(
            sa.select(_case_issue.c.issue_id).where(_case_issue.c.case_id == row.id, _case_issue.c.issue_id == issue_id)
        ).first()
        if linked is None:
            conn.execute(_case_issue.insert().values(case_id=row.id, issue_id=issue_id))
        uow.commit()


def list_cases(
    conn: sa.Connection, actor: Actor, *, compact: str | None = None, issue: str | None = None
) -> list[CaseView]:
    """The cases the actor may see (of a compact, or linked to an issue, when asked), newest first."""
    query = _CASES if compact is None else _CASES.where(_compact.c.code == compact)
    if issue is not None:
        linked = (
            sa.select(_case_issue.c.case_id)
            .join(_issue, _issue.c.id == _case_issue.c.issue_id)
            .where(_issue.c.code == issue)
        )
        query = query.where(_case.c.id.in_(linked))
    rows = conn.execute(query).all()
    if not rows:  # most issues have no case: their page asks nothing more
        return []
    paths = party_paths(conn, [r.id for r in rows])
    rows = [r for r in rows if can_see(actor, r.compact_id, paths.get(r.id, []))]
    return _case_views(conn, rows)


def case_view(conn: sa.Connection, actor: Actor, code: str) -> CaseView:
    """One case, if the actor may see it; NotFound otherwise."""
    return _case_views(conn, [_visible_case(conn, actor, code)])[0]


def _case_views(conn: sa.Connection, rows: Sequence[Any]) -> list[CaseView]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    parties: dict[int, list[tuple[str, str]]] = {}
    for case_id, code, name in conn.execute(
        sa.select(_party.c.case_id, _juris.c.code, _juris.c.name)
        .join(_juris, _juris.c.id == _party.c.jurisdiction_id)
        .where(_party.c.case_id.in_(ids))
        .order_by(_juris.c.code)
    ):
        parties.setdefault(case_id, []).append((code, name))
    issues: dict[int, list[tuple[str, str]]] = {}
    for case_id, code, title in conn.execute(
        sa.select(_case_issue.c.case_id, _issue.c.code, _issue.c.title)
        .join(_issue, _issue.c.id == _case_issue.c.issue_id)
        .where(_case_issue.c.case_id.in_(ids))
        .order_by(_issue.c.code)
    ):
        issues.setdefault(case_id, []).append((code, title))
    return [
        CaseView(
            r.code,
            r.compact,
            r.kind,
            r.title,
            [name for _, name in parties.get(r.id, [])],
            [code for code, _ in parties.get(r.id, [])],
            list(r.team),
            r.opened_on,
            r.closed_on,
            r.outcome,
            [code for code, _ in issues.get(r.id, [])],
            [title for _, title in issues.get(r.id, [])],
        )
        for r in rows
    ]
