"""查: joint enforcement cases and litigation lead transfers, and the practice's figures over a period.

A case is seen only by its parties (a chief or office at or above one of its
jurisdictions) and the compact's coordinators; a lead only by the side that
transferred it and the coordinators. To anyone else they do not exist
(NotFound), as another compact's issue does not. Their counts, not their
contents, go into the figures and bulletins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa

from workflow.actors import SIDE_ROLES, Actor
from workflow.calendar import local_today
from workflow.clock import SHANGHAI
from workflow.errors import NotFound, NotPermitted, ValidationFailed
from workflow.models import (
    Bulletin,
    Compact,
    CompactMember,
    EnforcementCase,
    EnforcementIssue,
    EnforcementParty,
    Event,
    Issue,
    Jurisdiction,
    LeadTransfer,
    Patrol,
    PatrolIssue,
    Person,
    ReportFile,
    Segment,
    SwapPairing,
    table_of,
)
from workflow.uow import UnitOfWork

_case = table_of(EnforcementCase)
_party = table_of(EnforcementParty)
_case_issue = table_of(EnforcementIssue)
_lead = table_of(LeadTransfer)
_compact = table_of(Compact)
_member = table_of(CompactMember)
_juris = table_of(Jurisdiction)
_issue = table_of(Issue)
_event = table_of(Event)

KINDS = {"sand_mining": "非法采砂", "fishing": "非法捕捞", "discharge": "非法排污", "other": "其他涉河涉水违法"}


def _day(value: date, today: date, field: str, after: tuple[str, date] | None = None) -> list[tuple[str, str]]:
    """A date that is not in the future and, when asked, not before another."""
    errors = []
    if value > today:
        errors.append((field, f"{value} is in the future (today is {today})"))
    if after is not None and value < after[1]:
        errors.append((field, f"{value} is before {after[0]} {after[1]}"))
    return errors


def _text(value: str, field: str, limit: int, *, required: bool = True) -> list[tuple[str, str]]:
    if required and not value.strip():
        return [(field, "is required")]
    if len(value) > limit:
        return [(field, f"is longer than {limit} characters")]
    return []


def _sees(actor: Actor, compact_id: int, paths: Iterable[str]) -> bool:
    """A coordinator of the compact, or a chief or office at or above one of the jurisdictions."""
    if compact_id in actor.coordinates:
        return True
    mine = actor.jurisdiction_path
    return actor.role in SIDE_ROLES and bool(mine) and any(p.startswith(mine or "") for p in paths)


def _compact_row(conn: sa.Connection, code: str) -> Any:
    row = conn.execute(sa.select(_compact.c.id, _compact.c.code).where(_compact.c.code == code)).first()
    if row is None:
        raise ValidationFailed("compact", f"no compact with code {code!r}")
    return row


def _member_paths(conn: sa.Connection, compact_id: int) -> list[str]:
    return list(
        conn.execute(
            sa.select(_juris.c.path)
            .join(_member, _member.c.jurisdiction_id == _juris.c.id)
            .where(_member.c.compact_id == compact_id)
        ).scalars()
    )


def _jurisdictions(
    conn: sa.Connection, codes: Sequence[str], field: str, members: list[str], errors: list[tuple[str, str]]
) -> list[Any]:
    """The jurisdictions by code, each within one of the compact's members."""
    found = []
    for i, code in enumerate(codes):
        where = f"{field}[{i}]" if len(codes) > 1 or field == "parties" else field
        row = conn.execute(
            sa.select(_juris.c.id, _juris.c.code, _juris.c.name, _juris.c.path).where(_juris.c.code == code)
        ).first()
        if row is None:
            errors.append((where, f"no jurisdiction with code {code!r}"))
        elif not any(row.path.startswith(p) for p in members):
            errors.append((where, f"{row.name} ({code}) is not within the compact's members"))
        else:
            found.append(row)
    return found


def _issue_id(conn: sa.Connection, code: str, compact_id: int, field: str, errors: list[tuple[str, str]]) -> int | None:
    """An issue of the compact by code; a refusal naming ``field`` otherwise."""
    row = conn.execute(sa.select(_issue.c.id, _issue.c.compact_id).where(_issue.c.code == code)).first()
    if row is None:
        errors.append((field, f"no issue with code {code!r}"))
    elif row.compact_id != compact_id:
        errors.append((field, f"{code} is another compact's issue"))
    else:
        return int(row.id)
    return None


def _next_code(conn: sa.Connection, table: sa.Table, prefix: str) -> str:
    """The next code after the highest with the prefix, e.g. QJ-ZF-2026-007 after QJ-ZF-2026-006."""
    codes = conn.execute(sa.select(table.c.code).where(table.c.code.startswith(prefix))).scalars()
    last = max((int(c[len(prefix) :]) for c in codes if c[len(prefix) :].isdigit()), default=0)
    return f"{prefix}{last + 1:03d}"


def _insert_with_code(conn: sa.Connection, table: sa.Table, prefix: str, values: dict[str, Any]) -> tuple[int, str]:
    """Insert a row under the next free code; a code taken meanwhile by another writer is tried again."""
    for _ in range(5):
        code = _next_code(conn, table, prefix)
        try:
            with conn.begin_nested():
                result = conn.execute(table.insert().values(code=code, **values))
        except sa.exc.IntegrityError:
            continue
        return int(result.inserted_primary_key[0]), code  # type: ignore[index]
    raise ValidationFailed("code", f"could not find a free code after {prefix}; try again")


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
    issues: list[str]


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
        row = _compact_row(conn, compact)
        errors: list[tuple[str, str]] = []
        if kind not in KINDS:
            errors.append(("kind", f"{kind!r} is not one of {', '.join(KINDS)}"))
        errors += _text(title, "title", 200)
        errors += _day(opened_on, local_today(uow.clock.now()), "opened_on")
        for i, member in enumerate(team):
            errors += _text(member, f"team[{i}]", 200)
        members = _member_paths(conn, row.id)
        found = _jurisdictions(conn, parties, "parties", members, errors)
        if len({p.id for p in found}) < 2 and len(found) == len(parties):
            errors.append(("parties", "a joint case has two or more different jurisdictions"))
        issue_ids = [_issue_id(conn, code, row.id, f"issues[{i}]", errors) for i, code in enumerate(issues)]
        if errors:
            raise ValidationFailed.of(errors)
        if not _sees(actor, row.id, [p.path for p in found]):
            raise NotPermitted(actor.code, "open_case", ["coordinator", "a party's chief or office"], [])
        year = opened_on.year
        case_id, code = _insert_with_code(
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
    if row is None or not _sees(actor, row.compact_id, _party_paths(conn, [row.id]).get(row.id, [])):
        raise NotFound("enforcement case", code)
    return row


def _party_paths(conn: sa.Connection, case_ids: list[int]) -> dict[int, list[str]]:
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
        errors = _text(outcome, "outcome", 2000)
        errors += _day(closed_on, local_today(uow.clock.now()), "closed_on", ("opened_on", row.opened_on))
        if row.closed_on is not None:
            errors.append(("closed_on", f"{code} was closed on {row.closed_on}"))
        if errors:
            raise ValidationFailed.of(errors)
        conn.execute(_case.update().where(_case.c.id == row.id).values(closed_on=closed_on, outcome=outcome.strip()))
        uow.commit()


def link_issue(uow: UnitOfWork, actor: Actor, code: str, issue: str) -> None:
    """Link an issue of the same compact to a case (once)."""
    with uow:
        conn = uow.connection
        row = _visible_case(conn, actor, code)
        errors: list[tuple[str, str]] = []
        issue_id = _issue_id(conn, issue, row.compact_id, "issue", errors)
        if errors:
            raise ValidationFailed.of(errors)
        linked = conn.execute(
            sa.select(_case_issue.c.issue_id).where(_case_issue.c.case_id == row.id, _case_issue.c.issue_id == issue_id)
        ).first()
        if linked is None:
            conn.execute(_case_issue.insert().values(case_id=row.id, issue_id=issue_id))
        uow.commit()


def list_cases(conn: sa.Connection, actor: Actor, *, compact: str | None = None) -> list[CaseView]:
    """The cases the actor may see, newest first."""
    query = _CASES if compact is None else _CASES.where(_compact.c.code == compact)
    rows = conn.execute(query).all()
    paths = _party_paths(conn, [r.id for r in rows])
    rows = [r for r in rows if _sees(actor, r.compact_id, paths.get(r.id, []))]
    return _case_views(conn, rows)


def case_view(conn: sa.Connection, actor: Actor, code: str) -> CaseView:
    """One case, if the actor may see it; NotFound otherwise."""
    return _case_views(conn, [_visible_case(conn, actor, code)])[0]


def _case_views(conn: sa.Connection, rows: Sequence[Any]) -> list[CaseView]:
    ids = [r.id for r in rows]
    parties: dict[int, list[tuple[str, str]]] = {}
    for case_id, code, name in conn.execute(
        sa.select(_party.c.case_id, _juris.c.code, _juris.c.name)
        .join(_juris, _juris.c.id == _party.c.jurisdiction_id)
        .where(_party.c.case_id.in_(ids))
        .order_by(_juris.c.code)
    ):
        parties.setdefault(case_id, []).append((code, name))
    issues: dict[int, list[str]] = {}
    for case_id, code in conn.execute(
        sa.select(_case_issue.c.case_id, _issue.c.code)
        .join(_issue, _issue.c.id == _case_issue.c.issue_id)
        .where(_case_issue.c.case_id.in_(ids))
        .order_by(_issue.c.code)
    ):
        issues.setdefault(case_id, []).append(code)
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
            issues.get(r.id, []),
        )
        for r in rows
    ]


# -- litigation lead transfers --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadView:
    """A public-interest litigation lead transferred to a procuratorate."""

    code: str
    compact: str
    jurisdiction: str
    jurisdiction_code: str
    title: str
    procuratorate: str
    transferred_on: date
    receipt_no: str | None
    received_on: date | None
    outcome: str | None
    issue: str | None
    case: str | None


def transfer_lead(
    uow: UnitOfWork,
    actor: Actor,
    compact: str,
    jurisdiction: str,
    title: str,
    procuratorate: str,
    transferred_on: date,
    *,
    issue: str | None = None,
    case: str | None = None,
) -> str:
    """Record a litigation lead transferred by a side to a procuratorate (移送公益诉讼线索); returns its code."""
    with uow:
        conn = uow.connection
        row = _compact_row(conn, compact)
        errors: list[tuple[str, str]] = []
        errors += _text(title, "title", 200)
        errors += _text(procuratorate, "procuratorate", 200)
        errors += _day(transferred_on, local_today(uow.clock.now()), "transferred_on")
        sides = _jurisdictions(conn, [jurisdiction], "jurisdiction", _member_paths(conn, row.id), errors)
        issue_id = _issue_id(conn, issue, row.id, "issue", errors) if issue else None
        case_id = None
        if case is not None:
            found = conn.execute(sa.select(_case.c.id, _case.c.compact_id).where(_case.c.code == case)).first()
            paths = _party_paths(conn, [found.id]).get(found.id, []) if found is not None else []
            if found is None or not _sees(actor, found.compact_id, paths):
                errors.append(("case", f"no enforcement case {case!r} that {actor.code} may see"))
            elif found.compact_id != row.id:
                errors.append(("case", f"{case} is another compact's case"))
            else:
                case_id = found.id
        if errors:
            raise ValidationFailed.of(errors)
        side = sides[0]
        if not _sees(actor, row.id, [side.path]):
            raise NotPermitted(actor.code, "transfer_lead", ["coordinator", "the side's chief or office"], [])
        _, code = _insert_with_code(
            conn,
            _lead,
            f"{row.code}-XS-{transferred_on.year}-",
            {
                "compact_id": row.id,
                "jurisdiction_id": side.id,
                "title": title.strip(),
                "procuratorate": procuratorate.strip(),
                "transferred_on": transferred_on,
                "issue_id": issue_id,
                "case_id": case_id,
                "created_by": actor.id,
                "created_at": uow.clock.now(),
            },
        )
        uow.commit()
    return code


def _visible_lead(conn: sa.Connection, actor: Actor, code: str) -> Any:
    row = conn.execute(
        sa.select(_lead, _juris.c.path).join(_juris, _juris.c.id == _lead.c.jurisdiction_id).where(_lead.c.code == code)
    ).first()
    if row is None or not _sees(actor, row.compact_id, [row.path]):
        raise NotFound("litigation lead", code)
    return row


def record_receipt(
    uow: UnitOfWork, actor: Actor, code: str, receipt_no: str, received_on: date, outcome: str | None = None
) -> None:
    """Record the procuratorate's receipt (回执) of a lead, and its outcome when known."""
    with uow:
        conn = uow.connection
        row = _visible_lead(conn, actor, code)
        errors = _text(receipt_no, "receipt_no", 60)
        errors += _day(received_on, local_today(uow.clock.now()), "received_on", ("transferred_on", row.transferred_on))
        if outcome is not None:
            errors += _text(outcome, "outcome", 2000)
        if errors:
            raise ValidationFailed.of(errors)
        values: dict[str, Any] = {"receipt_no": receipt_no.strip(), "received_on": received_on}
        if outcome is not None:
            values["outcome"] = outcome.strip()
        conn.execute(_lead.update().where(_lead.c.id == row.id).values(**values))
        uow.commit()


def list_leads(conn: sa.Connection, actor: Actor, *, compact: str | None = None) -> list[LeadView]:
    """The leads the actor may see, newest first."""
    query = (
        sa.select(
            _lead,
            _compact.c.code.label("compact"),
            _juris.c.code.label("j_code"),
            _juris.c.name.label("j_name"),
            _juris.c.path,
            _issue.c.code.label("issue_code"),
            _case.c.code.label("case_code"),
        )
        .join(_compact, _compact.c.id == _lead.c.compact_id)
        .join(_juris, _juris.c.id == _lead.c.jurisdiction_id)
        .outerjoin(_issue, _issue.c.id == _lead.c.issue_id)
        .outerjoin(_case, _case.c.id == _lead.c.case_id)
        .order_by(_lead.c.transferred_on.desc(), _lead.c.id.desc())
    )
    if compact is not None:
        query = query.where(_compact.c.code == compact)
    return [
        LeadView(
            r.code,
            r.compact,
            r.j_name,
            r.j_code,
            r.title,
            r.procuratorate,
            r.transferred_on,
            r.receipt_no,
            r.received_on,
            r.outcome,
            r.issue_code,
            r.case_code,
        )
        for r in conn.execute(query)
        if _sees(actor, r.compact_id, [r.path])
    ]


# -- the practice's figures over a period ---------------------------------------------------------

# The figures of the practice notes, in their order, with their labels.
FIGURES: tuple[tuple[str, str], ...] = (
    ("boundary_chiefs", "边界河长"),
    ("swap_patrols", "交叉互换巡河"),
    ("patrols", "巡河"),
    ("covert_inspections", "暗访巡查"),
    ("patrol_issues", "巡河上报问题"),
    ("handed_over", "移交问题"),
    ("accepted", "受理"),
    ("rectified", "整改到位"),
    ("joint_cases", "联合查处"),
    ("leads_transferred", "移送公益诉讼线索"),
    ("joint_meetings", "联席会议"),
    ("progress_bulletins", "通报整改情况"),
    ("revisits", "回头看"),
    ("revisit_reports", "回访报告"),
    ("closed_without_rebound", "一次性销号未反弹"),
)


def _under(column: Any, path: str | None) -> Any:
    """``column`` (a jurisdiction path) at or under ``path``; always true without one."""
    return sa.true() if path is None else column.startswith(path)


def period_figures(
    conn: sa.Connection, compact: str, start: date, end: date, side: str | None = None
) -> dict[str, int]:
    """The practice's figures for a compact over the days [start, end), or for one side of it.

    Counted as the practice notes count them: boundary chiefs in a pairing
    live in the period; swap patrols, patrols and covert inspections made in
    it; the issues handed over in it (by ``side``, when given) and, of those,
    how many were accepted (受理: not disputed), rectified, and closed at the
    first joint check without a rebound (一次性销号未反弹) by ``end``; joint
    cases opened and leads transferred; joint meetings convened and revisits
    started on the compact's issues (with ``side`` as either party); the
    monthly bulletins for months in the period and the revisit reports filed.
    """
    row = _compact_row(conn, compact)
    path = None
    if side is not None:
        path = conn.execute(sa.select(_juris.c.path).where(_juris.c.code == side)).scalar()
        if path is None:
            raise ValidationFailed("side", f"no jurisdiction with code {side!r}")
    since, until = (datetime.combine(d, time(0), tzinfo=SHANGHAI) for d in (start, end))
    if until <= since:
        raise ValidationFailed("end", f"{end} is not after start {start}")
    members = _member_paths(conn, row.id)
    in_compact = sa.or_(*(_juris.c.path.startswith(p) for p in members)) if members else sa.false()
    figures = {
        "boundary_chiefs": _boundary_chiefs(conn, row.id, start, end, path),
        **_patrol_figures(conn, in_compact, since, until, path),
        **_cohort(conn, row.id, since, until, path),
        "joint_cases": _count(
            conn,
            sa.select(sa.func.count(sa.distinct(_case.c.id)))
            .join(_party, _party.c.case_id == _case.c.id)
            .join(_juris, _juris.c.id == _party.c.jurisdiction_id)
            .where(
                _case.c.compact_id == row.id,
                _case.c.opened_on >= start,
                _case.c.opened_on < end,
                _under(_juris.c.path, path),
            ),
        ),
        "leads_transferred": _count(
            conn,
            sa.select(sa.func.count())
            .select_from(_lead.join(_juris, _juris.c.id == _lead.c.jurisdiction_id))
            .where(
                _lead.c.compact_id == row.id,
                _lead.c.transferred_on >= start,
                _lead.c.transferred_on < end,
                _under(_juris.c.path, path),
            ),
        ),
        "joint_meetings": _events(conn, row.id, "convene", since, until, path),
        "progress_bulletins": _bulletins(conn, row.id, start, end),
        "revisits": _events(conn, row.id, "start_revisit", since, until, path),
        "revisit_reports": _count(
            conn,
            sa.select(sa.func.count()).where(
                table_of(ReportFile).c.compact_id == row.id,
                table_of(ReportFile).c.kind == "revisit",
                table_of(ReportFile).c.created_at >= since,
                table_of(ReportFile).c.created_at < until,
            ),
        ),
    }
    return {key: figures[key] for key, _ in FIGURES}


def _count(conn: sa.Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(query).scalar_one())


def _boundary_chiefs(conn: sa.Connection, compact_id: int, start: date, end: date, path: str | None) -> int:
    pairing, person = table_of(SwapPairing), table_of(Person)
    chiefs: set[int] = set()
    for column in (pairing.c.chief_a_id, pairing.c.chief_b_id):
        chiefs |= set(
            conn.execute(
                sa.select(column)
                .join(person, person.c.id == column)
                .join(_juris, _juris.c.id == person.c.jurisdiction_id)
                .where(
                    pairing.c.compact_id == compact_id,
                    pairing.c.starts_on < end,
                    pairing.c.ends_on >= start,
                    _under(_juris.c.path, path),
                )
            ).scalars()
        )
    return len(chiefs)


def _patrol_figures(
    conn: sa.Connection, in_compact: Any, since: datetime, until: datetime, path: str | None
) -> dict[str, int]:
    """Patrols on the compact's segments by patrollers on the side, by kind; and the issues reported on them."""
    patrol, person, segment, link = table_of(Patrol), table_of(Person), table_of(Segment), table_of(PatrolIssue)
    patroller = _juris.alias("patroller")
    where = (
        patrol.c.started_at >= since,
        patrol.c.started_at < until,
        in_compact,
        _under(patroller.c.path, path),
    )
    source = (
        patrol.join(segment, segment.c.id == patrol.c.segment_id)
        .join(_juris, _juris.c.id == segment.c.jurisdiction_id)
        .join(person, person.c.id == patrol.c.patroller_id)
        .join(patroller, patroller.c.id == person.c.jurisdiction_id)
    )
    by_kind = sa.select(patrol.c.kind, sa.func.count()).select_from(source).where(*where).group_by(patrol.c.kind)
    kinds: dict[str, int] = dict(conn.execute(by_kind).all())
    issues = _count(
        conn, sa.select(sa.func.count()).select_from(source.join(link, link.c.patrol_id == patrol.c.id)).where(*where)
    )
    return {
        "swap_patrols": kinds.get("swap", 0),
        "patrols": kinds.get("routine", 0) + kinds.get("swap", 0),
        "covert_inspections": kinds.get("covert", 0),
        "patrol_issues": issues,
    }


def _cohort(conn: sa.Connection, compact_id: int, since: datetime, until: datetime, path: str | None) -> dict[str, int]:
    """The issues first handed over in the period (by the side), and how far they got by its end."""
    reporting = _juris.alias("reporting")
    handed = (
        sa.select(_event.c.issue_id)
        .join(_issue, _issue.c.id == _event.c.issue_id)
        .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
        .where(
            _issue.c.compact_id == compact_id,
            _event.c.trigger == "hand_off",
            _event.c.occurred_at >= since,
            _event.c.occurred_at < until,
            _under(reporting.c.path, path),
        )
    )
    ids = set(conn.execute(handed).scalars())

    def reached(trigger: str) -> int:
        return _count(
            conn,
            sa.select(sa.func.count(sa.distinct(_event.c.issue_id))).where(
                _event.c.issue_id.in_(ids), _event.c.trigger == trigger, _event.c.occurred_at < until
            ),
        )

    # 一次性销号: closed at the first joint check, and no rebound reopened it.
    first_time = _count(
        conn,
        sa.select(sa.func.count()).where(
            _issue.c.id.in_(ids),
            _issue.c.closed_at.is_not(None),
            _issue.c.closed_at < until,
            _issue.c.check_round == 1,
            _issue.c.rebound_count == 0,
        ),
    )
    return {
        "handed_over": len(ids),
        "accepted": reached("accept"),
        "rectified": reached("report_done"),
        "closed_without_rebound": first_time,
    }


def _events(
    conn: sa.Connection, compact_id: int, trigger: str, since: datetime, until: datetime, path: str | None
) -> int:
    reporting, receiving = _juris.alias("reporting"), _juris.alias("receiving")
    either = sa.true() if path is None else sa.or_(reporting.c.path.startswith(path), receiving.c.path.startswith(path))
    return _count(
        conn,
        sa.select(sa.func.count())
        .select_from(
            _event.join(_issue, _issue.c.id == _event.c.issue_id)
            .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(receiving, receiving.c.id == _issue.c.receiving_jurisdiction_id)
        )
        .where(
            _issue.c.compact_id == compact_id,
            _event.c.trigger == trigger,
            _event.c.occurred_at >= since,
            _event.c.occurred_at < until,
            either,
        ),
    )


def _bulletins(conn: sa.Connection, compact_id: int, start: date, end: date) -> int:
    """Monthly bulletins (通报整改情况) for months that begin in the period."""
    bulletin = table_of(Bulletin)
    periods = conn.execute(
        sa.select(bulletin.c.period).where(bulletin.c.compact_id == compact_id, bulletin.c.kind == "monthly")
    ).scalars()
    return sum(1 for p in periods if start <= date(int(p[:4]), int(p[5:7]), 1) < end)


def bulletin_counts(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Joint cases opened and leads transferred in [start, end): the enforcement line of a bulletin."""
    first, last = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date()
    cases = conn.execute(
        sa.select(sa.func.count()).where(
            _case.c.compact_id == compact_id, _case.c.opened_on >= first, _case.c.opened_on < last
        )
    ).scalar_one()
    leads = conn.execute(
        sa.select(sa.func.count()).where(
            _lead.c.compact_id == compact_id, _lead.c.transferred_on >= first, _lead.c.transferred_on < last
        )
    ).scalar_one()
    return {"joint_cases": int(cases), "leads_transferred": int(leads)}
