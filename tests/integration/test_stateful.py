"""A stateful property test of the workflow engine: random triggers, actors, payloads and clock moves.

The machine keeps a few issues on a fresh SQLite database and fires triggers at them. One rule mostly
walks an issue forward (an allowed trigger, a person who may fire it, a payload that is usually right),
another fires junk (any trigger, any person or the system, any payload, stale versions). A small model of
each issue (state, check round, who signed, what was checked, the last revisit, the receiving side)
predicts the outcome of every step: which refusal, or success. After every step the database must agree
with the model, the ledger must verify and replay to the issue rows, and no issue may stand closed
without both sides' sign-off and the whole checklist in the round it was closed in.
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, event, given, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from sqlmodel import SQLModel

from riverchief.bootstrap import bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from states.chart import PHASES, SERVICE_TRIGGERS, STATES, TRANSITIONS, TRIGGERS, Field, FieldKind, Party, Transition
from states.machine import TABLE, allowed_triggers
from states.policy import CATEGORIES, DEADLINES, DIFFICULTIES, PLANNED_STATES
from tests.factories import START, World, load_world
from workflow.core.actors import Actor
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.db import make_engine
from workflow.core.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed, WorkflowError
from workflow.core.ledger import replay_issue, verify
from workflow.core.models import (
    ChecklistCheck,
    Compact,
    CompactMember,
    CompactStaff,
    Event,
    Issue,
    Jurisdiction,
    Person,
    SignOff,
)
from workflow.core.services import IssueDraft, StepResult, apply, report_issue

LEAVES = frozenset(s.name for s in STATES)
PHASE_NAMES = frozenset(p.name for p in PHASES)
TERMINAL = {s.name: s.terminal for s in STATES}
CLOSED_STATES = frozenset({"du.closed", "du.revisiting", "archived"})
# States an issue cannot be merged into: closed (a problem seen again there is a rebound) or terminal.
NOT_OPEN = CLOSED_STATES | {s.name for s in STATES if s.terminal}
TRIGGER_NAMES = tuple(t.name for t in TRIGGERS)
UNKNOWN_TRIGGER = "teleport"
UNKNOWN_JURISDICTION = "999999999"
BOGUS_ITEM = "bogus_item"
SIDES = frozenset({Party.REPORTING.value, Party.RECEIVING.value})
SIDE_ROLES = frozenset({"chief", "office"})
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OK = "ok"  # the outcome of a step that succeeds
SEGMENTS = ("qj-baima", "qj-taian", "mx-moxi", "qj-longtai")
LIVE_ISSUES = 2  # report a new issue only while fewer than this many are still open
ALL_ISSUES = 8

# Steps that declare the work failed or give the issue up: closure must be reachable without them.
GIVING_UP = frozenset({"fail_check", "rebound", "dismiss", "mark_duplicate"})


def _closable(m: IssueModel) -> bool:
    """Whether closure is reachable from the model's state through the chart, by steps some party may take with
    their best payload (every checklist item confirmed, a deadline ahead), never one in GIVING_UP.

    Only the verification round's own record (who signed, whether the checklist is complete) carries state
    between steps: a new round starts both empty.
    """
    signed = frozenset(m.signed.get(m.check_round, set()))
    start = (m.state, signed, m.checked.get(m.check_round, set()) >= m.items)
    seen, frontier = {start}, [start]
    while frontier:
        state, signed, complete = frontier.pop()
        if state in CLOSED_STATES:
            return True
        for (source, trigger), t in TABLE.items():
            if source != state or trigger in GIVING_UP or trigger in SERVICE_TRIGGERS:
                continue
            nexts: list[tuple[str, frozenset[str], bool]] = []
            if trigger == "pass_check":
                for side in SIDES:
                    amending = signed >= SIDES and not complete
                    if side not in signed or amending:
                        nexts.append((state, signed | {side}, True))
            elif trigger == "close":
                if signed >= SIDES and complete:
                    nexts.append((t.dest or state, signed, complete))
            elif trigger == "request_verify":
                nexts.append((t.dest or state, frozenset(), False))
            else:
                nexts.append((t.dest or state, signed, complete))
            for found in nexts:
                if found not in seen:
                    seen.add(found)
                    frontier.append(found)
    return False


# The ways forward from the states where they do not depend on the issue's history (repeats weigh more).
FORWARD: dict[str, tuple[str, ...]] = {
    "kan.flagged": ("report",),
    "xun.reported": ("hand_off", "hand_off", "hand_off", "investigate", "mark_duplicate"),
    "cha.investigating": ("confirm",),
    "cha.confirmed": ("hand_off",),
    "ban.handed_off": ("accept", "accept", "dispute"),
    "ban.accepted": ("start_rectify", "start_rectify", "negotiate"),
    "ban.negotiating": ("agree", "convene"),
    "ban.joint_meeting": ("resolve",),
    "ban.dispatched": ("start_rectify",),
    "ban.rectifying": ("report_done", "report_done", "progress"),
    "du.rectified": ("request_verify",),
}

# What people type: the edge refuses NUL and lone surrogates (tests/e2e/test_edges.py), so they are left out here.
SHORT_TEXT = st.sampled_from(["排污口已封堵", "现场核查属实", "按方案整改", "  两端有空格  ", "ok"]) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=15
).filter(str.strip)
BLANKS = st.sampled_from([None, "", "   ", "\u3000\t"])
BLANK_TITLES = st.sampled_from(["", "  ", "\u3000"])
BAD: dict[FieldKind, st.SearchStrategy[Any]] = {
    FieldKind.TEXT: st.sampled_from([42, ["列表"], {"k": "v"}]),
    FieldKind.JURISDICTION: st.sampled_from([42, ["510904101"]]),
    FieldKind.DATE: st.sampled_from(["2026-02-30", "下周五", "2026/03/10", "2026-03-10T08:00", 3.5, ["2026-03-10"]]),
    FieldKind.CHOICE: st.sampled_from(["county", "CITY", 3, ["city"]]),
    FieldKind.ITEMS: st.sampled_from([7, {"photos": True}, [1, 2], [None], ("photos", 3)]),
    FieldKind.PERCENT: st.sampled_from([-1, 101, "一半", 50.5, "50.5%", [50]]),
}


@dataclass
class IssueModel:
    """What the test believes about one issue."""

    code: str
    id: int
    category: str
    reporting: str  # jurisdiction code
    state: str
    version: int = 1
    receiving: str | None = None
    check_round: int = 0
    signed: dict[int, set[str]] = field(default_factory=dict)
    checked: dict[int, set[str]] = field(default_factory=dict)
    last_clean: bool | None = None
    rebounds: int = 0
    closed_rounds: list[int] = field(default_factory=list)
    duplicate_of: str | None = None  # the original's code, once merged into it

    @property
    def items(self) -> frozenset[str]:
        return frozenset(code for code, _ in CATEGORIES[self.category].checklist)


@dataclass
class Payload:
    """A drawn payload, and what the engine should make of it."""

    values: dict[str, Any] = field(default_factory=dict)
    clean: dict[str, Any] = field(default_factory=dict)  # the normalised well-formed values
    malformed: list[str] = field(default_factory=list)  # fields the engine must refuse
    doubtful: list[str] = field(default_factory=list)  # a datetime for a date: refuse it, or keep only its day


def _fields_for(state: str, trigger: str) -> tuple[Field, ...]:
    transition = TABLE.get((state, trigger)) or next((t for t in TRANSITIONS if t.trigger == trigger), None)
    return transition.fields if transition else ()


@dataclass(frozen=True)
class Reference:
    """The migrated database with the 琼江 compact loaded, built once and copied for every run."""

    database: Path
    actors: dict[str, Actor]
    paths: dict[str, str]  # jurisdiction code -> path
    jurisdiction_ids: dict[str, int]
    member_paths: tuple[str, ...]
    people: dict[str, tuple[str, str | None]]  # person code -> (role, jurisdiction path)
    coordinators: frozenset[str]
    auditors: frozenset[str]


@functools.cache
def _reference() -> Reference:
    folder = Path(tempfile.mkdtemp(prefix="riverchief-stateful-template-"))
    atexit.register(shutil.rmtree, folder, True)
    url = f"sqlite:///{folder / 'riverchief.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        clock = FrozenClock(START)
        world = load_world(bootstrap(Settings(database_url=url, data_dir=folder), clock=clock, engine=engine), clock)
        with engine.connect() as conn:
            paths = dict(conn.execute(sa.select(Jurisdiction.code, Jurisdiction.path)).all())
            ids = dict(conn.execute(sa.select(Jurisdiction.code, Jurisdiction.id)).all())
            member_paths = tuple(
                conn.execute(
                    sa.select(Jurisdiction.path)
                    .join(CompactMember, CompactMember.jurisdiction_id == Jurisdiction.id)
                    .join(Compact, Compact.id == CompactMember.compact_id)
                    .where(Compact.code == "QJ")
                ).scalars()
            )
            people = {
                code: (role, path)
                for code, role, path in conn.execute(
                    sa.select(Person.code, Person.role, Jurisdiction.path).join(
                        Jurisdiction, Jurisdiction.id == Person.jurisdiction_id, isouter=True
                    )
                )
            }
            staff = conn.execute(
                sa.select(Person.code, CompactStaff.role).join(CompactStaff, CompactStaff.person_id == Person.id)
            ).all()
    finally:
        engine.dispose()
    # The last connection to close checkpoints the write-ahead log into the file, so one file is all of it.
    assert not (folder / "riverchief.db-wal").exists()
    return Reference(
        database=folder / "riverchief.db",
        actors=dict(world.people),
        paths=paths,
        jurisdiction_ids=ids,
        member_paths=member_paths,
        people=people,
        coordinators=frozenset(code for code, role in staff if role == "coordinator"),
        auditors=frozenset(code for code, role in staff if role == "auditor"),
    )


_COUNTS = sa.select(
    *(
        sa.select(sa.func.count()).select_from(t).scalar_subquery().label(t.name)
        for t in SQLModel.metadata.sorted_tables
    )
)


_ISSUE_BY_CODE = sa.select(Issue.__table__).where(Issue.__table__.c.code == sa.bindparam("code"))
_EVENT_BY_ID = sa.select(Event.__table__).where(Event.__table__.c.id == sa.bindparam("id"))
_ALL_ISSUES = sa.select(Issue.__table__)
_ALL_EVENTS = sa.select(Event.__table__).order_by(Event.__table__.c.issue_id, Event.__table__.c.seq)
_ALL_SIGN_OFFS = sa.select(SignOff.__table__.c["issue_id", "round", "side"])
_ALL_CHECKS = sa.select(ChecklistCheck.__table__.c["issue_id", "round", "item"])


class WorkflowMachine(RuleBasedStateMachine):
    """Random steps against the engine, checked against a model after every one."""

    issues = Bundle("issues")

    def __init__(self) -> None:
        super().__init__()
        ref = _reference()
        self.dir = Path(tempfile.mkdtemp(prefix="riverchief-stateful-"))
        url = f"sqlite:///{self.dir / 'riverchief.db'}"
        self.engine = make_engine(url)
        self.clock = FrozenClock(START)
        try:  # teardown runs only once __init__ has returned
            shutil.copyfile(ref.database, self.dir / "riverchief.db")
            self.app = bootstrap(Settings(database_url=url, data_dir=self.dir), clock=self.clock, engine=self.engine)
        except BaseException:
            self.engine.dispose()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.world = World(self.app, self.clock, dict(ref.actors))
        self.ref = ref
        self.models: dict[str, IssueModel] = {}
        self.fired: Counter[str] = Counter()
        self.touched: set[str] = set()  # issues a step fired at since the last check
        self.actors = (*sorted(ref.people), "system")
        self.side_people = tuple(code for code in sorted(ref.people) if ref.people[code][0] in SIDE_ROLES)

    def teardown(self) -> None:
        for name in ("close", "rebound", "no_rebound", "archive", "mark_duplicate"):
            if self.fired[name]:
                event(f"{name} reached")
        # Steer generation towards runs that fire many different triggers, closure, rebound and archive among them.
        target(float(sum(1 for name in TRIGGER_NAMES if self.fired[name])), label="distinct triggers fired")
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model's view of people -------------------------------------------------------------

    def _today(self) -> date:
        return self.clock.now().astimezone(SHANGHAI).date()

    def _parties(self, m: IssueModel, who: str) -> frozenset[Party]:
        """How ``who`` stands to the issue: a side's chief or office is at or above it, not above both."""
        if who == "system":
            return frozenset({Party.SYSTEM})
        held: set[Party] = set()
        if who in self.ref.coordinators:
            held.add(Party.COORDINATOR)
        if who in self.ref.auditors:
            held.add(Party.AUDITOR)
        role, path = self.ref.people[who]
        if role in SIDE_ROLES and path:
            if any(path.startswith(p) for p in self.ref.member_paths):
                held.add(Party.MEMBER)
            reporting = self.ref.paths[m.reporting]
            receiving = self.ref.paths[m.receiving] if m.receiving else None
            over_reporting = reporting.startswith(path)
            over_receiving = receiving is not None and receiving.startswith(path)
            if over_reporting and not over_receiving:
                held.add(Party.REPORTING)
            if over_receiving and not over_reporting:
                held.add(Party.RECEIVING)
            if role == "chief" and over_receiving and receiving != path:
                held.add(Party.HIGHER_CHIEF)
        return frozenset(held)

    def _side(self, m: IssueModel, who: str) -> str:
        return Party.REPORTING.value if Party.REPORTING in self._parties(m, who) else Party.RECEIVING.value

    def _can_receive(self, m: IssueModel, code: str) -> bool:
        path = self.ref.paths.get(code)
        reporting = self.ref.paths[m.reporting]
        if path is None or path.startswith(reporting) or reporting.startswith(path):
            return False
        return any(path.startswith(p) for p in self.ref.member_paths)

    # -- drawing payloads -------------------------------------------------------------------------

    def _good(self, data: st.DataObject, f: Field, m: IssueModel) -> tuple[Any, Any]:
        """A well-formed value for ``f`` and its normalised form (which guards may still refuse)."""
        match f.kind:
            case FieldKind.TEXT if f.name == "of":  # an issue's code: mostly one the machine knows
                fitting = sorted(c for c, o in self.models.items() if o is not m and o.state not in NOT_OPEN)
                code = data.draw(
                    (st.sampled_from(fitting) if fitting else st.nothing())
                    | st.sampled_from(sorted(self.models))
                    | SHORT_TEXT,
                    label=f.name,
                )
                return code, code.strip()
            case FieldKind.TEXT:
                text = data.draw(SHORT_TEXT | st.just("界" * f.max_length), label=f.name)  # up to the longest
                return text, text.strip()
            case FieldKind.DATE:
                day = self._today() + timedelta(days=data.draw(st.integers(-10, 60), label=f"{f.name} offset"))
                form = data.draw(st.sampled_from(["iso", "iso", "date", "padded", "datetime"]), label=f"{f.name} form")
                if form == "datetime":  # a moment on that day, as a Python caller might pass it
                    return datetime.combine(day, time(10), tzinfo=SHANGHAI), day.isoformat()
                return {"iso": day.isoformat(), "date": day, "padded": f" {day.isoformat()} "}[form], day.isoformat()
            case FieldKind.JURISDICTION:
                fitting = sorted(c for c in self.ref.paths if self._can_receive(m, c))
                anything = [*sorted(self.ref.paths), UNKNOWN_JURISDICTION]
                code = data.draw(
                    (st.sampled_from(fitting) if fitting else st.nothing()) | st.sampled_from(anything), label=f.name
                )
                padded = data.draw(st.booleans(), label=f"{f.name} padded")
                return (f" {code} " if padded else code), code
            case FieldKind.CHOICE:
                choice = data.draw(st.sampled_from(f.choices), label=f.name)
                return choice, choice
            case FieldKind.ITEMS:
                every = sorted(m.items)
                items = data.draw(
                    st.just(every) | st.lists(st.sampled_from([*every, BOGUS_ITEM]), max_size=4), label=f.name
                )
                form = data.draw(st.sampled_from(["list", "tuple", "text"]), label=f"{f.name} form")
                value: Any = {"list": list(items), "tuple": tuple(items), "text": " , ".join(items)}[form]
                if form == "text" and not items:
                    value = []
                return value, sorted(set(items))
            case FieldKind.PERCENT:
                n = data.draw(st.integers(0, 100), label=f.name)
                form = data.draw(st.sampled_from(["int", "text", "percent"]), label=f"{f.name} form")
                return {"int": n, "text": str(n), "percent": f"{n}%"}[form], n
        raise AssertionError(f"a field kind the test does not know: {f.kind}")

    def _payload(self, data: st.DataObject, m: IssueModel, fields: tuple[Field, ...], junk_pct: int) -> Payload:
        """Mostly good values; ``junk_pct`` percent of fields missing, blank or malformed."""
        p = Payload()
        for f in fields:
            roll = data.draw(st.integers(0, 99), label=f"{f.name} roll")
            if roll < junk_pct:
                how = data.draw(st.sampled_from(["missing", "blank", "bad"]), label=f"{f.name} junk")
                if how == "bad":
                    bad = BAD[f.kind]
                    if f.kind in (FieldKind.TEXT, FieldKind.JURISDICTION):
                        bad |= st.just("长" * (f.max_length + 1))
                    p.values[f.name] = data.draw(bad, label=f"{f.name} bad")
                    p.malformed.append(f.name)
                    continue
                if how == "blank":
                    p.values[f.name] = data.draw(BLANKS, label=f"{f.name} blank")
                if f.required:
                    p.malformed.append(f.name)
                continue
            if not f.required and roll < junk_pct + 25:
                if data.draw(st.booleans(), label=f"{f.name} as blank"):
                    p.values[f.name] = data.draw(BLANKS, label=f"{f.name} blank")
                continue
            p.values[f.name], p.clean[f.name] = self._good(data, f, m)
            if isinstance(p.values[f.name], datetime):
                p.doubtful.append(f.name)
        if junk_pct >= 30 and data.draw(st.integers(0, 9), label="extra field") == 0:
            p.values["colour"] = "blue"
            p.malformed.append("colour")
        return p

    # -- predicting and firing ---------------------------------------------------------------------

    def _guards_pass(self, m: IssueModel, t: Transition, who: str, clean: dict[str, Any]) -> bool | None:
        """Whether the transition's guards let the step through; None when one of them is not modelled here."""
        signed = m.signed.get(m.check_round, set())
        checked = m.checked.get(m.check_round, set())
        for guard in t.guards:
            match guard:
                case "receiving_is_other_side" | "receiving_in_compact":
                    passed = self._can_receive(m, clean["receiving"])
                case "deadline_in_future":
                    passed = "deadline" not in clean or date.fromisoformat(clean["deadline"]) >= self._today()
                case "side_not_signed":  # or amends a round both signed with items missing
                    passed = self._side(m, who) not in signed or (signed >= SIDES and not checked >= m.items)
                case "sign_off_completes_checklist":
                    passed = (
                        not (signed | {self._side(m, who)}) >= SIDES
                        or (checked | set(clean.get("checklist", ()))) >= m.items
                    )
                case "checklist_items_known":
                    passed = set(clean.get("checklist", ())) <= m.items
                case "both_sides_signed":
                    passed = signed >= SIDES
                case "checklist_complete":
                    passed = checked >= m.items
                case "last_revisit_clean":
                    passed = m.last_clean is True
                case "original_open":
                    original = self.models.get(clean["of"])
                    passed = original is not None and original is not m and original.state not in NOT_OPEN
                case "duplicate_points_here":
                    passed = False  # a merge links its original at once: by hand there is nothing left to link
                case _:  # a guard added to the chart since this test was written: it may refuse
                    return None
            if not passed:
                return False
        return True

    def _expect(self, m: IssueModel, trigger: str, who: str, p: Payload, stale: bool) -> set[Any]:
        """The outcomes the engine may give: refusals by class, or OK."""
        if stale:
            return {Conflict}
        if trigger not in TRIGGER_NAMES:
            return {ValidationFailed}
        t = TABLE.get((m.state, trigger))
        if t is None:
            return {InvalidTransition}
        if not self._parties(m, who) & t.parties:
            return {NotPermitted}
        if p.malformed:
            return {ValidationFailed}
        passes = self._guards_pass(m, t, who, p.clean)
        if passes is False:
            return {ValidationFailed}
        # A datetime given for a date may be refused, or taken for its day (checked in the ledger invariant).
        return {OK, ValidationFailed} if p.doubtful or passes is None else {OK}

    def _snapshot(self, code: str | None = None) -> tuple[dict[str, int], dict[str, Any] | None]:
        """Rows per table and the issue's row: what a refused step must leave as it was."""
        with self.app.reader() as uow:
            counts = dict(uow.connection.execute(_COUNTS).one()._mapping)
            row = uow.connection.execute(_ISSUE_BY_CODE, {"code": code}).first() if code else None
        return counts, (row._asdict() if row is not None else None)

    def _fire(
        self, m: IssueModel, trigger: str, who: str, p: Payload, expected_version: int | None, *, stale: bool = False
    ) -> None:
        expected = self._expect(m, trigger, who, p, stale)
        self.touched.add(m.code)
        # What a refusal must leave as it was (a step that must succeed is checked by its event instead).
        before = self._snapshot(m.code) if expected != {OK} else None
        where = f"{trigger!r} by {who} on {m.code} in {m.state} (v{m.version}) with {p.values!r}"
        try:
            result = apply(self.app.uow(), m.code, trigger, self.world.actor(who), p.values, expected_version)
        except WorkflowError as exc:
            refusal = exc
        else:
            assert OK in expected, f"{where}: succeeded, expected {expected}"
            self._check_success(m, TABLE[(m.state, trigger)], who, p, result)
            return
        assert type(refusal) in expected, f"{where}: refused with {refusal!r}, expected {expected}"
        self.fired[f"refused: {type(refusal).__name__}"] += 1
        assert self._snapshot(m.code) == before, f"{where}: refused ({refusal!r}) but the database changed"

    def _check_success(
        self,
        m: IssueModel,
        t: Transition,
        who: str,
        p: Payload,
        result: StepResult,
    ) -> None:
        """The step's one new event and the issue row agree with the transition; then the model takes the step."""
        to_state = t.dest or m.state
        assert (result.from_state, result.state, result.version) == (m.state, to_state, m.version + 1)
        with self.app.reader() as uow:
            row = uow.connection.execute(_ISSUE_BY_CODE, {"code": m.code}).one()
            last = uow.connection.execute(_EVENT_BY_ID, {"id": result.event_id}).one()
        assert (row.state, row.version) == (to_state, m.version + 1)
        assert (last.issue_id, last.seq, last.trigger, last.from_state, last.to_state, last.actor_code) == (
            m.id,
            m.version + 1,
            t.trigger,
            m.state,
            to_state,
            who,
        )
        self.fired[t.trigger] += 1
        m.state, m.version = to_state, m.version + 1
        match t.trigger:
            case "hand_off":
                m.receiving = p.clean["receiving"]
            case "request_verify":
                m.check_round += 1
            case "pass_check":
                m.signed.setdefault(m.check_round, set()).add(self._side(m, who))
                m.checked.setdefault(m.check_round, set()).update(p.clean.get("checklist", ()))
            case "close":
                m.closed_rounds.append(m.check_round)
                m.last_clean = None  # a new closure waits for its own revisit
                self._assert_closable(m, m.check_round)
            case "no_rebound":
                m.last_clean = True
            case "rebound":
                m.last_clean = False
                m.rebounds += 1
            case "mark_duplicate":
                # The original's ledger records the merge in the same transaction: one more version there.
                original = self.models[p.clean["of"]]
                m.duplicate_of = original.code
                original.version += 1
                self.touched.add(original.code)
                self.fired["duplicate_linked"] += 1

    def _assert_closable(self, m: IssueModel, round_: int) -> None:
        with self.app.reader() as uow:
            conn = uow.connection
            sides = set(
                conn.execute(sa.select(SignOff.side).where(SignOff.issue_id == m.id, SignOff.round == round_)).scalars()
            )
            items = set(
                conn.execute(
                    sa.select(ChecklistCheck.item).where(
                        ChecklistCheck.issue_id == m.id, ChecklistCheck.round == round_
                    )
                ).scalars()
            )
        assert sides == SIDES, f"{m.code} closed in round {round_} with sign-offs {sides}"
        assert items >= m.items, f"{m.code} closed in round {round_} missing checklist items {m.items - items}"

    def _version_arg(self, data: st.DataObject, m: IssueModel, stale_pct: int) -> tuple[int | None, bool]:
        roll = data.draw(st.integers(0, 99), label="version roll")
        if roll < stale_pct:
            return m.version + data.draw(st.sampled_from([-1, -m.version, 1, 2]), label="stale by"), True
        return (m.version if roll < stale_pct + 30 else None), False

    # -- rules --------------------------------------------------------------------------------------

    def _report(self, data: st.DataObject, who: str, junk: bool) -> Any:
        lon_lat = data.draw(
            st.sampled_from([(None, None), (105.9, 30.1), (-180.0, 90.0)])
            | (st.sampled_from([(None, 30.1), (105.9, None), (181.0, 30.0), (105.0, -90.5)]) if junk else st.nothing()),
            label="lon, lat",
        )
        draft = IssueDraft(
            compact=data.draw(st.sampled_from(["QJ", "XX"]) if junk else st.just("QJ"), label="compact"),
            title=data.draw(
                SHORT_TEXT | (BLANK_TITLES if junk else st.nothing()),
                label="title",
            ),
            category=data.draw(st.sampled_from([*CATEGORIES, *(["mystery"] if junk else [])]), label="category"),
            description=data.draw(st.sampled_from(["", "岸边堆放垃圾", "x" * 5001 if junk else "y"]), label="desc"),
            difficulty=data.draw(st.sampled_from([*DIFFICULTIES, *(["brutal"] if junk else [])]), label="difficulty"),
            place=data.draw(st.sampled_from(["", "白马镇码头下游200米"]), label="place"),
            lon=lon_lat[0],
            lat=lon_lat[1],
            segment=data.draw(st.sampled_from([None, "", *SEGMENTS, *(["no-such"] if junk else [])]), label="seg"),
        )
        flag = data.draw(st.booleans(), label="flag")
        valid_draft = (
            draft.compact == "QJ"
            and bool(draft.title.strip())
            and len(draft.title) <= 200
            and len(draft.description) <= 5000
            and draft.category in CATEGORIES
            and draft.difficulty in DIFFICULTIES
            and (draft.lon is None) == (draft.lat is None)
            and (draft.lon is None or -180 <= draft.lon <= 180)
            and (draft.lat is None or -90 <= draft.lat <= 90)
            and draft.segment in (None, "", *SEGMENTS)
        )
        role, path = self.ref.people.get(who, ("system", None))
        member = role in SIDE_ROLES and path is not None and any(path.startswith(p) for p in self.ref.member_paths)
        expected = ValidationFailed if not valid_draft else (OK if member else NotPermitted)
        before = self._snapshot()
        try:
            result = report_issue(self.app.uow(), self.world.actor(who), draft, flag=flag)
        except WorkflowError as exc:
            refusal = exc
        else:
            refusal = None
        if refusal is not None:
            assert type(refusal) is expected, f"report by {who} of {draft}: refused with {refusal!r}, not {expected}"
            assert self._snapshot() == before, f"report by {who}: refused but the database changed"
            return multiple()
        assert expected == OK, f"report by {who} of {draft}: succeeded, expected {expected}"
        state = "kan.flagged" if flag else "xun.reported"
        assert (result.from_state, result.state, result.version) == ("new", state, 1)
        issue = self.world.issue(result.issue_code)
        assert path is not None
        reporting = next(code for code, p in self.ref.paths.items() if p == path)
        assert issue.reporting_jurisdiction_id == self.ref.jurisdiction_ids[reporting]
        self.touched.add(result.issue_code)
        self.models[result.issue_code] = IssueModel(result.issue_code, issue.id, draft.category, reporting, state)
        self.fired["flag" if flag else "report"] += 1
        return result.issue_code

    @initialize(target=issues, data=st.data())
    def first_issue(self, data: st.DataObject) -> Any:
        return self._report(data, data.draw(st.sampled_from(self.side_people), label="reporter"), junk=False)

    @precondition(
        lambda self: (
            len(self.models) < ALL_ISSUES and sum(not TERMINAL[m.state] for m in self.models.values()) < LIVE_ISSUES
        )
    )
    @rule(target=issues, data=st.data())
    def report(self, data: st.DataObject) -> Any:
        junk = data.draw(st.integers(0, 3), label="junk report") == 0
        who = data.draw(st.sampled_from(self.actors if junk else self.side_people), label="reporter")
        return self._report(data, who, junk)

    def _forward(self, data: st.DataObject, m: IssueModel) -> str | None:
        match m.state:
            case "du.verifying":
                signed = m.signed.get(m.check_round, set()) >= SIDES
                complete = m.checked.get(m.check_round, set()) >= m.items
                return "close" if signed and complete else "pass_check"
            case "du.closed":
                return "archive" if m.last_clean else "start_revisit"
            case "du.revisiting":
                return data.draw(st.sampled_from(["no_rebound", "rebound"]), label="revisit finds")
        ways = FORWARD.get(m.state)
        return data.draw(st.sampled_from(ways), label="way forward") if ways else None

    def _walk_once(self, data: st.DataObject, m: IssueModel) -> None:
        allowed = allowed_triggers(m.state)
        if not allowed:  # a terminal state: anything is refused
            trigger = data.draw(st.sampled_from(TRIGGER_NAMES), label="trigger")
            who = data.draw(st.sampled_from(self.actors), label="actor")
            self._fire(m, trigger, who, Payload(), None)
            return
        forward = self._forward(data, m)
        if forward is not None and data.draw(st.integers(0, 5), label="go forward") > 0:
            trigger = forward
        else:
            trigger = data.draw(st.sampled_from(allowed), label="trigger")
        t = TABLE[(m.state, trigger)]
        fitting = [who for who in self.actors if self._parties(m, who) & t.parties]
        if trigger == "pass_check":
            signed = m.signed.get(m.check_round, set())
            unsigned = [who for who in fitting if self._side(m, who) not in signed]
            if unsigned and data.draw(st.integers(0, 4), label="unsigned side") > 0:
                fitting = unsigned
        who = data.draw(st.sampled_from(fitting or self.actors), label="actor")
        version, stale = self._version_arg(data, m, stale_pct=4)
        self._fire(m, trigger, who, self._payload(data, m, t.fields, junk_pct=8), version, stale=stale)

    @rule(issue=issues, data=st.data())
    def walk(self, issue: str, data: st.DataObject) -> None:
        """Move an issue along: allowed triggers, fitting actors, mostly good payloads; a few steps at once."""
        live = sorted(code for code, m in self.models.items() if not TERMINAL[m.state])
        if live and TERMINAL[self.models[issue].state]:  # an archived or dismissed issue goes nowhere
            issue = data.draw(st.sampled_from(live), label="live issue")
        m = self.models[issue]
        for step in range(data.draw(st.integers(1, 4), label="steps")):
            if step:  # between steps only this issue can have changed; the invariant checks all after the last
                self._check_database(only=m.code)
            self._walk_once(data, m)

    @rule(issue=issues, data=st.data())
    def junk(self, issue: str, data: st.DataObject) -> None:
        """Any trigger (or an unknown one) by anyone (or the system) with a payload that is often wrong."""
        if data.draw(st.integers(0, 9), label="unknown issue") == 0:
            self._unknown_issue(data)
            return
        m = self.models[issue]
        anything = st.sampled_from([*TRIGGER_NAMES, UNKNOWN_TRIGGER])
        allowed = allowed_triggers(m.state)
        # Half the time one the state allows, so that permissions and payloads are reached, not only the chart.
        trigger = data.draw(st.sampled_from(allowed) | anything if allowed else anything, label="trigger")
        who = data.draw(st.sampled_from(self.actors), label="actor")
        payload = self._payload(data, m, _fields_for(m.state, trigger), junk_pct=40)
        version, stale = self._version_arg(data, m, stale_pct=20)
        self._fire(m, trigger, who, payload, version, stale=stale)

    def _unknown_issue(self, data: st.DataObject) -> None:
        trigger = data.draw(st.sampled_from(TRIGGER_NAMES), label="trigger")
        who = data.draw(st.sampled_from(self.actors), label="actor")
        before = self._snapshot()
        try:
            apply(self.app.uow(), "QJ-1999-0001", trigger, self.world.actor(who), {})
        except NotFound:
            assert self._snapshot() == before
        else:
            raise AssertionError(f"{trigger!r} on an issue that does not exist succeeded")

    @rule(data=st.data())
    def time_passes(self, data: st.DataObject) -> None:
        """Minutes to days pass; or the clock stands at the turn of a Shanghai day, where "today" changes."""
        if data.draw(st.booleans(), label="to midnight"):
            midnight = datetime.combine(self._today() + timedelta(days=1), time(0), tzinfo=SHANGHAI)
            seconds = data.draw(st.sampled_from([-1, 0, 1]), label="seconds from midnight")
            self.clock.set(max(self.clock.now(), midnight + timedelta(seconds=seconds)))  # time never runs back
        else:
            self.clock.advance(minutes=data.draw(st.integers(1, 60 * 24 * 12), label="minutes"))

    # -- invariants ---------------------------------------------------------------------------------

    @invariant()
    def database_agrees(self) -> None:
        self._check_database()

    @invariant()
    def every_open_issue_can_still_be_closed_without_declaring_failure(self) -> None:
        """From every reachable state that is not terminal, closure can still be reached by permitted steps,
        none of which declares the work failed (a failed check, a rebound) or gives the issue up: a round both
        sides signed with checklist items missing was such a trap, fail_check its only way out."""
        for m in self.models.values():
            if not TERMINAL[m.state]:
                assert _closable(m), f"{m.code} in {m.state} (round {m.check_round}) can no longer be closed"

    def _check_database(self, only: str | None = None) -> None:
        """Everything the database must agree on after a step; ``only`` limits the ledger checks to one issue."""
        with self.app.reader() as uow:
            s = uow.session
            issues = {i.code: i for i in s.execute(_ALL_ISSUES)}
            assert issues.keys() == self.models.keys()
            report = verify(s, issue_ids=[issues[only].id] if only else None)
            assert report.ok, [str(f) for f in report.findings]
            events: dict[int, list[Any]] = {}
            for e in s.execute(_ALL_EVENTS):
                events.setdefault(e.issue_id, []).append(e)
            signed: dict[int, dict[int, set[str]]] = {}
            for issue_id, round_, side in s.execute(_ALL_SIGN_OFFS):
                signed.setdefault(issue_id, {}).setdefault(round_, set()).add(side)
            checked: dict[int, dict[int, set[str]]] = {}
            for issue_id, round_, item in s.execute(_ALL_CHECKS):
                checked.setdefault(issue_id, {}).setdefault(round_, set()).add(item)
            for code, issue in issues.items():
                if only and code != only:
                    continue
                m = self.models[code]
                chain = events.get(issue.id, [])
                assert issue.state in LEAVES, issue.state
                assert issue.state not in PHASE_NAMES, issue.state
                assert issue.version == len(chain) == m.version, (code, issue.version, len(chain), m.version)
                # verify() above replays every chain against its row; replay_issue is asked of each issue a step
                # touched, which keeps a long run's checks linear in its length.
                if code in self.touched:
                    replay = replay_issue(s, issue.id)
                    assert (replay.state, replay.version, replay.rebound_count) == (
                        issue.state,
                        issue.version,
                        issue.rebound_count,
                    )
                assert (issue.state, issue.check_round, issue.rebound_count, issue.last_revisit_clean) == (
                    m.state,
                    m.check_round,
                    m.rebounds,
                    m.last_clean,
                ), code
                receiving = self.ref.jurisdiction_ids[m.receiving] if m.receiving else None
                assert issue.receiving_jurisdiction_id == receiving, code
                assert signed.get(issue.id, {}) == {r: v for r, v in m.signed.items() if v}, code
                assert checked.get(issue.id, {}) == {r: v for r, v in m.checked.items() if v}, code
                # The round of each closure is the number of requests for verification before it.
                rounds, closed_in = 0, []
                for e in chain:
                    rounds += e.trigger == "request_verify"
                    if e.trigger == "close":
                        closed_in.append(rounds)
                    for f in _fields_for(e.from_state, e.trigger):
                        if f.kind == FieldKind.DATE and f.name in e.payload:
                            value = e.payload[f.name]
                            assert isinstance(value, str), f"{code} seq {e.seq} {e.trigger}: {f.name}={value!r}"
                            assert ISO_DATE.match(value), f"{code} seq {e.seq} {e.trigger}: {f.name}={value!r}"
                assert closed_in == m.closed_rounds, code
                for round_ in closed_in:
                    assert signed.get(issue.id, {}).get(round_) == SIDES, (code, round_)
                    assert checked.get(issue.id, {}).get(round_, set()) >= m.items, (code, round_)
                if issue.state in CLOSED_STATES:
                    assert closed_in, f"{code} is {issue.state} without ever being closed"
                # A duplicate is closed into its original without a closure of its own.
                assert (issue.closed_at is not None) == (issue.state in CLOSED_STATES | {"duplicate"}), code
                original = self.models.get(m.duplicate_of or "")
                assert issue.duplicate_of_id == (original.id if original else None), code
                if original is not None:
                    linked = [e for e in events.get(original.id, []) if e.trigger == "duplicate_linked"]
                    assert [e.payload["duplicate"] for e in linked].count(code) == 1, code
                assert (issue.due_at is not None) == (issue.state in DEADLINES or issue.state in PLANNED_STATES), code
                if issue.state in PLANNED_STATES:
                    assert issue.rectify_deadline is not None
                    end = datetime.combine(issue.rectify_deadline, time(23, 59, 59), tzinfo=SHANGHAI)
                    assert issue.due_at == end, code
        if not only:
            self.touched.clear()


# About ten seconds of CPU: every step verifies the whole ledger, so the cost grows with the runs' length.
WorkflowMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestWorkflowStateful = WorkflowMachine.TestCase


CLOSURE_PATHS = ("close", "start_revisit", "no_rebound", "rebound", "archive")


def test_long_seeded_runs_close_rebound_and_archive() -> None:
    """The machine is not only refusing things: its own rules, run long on a fixed seed, take every closure path.

    The steps are the machine's rules (mostly ``walk``, some ``junk`` and passing time), each followed by the
    invariants, so what is counted is what the property test does.
    """
    fired: Counter[str] = Counter()

    @settings(
        max_examples=4,  # the first is Hypothesis's simplest run, the others are drawn from the fixed seed
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        machine = WorkflowMachine()
        try:
            machine.first_issue(data)
            machine.database_agrees()
            for _ in range(60):
                live = sum(not TERMINAL[m.state] for m in machine.models.values())
                if live < LIVE_ISSUES and len(machine.models) < ALL_ISSUES:
                    machine.report(data)
                else:
                    issue = data.draw(st.sampled_from(sorted(machine.models)), label="issue")
                    rule = data.draw(st.sampled_from(["walk"] * 6 + ["junk"] * 3 + ["time"]), label="rule")
                    if rule == "walk":
                        machine.walk(issue, data)
                    elif rule == "junk":
                        machine.junk(issue, data)
                    else:
                        machine.time_passes(data)
                machine.database_agrees()
        finally:
            fired.update(machine.fired)
            machine.teardown()

    run()
    reached = {name: fired[name] for name in CLOSURE_PATHS}
    assert all(reached.values()), f"a closure path was never taken: {reached} of {dict(fired)}"
