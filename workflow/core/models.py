"""The tables: reference data, issues, the ledger, the outbox, checks, meetings and seals.

One coherent thing, the schema, kept in one module so that Alembic and every room read the same tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from states.chart import TERMINAL_STATES


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back as an aware UTC datetime on every dialect."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every stored time must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The live issues (in no terminal state), as the partial index ix_issue_live_created and the queries it serves
# say it, word for word: the planner uses a partial index only for a query whose conditions imply its own.
LIVE_STATES_SQL = "state NOT IN (" + ", ".join(f"'{name}'" for name in sorted(TERMINAL_STATES)) + ")"


def live(state: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """``state`` is in no terminal state, said as ``LIVE_STATES_SQL`` says it: the names inline, in its order
    (bound parameters would hide them from a prepared statement's generic plan, and from SQLite's planner)."""
    return state.not_in(sa.bindparam(None, sorted(TERMINAL_STATES), expanding=True, literal_execute=True))


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class Jurisdiction(SQLModel, table=True):
    """An administrative area (行政区): province, city, district, township or village."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=20)  # administrative division code
    name: str = Field(max_length=100)
    level: str = Field(max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="jurisdiction.id", index=True)
    # "/500000/500152/": lets "is an ancestor of" be a prefix test.
    path: str = Field(max_length=400, index=True)


class Compact(SQLModel, table=True):
    """A standing cross-border arrangement (协作机制) between member jurisdictions."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=10)  # prefix of issue codes, e.g. QJ
    name: str = Field(max_length=200)


class CompactMember(SQLModel, table=True):
    """A jurisdiction taking part in a compact."""

    __tablename__ = "compact_member"
    compact_id: int = Field(foreign_key="compact.id", primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", primary_key=True)


class CompactStaff(SQLModel, table=True):
    """A coordinator or auditor serving a compact."""

    __tablename__ = "compact_staff"
    compact_id: int = Field(foreign_key="compact.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)
    role: str = Field(max_length=20)  # coordinator | auditor


class River(SQLModel, table=True):
    """A river (河流)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=100)


class Drawn(SQLModel):
    """What a map draws of a row's geometry, written with it (``workflow.core.drawing.drawn_columns``): the
    places of its name on it as stored, and at each zoom from 8 to 14 its course simplified to half a pixel
    with the places of its name on that, so that a map reads them instead of working them out per request.
    NULL for a row written without them: the map then works them out from the geometry."""

    label_places: list[list[Any]] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    drawn_z8: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    drawn_z9: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    drawn_z10: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    drawn_z11: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    drawn_z12: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    drawn_z13: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    drawn_z14: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))


class Segment(Drawn, table=True):
    """A river segment (河段) with one responsible jurisdiction and chief.

    The bounding box of its line is written with the line (``line_box``), so that a map reads only the
    segments in its frame; the index on it serves ``max_lon >= west AND min_lon <= east AND ...``.
    """

    __table_args__ = (sa.Index("ix_segment_box", "min_lon", "max_lon", "min_lat", "max_lat"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=60)
    name: str = Field(max_length=200)
    river_id: int = Field(foreign_key="river.id", index=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    chief_id: int | None = Field(default=None, foreign_key="person.id")
    # Boundary segments name their counterpart on the other side and how they face it.
    counterpart_id: int | None = Field(default=None, foreign_key="segment.id")
    relation: str | None = Field(default=None, max_length=20)  # upstream|downstream|left_bank|right_bank
    length_km: float | None = None
    # The segment's course as [[lon, lat], ...] (WGS 84), drawn on report maps.
    geometry: list[list[float]] | None = Field(default=None, sa_type=sa.JSON)
    min_lon: float | None = None
    min_lat: float | None = None
    max_lon: float | None = None
    max_lat: float | None = None


def line_box(points: list[list[float]] | None) -> dict[str, float | None]:
    """A segment's bounding box columns for its line ([[lon, lat], ...]); all None without a line."""
    if not points:
        return dict.fromkeys(("min_lon", "min_lat", "max_lon", "max_lat"))
    lons = [float(p[0]) for p in points]
    lats = [float(p[1]) for p in points]
    return {"min_lon": min(lons), "min_lat": min(lats), "max_lon": max(lons), "max_lat": max(lats)}


class Person(SQLModel, table=True):
    """Someone who acts in the workflow: chief, office staff, coordinator, auditor, admin."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=60)  # a handle used to log in and on the CLI
    name: str = Field(max_length=100)
    role: str = Field(max_length=20, index=True)  # chief|office|coordinator|auditor|admin
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id", index=True)
    organisation: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    channels: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Group robots and hooks that reach this person: {"wecom": url, "dingtalk": {"url", "secret"}, "webhook": url}.
    contacts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    locale: str = Field(default="zh-CN", max_length=10)
    active: bool = True


class IssueCounter(SQLModel, table=True):
    """The last issue number given out per compact and year."""

    __tablename__ = "issue_counter"
    compact_id: int = Field(foreign_key="compact.id", primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


class Issue(SQLModel, table=True):
    """A cross-border problem; its state lives here and its history in the ledger."""

    # ix_issue_created: the lists page newest first by (created_at, id) with keyset cursors;
    # ix_issue_live_created the same for a compact's live issues only (a twentieth of them at province
    # scale: the queue, and a list filtered by a live state or by whom it waits on); ix_issue_reporting_created
    # and ix_issue_receiving_created, a party's issues on one side (migration 0023). Only the indexes a
    # query uses (migration 0014): every step's UPDATE keeps each of them up. On PostgreSQL the pages
    # keep a tenth free, so a step that changes no indexed column is a heap-only (HOT) update.
    # ix_issue_compact_sides (migration 0024): a compact's issues with their sides and whether they were
    # merged, so the figures of a period join their steps to the issues from the index, not the rows.
    __table_args__ = (
        sa.Index("ix_issue_open_due", "due_at", "state"),
        sa.Index("ix_issue_created", "created_at", "id"),
        sa.Index(
            "ix_issue_compact_sides",
            "compact_id",
            "id",
            postgresql_include=["reporting_jurisdiction_id", "receiving_jurisdiction_id", "duplicate_of_id"],
        ),
        sa.Index(
            "ix_issue_live_created",
            "compact_id",
            "created_at",
            "id",
            postgresql_where=sa.text(LIVE_STATES_SQL),
            sqlite_where=sa.text(LIVE_STATES_SQL),
        ),
        sa.Index("ix_issue_reporting_created", "reporting_jurisdiction_id", "created_at", "id"),
        sa.Index("ix_issue_receiving_created", "receiving_jurisdiction_id", "created_at", "id"),
        {"postgresql_with": {"fillfactor": 90}},
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=30)  # e.g. QJ-2026-0018
    compact_id: int = Field(foreign_key="compact.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    category: str = Field(max_length=40)
    difficulty: str = Field(default="normal", max_length=10)
    place: str = Field(default="", max_length=300)
    lon: float | None = None
    lat: float | None = None
    segment_id: int | None = Field(default=None, foreign_key="segment.id")
    reporter_id: int | None = Field(default=None, foreign_key="person.id")
    reporting_jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    receiving_jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id")
    state: str = Field(max_length=40, index=True)
    version: int = 0
    due_at: datetime | None = _ts(nullable=True)
    rectify_plan: str | None = Field(default=None, max_length=5000)
    rectify_deadline: date | None = None
    check_round: int = 0
    rebound_count: int = 0
    revisit_count: int = 0
    last_revisit_clean: bool | None = None
    ledger_head: str = Field(default="", max_length=64)
    # When the current wait began, and when the deadline sweep must next look
    # at this issue (a reminder or the deadline itself); NULL when nothing is owed.
    waiting_since: datetime | None = _ts(nullable=True)
    next_check_at: datetime | None = _ts(nullable=True, index=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)
    # When the reporter saw it, when that differs from the report's arrival
    # (a draft made offline on a phone and sent when the signal returned).
    observed_at: datetime | None = _ts(nullable=True)
    # The issue this one repeats, once it is closed as a duplicate (重复上报).
    duplicate_of_id: int | None = Field(default=None, foreign_key="issue.id", index=True)


class Event(SQLModel, table=True):
    """One entry of the ledger (台账): append-only, hash-chained per issue."""

    # The ledger's read paths, each read from its index without the rows:
    # ix_event_waits: the state changes alone, in each issue's order, with what a wait needs (its state,
    # deadline and start), so the overdue waits of a period are read from the index without the rows
    # (workflow/reading/overdue.py, migration 0016). The figures of a period (bulletins, dashboard,
    # practice; migration 0017): ix_event_issue_occurred, the steps of given issues up to a day;
    # ix_event_compact_trigger_occurred (migration 0021), a compact's steps of some kinds in a period, which
    # grows with the compact, not the province; ix_event_trigger_occurred, the steps of some kinds in a
    # period whatever their compact (a chief's scorecard: the year's hand-offs to a side, which may be in
    # several compacts; without it, a year of the whole ledger read through ix_event_occurred_at).
    __table_args__ = (
        sa.UniqueConstraint("issue_id", "seq"),
        sa.Index(
            "ix_event_waits",
            "issue_id",
            "seq",
            "to_state",
            "due_at",
            "occurred_at",
            postgresql_where=sa.text("from_state <> to_state"),
            sqlite_where=sa.text("from_state <> to_state"),
        ),
        sa.Index("ix_event_issue_occurred", "issue_id", "occurred_at", postgresql_include=["trigger"]),
        sa.Index("ix_event_trigger_occurred", "trigger", "occurred_at", postgresql_include=["issue_id"]),
        sa.Index(
            "ix_event_compact_trigger_occurred",
            "compact_id",
            "trigger",
            "occurred_at",
            postgresql_include=["issue_id"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id")
    # The compact of the event's issue (which never changes), written with the event so that a compact's
    # steps of a period are found without the province's. Outside the hash: chains made before it verify as
    # they did; ``ledger verify`` names an event whose compact is not its issue's. No foreign key: the issue's
    # own already holds, and a key here would have every step check and share-lock its compact's row, one
    # row that every concurrent step of the compact would lock. NULL only on a database at migration 0021
    # while it backfills (or in a row written by a version before it): see that migration.
    compact_id: int | None = None
    seq: int  # 1, 2, 3 ... per issue; equals the issue's version after the event
    trigger: str = Field(max_length=40)
    from_state: str = Field(max_length=40)
    to_state: str = Field(max_length=40)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor_code: str = Field(max_length=60)
    parties: str = Field(max_length=100)  # how the actor stood to the issue, comma-separated
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    due_at: datetime | None = _ts(nullable=True)
    occurred_at: datetime = _ts(index=True)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Outbox(SQLModel, table=True):
    """A notification owed to one person, written in the same transaction as what caused it.

    Either for a ledger event (``event_id``) or for something the scheduler
    noticed (``topic``: a reminder, a due revisit, a bulletin), never both;
    each is unique per recipient, so nothing is queued twice.
    """

    __table_args__ = (
        sa.UniqueConstraint("event_id", "recipient_id"),
        sa.UniqueConstraint("topic", "recipient_id", name="uq_outbox_topic_recipient"),
        sa.Index("ix_outbox_pending", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int | None = Field(default=None, foreign_key="event.id")
    topic: str | None = Field(default=None, max_length=120)
    issue_id: int | None = Field(default=None, foreign_key="issue.id")
    recipient_id: int = Field(foreign_key="person.id")
    kind: str = Field(max_length=40)  # the trigger, or the scheduler's notice kind
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    status: str = Field(default="pending", max_length=10)  # pending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, max_length=2000)
    # A dispatcher's lease on the row while it delivers; an expired lease is free again.
    claimed_by: str | None = Field(default=None, max_length=60)
    claimed_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Delivery(SQLModel, table=True):
    """One outbox row delivered through one channel: the record that keeps it from being delivered twice."""

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    channel: str = Field(max_length=20)
    idempotency_key: str = Field(unique=True, max_length=200)  # event-or-topic : recipient : channel
    delivered_at: datetime = _ts()
    reference: str | None = Field(default=None, max_length=300)  # Message-ID, HTTP status, inbox id


class InboxMessage(SQLModel, table=True):
    """A message in a person's in-app inbox."""

    __tablename__ = "inbox_message"
    __table_args__ = (sa.Index("ix_inbox_person_unread", "person_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    outbox_id: int = Field(foreign_key="outbox.id", unique=True)
    issue_id: int | None = Field(default=None, foreign_key="issue.id")
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=300)
    body: str = Field(max_length=10000)
    link: str | None = Field(default=None, max_length=300)
    created_at: datetime = _ts()
    read_at: datetime | None = _ts(nullable=True)


class ChecklistCheck(SQLModel, table=True):
    """A closure checklist item confirmed during one verification round."""

    __tablename__ = "checklist_check"
    __table_args__ = (sa.UniqueConstraint("issue_id", "round", "item"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id")
    round: int
    item: str = Field(max_length=40)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    event_seq: int
    checked_at: datetime = _ts()


class SignOff(SQLModel, table=True):
    """One side's signature on a joint check (复核验收) in one verification round."""

    __tablename__ = "sign_off"
    __table_args__ = (sa.UniqueConstraint("issue_id", "round", "side"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id")
    round: int
    side: str = Field(max_length=20)  # reporting | receiving
    person_id: int | None = Field(default=None, foreign_key="person.id")
    event_seq: int
    signed_at: datetime = _ts()


class Revisit(SQLModel, table=True):
    """A planned third-party revisit (回头看) of a closed issue."""

    __table_args__ = (
        sa.UniqueConstraint("issue_id", "cycle", "seq"),
        sa.Index("ix_revisit_open_due", "status", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id")
    cycle: int  # which closure of the issue it follows: 1, then 2 after a rebound...
    seq: int  # 1, 2 ... within the cycle
    offset_days: int
    due_on: date
    status: str = Field(default="planned", max_length=12)  # planned | done | cancelled
    outcome: str | None = Field(default=None, max_length=12)  # clean | rebound
    notified_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)
    done_at: datetime | None = _ts(nullable=True)


class Attachment(SQLModel, table=True):
    """Evidence (a photo or document) for an issue step, stored once by its SHA-256."""

    __table_args__ = (sa.UniqueConstraint("issue_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    event_seq: int  # the add_evidence event that recorded it
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=60)
    size: int
    caption: str | None = Field(default=None, max_length=300)
    # From the photo's EXIF, when it has them: when and where it was taken.
    taken_at: datetime | None = _ts(nullable=True)
    lon: float | None = None
    lat: float | None = None
    uploaded_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    """A personal access token for API clients: only its SHA-256 is kept, and it can be revoked."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class Credential(SQLModel, table=True):
    """A person's password for the pages, as an argon2 hash."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    password_hash: str = Field(max_length=200)
    changed_at: datetime = _ts()


class WebSession(SQLModel, table=True):
    """A signed-in browser: only the cookie's SHA-256 is kept; the CSRF token goes with it."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    expires_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
    client: str | None = Field(default=None, max_length=300)  # address and user agent, for "where am I signed in"


class LoginAttempt(SQLModel, table=True):
    """A login attempt, kept to throttle guessing by person and by address."""

    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)  # "person:<code>" or "addr:<ip>"
    at: datetime = _ts()
    succeeded: bool = False


class ReportFile(SQLModel, table=True):
    """A generated PDF (or export), stored in the data folder and fixed by its SHA-256.

    Report records chain per compact like ledger events, so a removed or
    altered archive entry shows in ``ledger verify``.
    """

    __tablename__ = "report_file"
    __table_args__ = (sa.Index("ix_report_file_lookup", "compact_id", "kind", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    compact_id: int = Field(foreign_key="compact.id")
    issue_id: int | None = Field(default=None, foreign_key="issue.id", index=True)
    kind: str = Field(max_length=20)  # followup | revisit | bulletin | interview | minutes | ledger
    period: str | None = Field(default=None, max_length=20)
    title: str = Field(max_length=300)
    path: str = Field(max_length=500)  # relative to the data folder
    sha256: str = Field(max_length=64)
    size: int
    created_at: datetime = _ts()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class PatrolQuota(SQLModel, table=True):
    """How often a chief of one level must patrol (巡河计划): ``count`` patrols a ``per``.

    A row with neither scope holds every chief of its level; one with a
    jurisdiction holds the chiefs of that level within it (the deepest such
    jurisdiction wins), and one with a compact holds that compact's chiefs of
    the level, so a neighbour province is not held to this district's plan
    unless a row says so. At most one row per level and scope.
    """

    __tablename__ = "patrol_quota"
    __table_args__ = (
        sa.CheckConstraint("jurisdiction_id IS NULL OR compact_id IS NULL", name="ck_patrol_quota_one_scope"),
        sa.UniqueConstraint("level", "jurisdiction_id", name="uq_patrol_quota_jurisdiction"),
        sa.UniqueConstraint("level", "compact_id", name="uq_patrol_quota_compact"),
        sa.Index(
            "uq_patrol_quota_default",
            "level",
            unique=True,
            sqlite_where=sa.text("jurisdiction_id IS NULL AND compact_id IS NULL"),
            postgresql_where=sa.text("jurisdiction_id IS NULL AND compact_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    level: str = Field(max_length=20)  # a jurisdiction level: village, township, district...
    count: int
    per: str = Field(max_length=10)  # week | tenday | month | quarter | year
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id")
    compact_id: int | None = Field(default=None, foreign_key="compact.id")


class SwapPairing(SQLModel, table=True):
    """Two boundary chiefs who patrol each other's segment (交叉互巡) over a period.

    Chief A may patrol segment B and chief B segment A, from ``starts_on`` to
    ``ends_on`` inclusive (Asia/Shanghai days).
    """

    __tablename__ = "swap_pairing"

    id: int | None = Field(default=None, primary_key=True)
    compact_id: int = Field(foreign_key="compact.id", index=True)
    chief_a_id: int = Field(foreign_key="person.id", index=True)
    segment_a_id: int = Field(foreign_key="segment.id")
    chief_b_id: int = Field(foreign_key="person.id", index=True)
    segment_b_id: int = Field(foreign_key="segment.id")
    relation: str = Field(max_length=20)  # how segment A faces segment B: upstream|downstream|left_bank|right_bank
    starts_on: date
    ends_on: date
    created_at: datetime = _ts()


class Patrol(SQLModel, table=True):
    """One patrol (巡河) of a segment: who, when, for how long and along which track."""

    # ix_patrol_done_started: a month's finished patrols with who made them and their kind, read from the
    # index alone (the funding and completion counts), not from the table's pages with their tracks.
    # ix_patrol_done_segment: the same per segment, for the patrols made on a compact's segments in a period
    # (the practice's figures; migration 0019). ix_patrol_done_patroller: the same per chief, for the
    # compact's chiefs' completion over months (migration 0020).
    __table_args__ = (
        sa.Index("ix_patrol_patroller_started", "patroller_id", "started_at"),
        sa.Index(
            "ix_patrol_done_patroller",
            "patroller_id",
            "started_at",
            "kind",
            postgresql_where=sa.text("ended_at IS NOT NULL"),
            sqlite_where=sa.text("ended_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_patrol_done_segment",
            "segment_id",
            "started_at",
            "patroller_id",
            "kind",
            "id",
            postgresql_where=sa.text("ended_at IS NOT NULL"),
            sqlite_where=sa.text("ended_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_patrol_done_started",
            "started_at",
            "patroller_id",
            "kind",
            postgresql_where=sa.text("ended_at IS NOT NULL"),
            sqlite_where=sa.text("ended_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patroller_id: int = Field(foreign_key="person.id")
    segment_id: int = Field(foreign_key="segment.id", index=True)
    kind: str = Field(max_length=10)  # routine | swap | covert (暗访)
    pairing_id: int | None = Field(default=None, foreign_key="swap_pairing.id", index=True)
    started_at: datetime = _ts(index=True)
    # NULL while the patrol is under way (started on a phone, not yet stopped);
    # only ended patrols count towards a quota.
    ended_at: datetime | None = _ts(nullable=True)
    duration_s: int | None = None
    length_m: int | None = None  # along the track, when there is one
    # The track as a GeoJSON LineString (or MultiLineString) in WGS 84 [lon, lat].
    track: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    notes: str = Field(default="", max_length=2000)
    created_at: datetime = _ts()


class PatrolIssue(SQLModel, table=True):
    """An issue reported on a patrol: the patrol is where it was found, and by whom."""

    __tablename__ = "patrol_issue"

    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    patrol_id: int = Field(foreign_key="patrol.id", index=True)


class TownshipClass(SQLModel, table=True):
    """A township's class (Ⅰ–Ⅳ) by its economy: it sets the district's share of the patrol funding."""

    __tablename__ = "township_class"

    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", primary_key=True)
    grade: str = Field(max_length=3)  # I | II | III | IV


class FundingStandard(SQLModel, table=True):
    """A jurisdiction's patrol funding standard from a day on: subsidy per patrol, insurance per patroller (分)."""

    __tablename__ = "funding_standard"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    per_patrol_fen: int  # communication and transport subsidy for one patrol
    insurance_fen_per_patroller_year: int  # accident insurance for one patroller for a year
    effective_from: date


class EnforcementCase(SQLModel, table=True):
    """A joint enforcement case (联合执法): sand mining, fishing or discharge, by the parties' team."""

    __tablename__ = "enforcement_case"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=30)  # e.g. QJ-ZF-2026-001
    compact_id: int = Field(foreign_key="compact.id", index=True)
    kind: str = Field(max_length=20)  # sand_mining | fishing | discharge | other
    title: str = Field(max_length=200)
    team: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # the enforcement units and officers
    opened_on: date
    closed_on: date | None = None
    outcome: str | None = Field(default=None, max_length=2000)
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _ts()


class EnforcementParty(SQLModel, table=True):
    """A jurisdiction taking part in a joint enforcement case."""

    __tablename__ = "enforcement_party"

    case_id: int = Field(foreign_key="enforcement_case.id", primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", primary_key=True)


class EnforcementIssue(SQLModel, table=True):
    """An issue a joint enforcement case deals with."""

    __tablename__ = "enforcement_issue"

    case_id: int = Field(foreign_key="enforcement_case.id", primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)


class LeadTransfer(SQLModel, table=True):
    """A public-interest litigation lead (公益诉讼线索) transferred to a procuratorate, and its receipt."""

    __tablename__ = "lead_transfer"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=30)  # e.g. QJ-XS-2026-001
    compact_id: int = Field(foreign_key="compact.id", index=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")  # the side that transferred it
    title: str = Field(max_length=200)
    procuratorate: str = Field(max_length=200)
    transferred_on: date
    receipt_no: str | None = Field(default=None, max_length=60)
    received_on: date | None = None
    outcome: str | None = Field(default=None, max_length=2000)
    issue_id: int | None = Field(default=None, foreign_key="issue.id")
    case_id: int | None = Field(default=None, foreign_key="enforcement_case.id")
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _ts()


class Meeting(SQLModel, table=True):
    """A joint meeting (联席会议) of a compact: level, time, place, convener, invitees, agenda and decisions.

    Its agenda issues are put to it by their ``convene`` step and decided by their ``resolve`` step, each
    fired through ``apply``; the meeting record links them (``meeting_issue``). ``version`` guards edits.
    """

    __table_args__ = (sa.Index("ix_meeting_compact_starts", "compact_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=30)  # e.g. QJ-HY-2026-001
    compact_id: int = Field(foreign_key="compact.id")
    level: str = Field(max_length=20)  # township | district | city | province
    suggested_level: str = Field(max_length=20)  # what the policy suggested for its agenda
    level_reason: str | None = Field(default=None, max_length=500)  # why the level differs from the suggestion
    title: str = Field(max_length=200)
    starts_at: datetime = _ts()
    place: str = Field(max_length=300)
    convener_id: int | None = Field(default=None, foreign_key="person.id")
    status: str = Field(default="planned", max_length=12)  # planned | held | cancelled
    note: str | None = Field(default=None, max_length=2000)  # why it moved or was cancelled
    version: int = 1
    reminded: bool = False  # the day-before reminder went out
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MeetingInvitee(SQLModel, table=True):
    """Someone invited to a joint meeting, from a member jurisdiction (or the compact's coordinators), and whether
    they came."""

    __tablename__ = "meeting_invitee"

    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id")
    attendance: str = Field(default="invited", max_length=12)  # invited | present | absent | excused
    stand_in: str | None = Field(default=None, max_length=100)  # who came in their place (代参会)


class MeetingIssue(SQLModel, table=True):
    """An issue on a meeting's agenda: put to it (``convene``) or only reviewed, and the step that decided it."""

    __tablename__ = "meeting_issue"
    __table_args__ = (sa.Index("ix_meeting_issue_issue", "issue_id"),)

    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    position: int
    role: str = Field(max_length=10)  # decide | review
    convene_seq: int | None = None  # the issue's ledger event that put it to the meeting
    decision_seq: int | None = None  # the issue's ``resolve`` event


class ActionItem(SQLModel, table=True):
    """A decision not tied to one issue (e.g. 建立联合执法小组): an owner jurisdiction, a due day, done or not.

    The deadline sweep watches ``next_check_at`` as it does an issue's: a reminder before the due day, a
    notice when it passes; bulletins list it overdue until it is done.
    """

    __tablename__ = "action_item"
    __table_args__ = (sa.Index("ix_action_item_check", "next_check_at"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=30)  # e.g. QJ-DB-2026-001
    compact_id: int = Field(foreign_key="compact.id", index=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    title: str = Field(max_length=300)
    owner_jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    due_on: date
    due_at: datetime = _ts()  # the end of the due day, Asia/Shanghai
    status: str = Field(default="open", max_length=10)  # open | done | cancelled
    done_at: datetime | None = _ts(nullable=True)
    done_by: int | None = Field(default=None, foreign_key="person.id")
    outcome: str | None = Field(default=None, max_length=2000)
    next_check_at: datetime | None = _ts(nullable=True)
    reminded: int = 0  # notices sent: 1 after the reminder, 2 after the overdue notice
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _ts()


class JobRun(SQLModel, table=True):
    """One run of a periodic job for one period: what makes every job idempotent and caught up once."""

    __tablename__ = "job_run"
    __table_args__ = (sa.UniqueConstraint("job", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=40)
    period: str = Field(max_length=20)  # 2026-03-02T09:01, 2026-03-02, 2026-03, 2026-Q1
    status: str = Field(max_length=10)  # running | done
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class Bulletin(SQLModel, table=True):
    """A compact's monthly bulletin (月通报) or quarterly interview list (季约谈), with its figures."""

    __table_args__ = (sa.UniqueConstraint("compact_id", "kind", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    compact_id: int = Field(foreign_key="compact.id")
    kind: str = Field(max_length=12)  # monthly | interview
    period: str = Field(max_length=10)  # 2026-03 | 2026-Q1
    figures: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    parties: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = _ts()


class LedgerSeal(SQLModel, table=True):
    """The day's seal: a hash over every chain head as it stood at the end of that day."""

    __tablename__ = "ledger_seal"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(unique=True)
    chains: int
    heads_hash: str = Field(max_length=64)
    prev_seal_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    created_at: datetime = _ts()


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a table model, for the statements on the hot path."""
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]


class MapFeature(Drawn, table=True):
    """A feature of the shared watershed map (一张图): a jurisdiction's polygon, a river, an outfall, a plant...

    ``geometry`` is a GeoJSON geometry in WGS 84 [lon, lat]; the bounding box
    beside it lets SQL pick the features near a place without reading them all.
    A segment's line is kept in ``segment.geometry`` too, written in the same
    transaction, because report maps and the router read it from there.
    """

    __tablename__ = "map_feature"
    __table_args__ = (sa.UniqueConstraint("layer", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    layer: str = Field(max_length=20)  # jurisdiction|river|segment|catchment|outfall|sewage_plant|sensitive
    code: str = Field(max_length=60)
    name: str = Field(max_length=200)
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id", index=True)
    river_id: int | None = Field(default=None, foreign_key="river.id")
    segment_id: int | None = Field(default=None, foreign_key="segment.id")
    properties: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    geometry: dict[str, Any] = Field(sa_type=sa.JSON)
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    imported_at: datetime = _ts()


class IdempotencyKey(SQLModel, table=True):
    """A create request's ``Idempotency-Key`` and what it made, so a retry gets the same answer.

    Stored in the same transaction as what the request created; a second
    request with the key and the same body replays ``status`` and
    ``response``; with another body it is refused. Keys are per person.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("person_id", "key", name="uq_idempotency_person_key"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    key: str = Field(max_length=100)
    method: str = Field(max_length=10)
    path: str = Field(max_length=300)
    request_hash: str = Field(max_length=64)  # SHA-256 of the request body
    status: int
    response: dict[str, Any] | list[Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = _ts(index=True)
