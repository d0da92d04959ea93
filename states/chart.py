"""The statechart of a cross-border issue, as plain data.

Everything else reads this module: the engine compiles its transition table
from it, the CLI draws the diagram from it, permissions come from its
``parties``, and later the web pages will offer only the triggers it allows.
A new transition is one entry in ``TRANSITIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from states.policy import DEADLINES

SEPARATOR = "."
INITIAL = "new"


class Party(StrEnum):
    """How an actor stands to an issue; transitions name who may fire them."""

    MEMBER = "member"  # a chief or office of any member jurisdiction (new issues)
    REPORTING = "reporting"  # the side that found and handed the problem over
    RECEIVING = "receiving"  # the side the problem was handed to
    COORDINATOR = "coordinator"  # the compact's joint-meeting coordinators
    HIGHER_CHIEF = "higher_chief"  # a chief above the receiving side
    AUDITOR = "auditor"  # the compact's third-party revisit auditors
    SYSTEM = "system"  # the scheduler acting on a deadline


class FieldKind(StrEnum):
    """The shape of one payload field."""

    TEXT = "text"
    DATE = "date"  # an ISO date, Asia/Shanghai calendar day
    JURISDICTION = "jurisdiction"  # a division code
    CHOICE = "choice"
    ITEMS = "items"  # a list of checklist item codes
    PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a trigger's payload."""

    name: str
    kind: FieldKind
    required: bool = True
    label_zh: str = ""
    label_en: str = ""
    choices: tuple[str, ...] = ()
    max_length: int = 2000


@dataclass(frozen=True, slots=True)
class Phase:
    """One of the five steps, a parent state in the machine."""

    name: str
    label_zh: str
    label_en: str
    children: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class State:
    """A state an issue can rest in, with its labels."""

    name: str
    label_zh: str
    label_en: str
    terminal: bool = False
    # 销号 done: fixed and signed off by both sides; a revisit (回头看) or the archive may follow.
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """One trigger from one or more sources to a destination.

    ``dest`` None means an internal transition: recorded, but the state stays.
    ``guards`` name checks the engine runs in order; ``effects`` name the
    bookkeeping it does on the issue row besides the state change.
    """

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    parties: frozenset[Party]
    fields: tuple[Field, ...] = ()
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger's labels (the same trigger may have several entries)."""

    name: str
    label_zh: str
    label_en: str


PHASES: tuple[Phase, ...] = (
    Phase("kan", "看", "map", ("flagged",)),
    Phase("xun", "巡", "patrol", ("reported",)),
    Phase("cha", "查", "investigate", ("investigating", "confirmed")),
    Phase(
        "ban",
        "办",
        "handle",
        ("handed_off", "accepted", "negotiating", "joint_meeting", "dispatched", "rectifying"),
    ),
    Phase("du", "督", "supervise", ("rectified", "verifying", "closed", "revisiting")),
)

STATES: tuple[State, ...] = (
    State(INITIAL, "新建", "new"),
    State("kan.flagged", "重点关注", "flagged"),
    State("xun.reported", "已发现上报", "reported"),
    State("cha.investigating", "核查中", "investigating"),
    State("cha.confirmed", "已核实", "confirmed"),
    State("ban.handed_off", "已交办待受理", "handed off"),
    State("ban.accepted", "已受理", "accepted"),
    State("ban.negotiating", "商办中", "negotiating"),
    State("ban.joint_meeting", "会办中", "joint meeting"),
    State("ban.dispatched", "河长调度", "dispatched"),
    State("ban.rectifying", "整改中", "rectifying"),
    State("du.rectified", "已整改待复核", "rectified"),
    State("du.verifying", "联合复核中", "verifying"),
    State("du.closed", "已销号", "closed", closed=True),
    State("du.revisiting", "回头看中", "revisiting", closed=True),
    State("archived", "已归档", "archived", terminal=True, closed=True),
    State("dismissed", "不予立案", "dismissed", terminal=True),
    # The same problem reported twice: merged into the first report, whose ledger records the link.
    State("duplicate", "重复上报已合并", "duplicate", terminal=True),
)

# 未办结 (open): neither closed (销号) nor ended without a closure (dismissed, merged as a duplicate).
OPEN_STATES = frozenset(s.name for s in STATES if not (s.closed or s.terminal))
CLOSED_STATES = frozenset(s.name for s in STATES if s.closed)
# Ended for good (archived, dismissed, merged as a duplicate): every other issue is live, on someone's list.
TERMINAL_STATES = frozenset(s.name for s in STATES if s.terminal)

TRIGGERS: tuple[Trigger, ...] = (
    Trigger("flag", "标注重点", "flag"),
    Trigger("report", "发现上报", "report"),
    Trigger("investigate", "开展核查", "investigate"),
    Trigger("confirm", "核实确认", "confirm"),
    Trigger("dismiss", "不予立案", "dismiss"),
    Trigger("hand_off", "问题交办", "hand off"),
    Trigger("accept", "受理", "accept"),
    Trigger("dispute", "提出异议", "dispute"),
    Trigger("negotiate", "难点商办", "negotiate"),
    Trigger("agree", "商办达成一致", "agree"),
    Trigger("convene", "召开联席会议", "convene joint meeting"),
    Trigger("resolve", "会办议定", "resolve"),
    Trigger("dispatch", "河长调度", "dispatch"),
    Trigger("start_rectify", "制定方案开始整改", "start rectification"),
    Trigger("progress", "报告整改进展", "report progress"),
    Trigger("report_done", "报告整改完成", "report done"),
    Trigger("request_verify", "申请复核验收", "request verification"),
    Trigger("pass_check", "复核签认", "sign the joint check"),
    Trigger("fail_check", "复核不通过", "fail the check"),
    Trigger("close", "销号", "close"),
    Trigger("start_revisit", "开始回头看", "start revisit"),
    Trigger("no_rebound", "回访未反弹", "no rebound"),
    Trigger("rebound", "回访发现反弹", "rebound"),
    Trigger("archive", "归档", "archive"),
    Trigger("file_report", "报告存档", "file a report"),
    Trigger("add_evidence", "上传佐证材料", "add evidence"),
    Trigger("reschedule", "重算办理时限", "recompute the deadline"),
    Trigger("mark_duplicate", "标记为重复问题", "mark as duplicate"),
    Trigger("duplicate_linked", "收到重复上报", "duplicate linked"),
)

_P = Party
_SIDES = frozenset({_P.REPORTING, _P.RECEIVING})
_SIDES_AND_COORD = _SIDES | {_P.COORDINATOR}

NOTE = Field("note", FieldKind.TEXT, required=False, label_zh="说明", label_en="Note")
REASON = Field("reason", FieldKind.TEXT, label_zh="理由", label_en="Reason")
PLAN = Field("plan", FieldKind.TEXT, label_zh="整改方案", label_en="Rectification plan")
DEADLINE = Field("deadline", FieldKind.DATE, label_zh="整改时限", label_en="Deadline")
FINDING = Field("finding", FieldKind.TEXT, label_zh="回访情况", label_en="What the revisit found")
MEETING_LEVELS = ("township", "district", "city", "province")
REPORT_KINDS = ("followup", "revisit", "minutes")
# The words for each choice a CHOICE field offers (its stored value is the code).
CHOICE_LABELS: dict[str, tuple[str, str]] = {
    "township": ("乡镇级", "township"),
    "district": ("区县级", "district"),
    "city": ("市级", "city"),
    "province": ("省级", "province"),
    "followup": ("问题跟踪报告", "issue follow-up report"),
    "revisit": ("回访报告", "revisit report"),
    "minutes": ("联席会议纪要", "joint meeting minutes"),
}
# The meeting record (联席会议) a convene or resolve step belongs to, when it was held as one.
MEETING = Field("meeting", FieldKind.TEXT, required=False, label_zh="会议编号", label_en="Meeting no.")
CONVENE_FIELDS = (
    Field("level", FieldKind.CHOICE, label_zh="会议层级", label_en="Meeting level", choices=MEETING_LEVELS),
    Field("agenda", FieldKind.TEXT, label_zh="议题", label_en="Agenda"),
    Field("meeting_date", FieldKind.DATE, required=False, label_zh="会议日期", label_en="Meeting date"),
    MEETING,
)

_ban_waiting = ("ban.handed_off", "ban.accepted", "ban.negotiating", "ban.joint_meeting")
# Where a report can still be merged into another: found, checked, handed off or accepted, but before
# negotiation, a meeting, dispatch or a plan gave it a record of its own that a merge would orphan. A
# flagged point is a watched place, not a report, so it is never a duplicate of one.
DUPLICATE_SOURCES = ("xun.reported", "cha.investigating", "cha.confirmed", "ban.handed_off", "ban.accepted")
DUPLICATE_FIELDS = (
    Field("of", FieldKind.TEXT, label_zh="原问题编号", label_en="Original issue no.", max_length=30),
    Field("reason", FieldKind.TEXT, label_zh="理由", label_en="Reason", max_length=500),
)

TRANSITIONS: tuple[Transition, ...] = (
    Transition("flag", (INITIAL,), "kan.flagged", frozenset({_P.MEMBER})),
    Transition("report", (INITIAL,), "xun.reported", frozenset({_P.MEMBER})),
    # A flagged point has no receiving side yet: its reporter or the compact moves it on.
    Transition("report", ("kan.flagged",), "xun.reported", frozenset({_P.REPORTING, _P.COORDINATOR}), (NOTE,)),
    Transition(
        "investigate", ("xun.reported",), "cha.investigating", frozenset({_P.REPORTING, _P.COORDINATOR}), (NOTE,)
    ),
    Transition(
        "confirm",
        ("cha.investigating",),
        "cha.confirmed",
        frozenset({_P.REPORTING, _P.COORDINATOR}),
        (Field("findings", FieldKind.TEXT, label_zh="核查结论", label_en="Findings"),),
    ),
    Transition(
        "dismiss",
        ("kan.flagged", "xun.reported", "cha.investigating", "cha.confirmed"),
        "dismissed",
        frozenset({_P.REPORTING, _P.COORDINATOR}),
        (REASON,),
    ),
    Transition(
        "hand_off",
        ("xun.reported", "cha.confirmed"),
        "ban.handed_off",
        frozenset({_P.REPORTING}),
        (Field("receiving", FieldKind.JURISDICTION, label_zh="接收方", label_en="Receiving side"), NOTE),
        guards=("receiving_is_other_side", "receiving_in_compact"),
        effects=("set_receiving",),
    ),
    Transition("accept", ("ban.handed_off",), "ban.accepted", frozenset({_P.RECEIVING}), (NOTE,)),
    Transition("dispute", ("ban.handed_off",), "ban.negotiating", frozenset({_P.RECEIVING}), (REASON,)),
    Transition("negotiate", ("ban.accepted",), "ban.negotiating", _SIDES, (REASON,)),
    Transition(
        "agree",
        ("ban.negotiating",),
        "ban.rectifying",
        _SIDES_AND_COORD,
        (Field("resolution", FieldKind.TEXT, label_zh="商办结果", label_en="What was agreed"), PLAN, DEADLINE),
        guards=("deadline_in_future",),
        effects=("set_plan",),
    ),
    Transition(
        "convene",
        # 卡点会办: a point blocked in negotiation, which either side may take to a joint meeting.
        ("ban.negotiating",),
        "ban.joint_meeting",
        _SIDES_AND_COORD | {_P.SYSTEM},
        CONVENE_FIELDS,
    ),
    Transition(
        "convene",
        # A hand-off or acceptance stuck past its deadline: the coordinators put it to a meeting.
        ("ban.handed_off", "ban.accepted", "ban.dispatched"),
        "ban.joint_meeting",
        frozenset({_P.COORDINATOR, _P.SYSTEM}),
        CONVENE_FIELDS,
    ),
    Transition(
        "resolve",
        ("ban.joint_meeting",),
        "ban.rectifying",
        frozenset({_P.COORDINATOR}),
        (
            Field("resolution", FieldKind.TEXT, label_zh="会议议定事项", label_en="The meeting's decision"),
            PLAN,
            DEADLINE,
            MEETING,
        ),
        guards=("deadline_in_future",),
        effects=("set_plan",),
    ),
    Transition(
        "dispatch",
        (*_ban_waiting, "ban.rectifying"),
        "ban.dispatched",
        frozenset({_P.COORDINATOR, _P.HIGHER_CHIEF, _P.SYSTEM}),
        (Field("order", FieldKind.TEXT, label_zh="调度要求", label_en="Order"),),
    ),
    Transition(
        "start_rectify",
        ("ban.accepted", "ban.dispatched"),
        "ban.rectifying",
        frozenset({_P.RECEIVING}),
        (PLAN, DEADLINE),
        guards=("deadline_in_future",),
        effects=("set_plan",),
    ),
    Transition(
        "progress",
        ("ban.rectifying",),
        None,
        frozenset({_P.RECEIVING}),
        (
            Field("note", FieldKind.TEXT, label_zh="进展情况", label_en="Progress"),
            Field("percent", FieldKind.PERCENT, required=False, label_zh="完成比例", label_en="Percent done"),
        ),
    ),
    Transition(
        "report_done",
        ("ban.rectifying",),
        "du.rectified",
        frozenset({_P.RECEIVING}),
        (Field("summary", FieldKind.TEXT, label_zh="整改情况", label_en="What was rectified"),),
    ),
    Transition(
        "request_verify",
        ("du.rectified",),
        "du.verifying",
        _SIDES_AND_COORD,
        (NOTE,),
        effects=("open_check_round",),
    ),
    Transition(
        "pass_check",
        ("du.verifying",),
        None,
        _SIDES,
        (Field("checklist", FieldKind.ITEMS, required=False, label_zh="核查清单", label_en="Checklist"), NOTE),
        guards=("side_not_signed", "checklist_items_known", "sign_off_completes_checklist"),
        effects=("sign_off",),
    ),
    Transition(
        "fail_check",
        ("du.verifying",),
        "ban.rectifying",
        _SIDES_AND_COORD,
        (REASON, DEADLINE),
        guards=("deadline_in_future",),
        effects=("set_deadline",),
    ),
    Transition(
        "close",
        ("du.verifying",),
        "du.closed",
        frozenset({_P.REPORTING, _P.COORDINATOR}),
        (NOTE,),
        guards=("both_sides_signed", "checklist_complete"),
        effects=("mark_closed",),
    ),
    Transition("start_revisit", ("du.closed",), "du.revisiting", frozenset({_P.AUDITOR, _P.SYSTEM}), (NOTE,)),
    Transition(
        "no_rebound",
        ("du.revisiting",),
        "du.closed",
        frozenset({_P.AUDITOR}),
        (FINDING,),
        effects=("record_clean_revisit",),
    ),
    Transition(
        "rebound",
        ("du.revisiting",),
        "ban.rectifying",
        frozenset({_P.AUDITOR}),
        (FINDING, Field("deadline", FieldKind.DATE, required=False, label_zh="整改时限", label_en="Deadline")),
        guards=("deadline_in_future",),
        effects=("record_rebound",),
    ),
    Transition(
        "archive",
        ("du.closed",),
        "archived",
        frozenset({_P.COORDINATOR, _P.AUDITOR, _P.SYSTEM}),
        (NOTE,),
        guards=("last_revisit_clean",),
        effects=("cancel_revisits",),
    ),
    # The same problem reported again (often by the other side, or twice on one patrol): the compact's
    # coordinator or the side that owns the report merges it into the first report, which goes on for both.
    # Before a hand-off the reporting side owns it (as it may dismiss it); once handed off, the receiving
    # side does (it may find it already has the problem), and the side that handed it over has let it go.
    Transition(
        "mark_duplicate",
        DUPLICATE_SOURCES[:3],
        "duplicate",
        frozenset({_P.REPORTING, _P.COORDINATOR}),
        DUPLICATE_FIELDS,
        guards=("original_open",),
        effects=("link_duplicate",),
    ),
    Transition(
        "mark_duplicate",
        DUPLICATE_SOURCES[3:],
        "duplicate",
        frozenset({_P.RECEIVING, _P.COORDINATOR}),
        DUPLICATE_FIELDS,
        guards=("original_open",),
        effects=("link_duplicate",),
    ),
    # The original's side of a merge, recorded by the service in the same transaction as the duplicate's
    # ``mark_duplicate``, so both ledgers name each other. Whoever merged may not be a side of the
    # original (it may have been found by the other side), so any member or coordinator of the compact
    # records it; the guard refuses it unless the duplicate points here.
    Transition(
        "duplicate_linked",
        tuple(s.name for s in STATES if s.name != INITIAL and not s.terminal),
        None,
        _SIDES_AND_COORD | {_P.MEMBER},
        (
            Field("duplicate", FieldKind.TEXT, label_zh="重复上报", label_en="Duplicate report", max_length=30),
            Field("reason", FieldKind.TEXT, label_zh="理由", label_en="Reason", max_length=500),
        ),
        guards=("duplicate_points_here",),
    ),
    # A photo or document of the problem or its rectification: stored by SHA-256, recorded in the ledger.
    Transition(
        "add_evidence",
        tuple(s.name for s in STATES if s.name != INITIAL and not s.terminal),
        None,
        frozenset({_P.REPORTING, _P.RECEIVING, _P.COORDINATOR, _P.AUDITOR}),
        (
            Field("sha256", FieldKind.TEXT, label_zh="SHA-256", label_en="SHA-256", max_length=64),
            Field("filename", FieldKind.TEXT, label_zh="文件名", label_en="File name", max_length=200),
            Field("caption", FieldKind.TEXT, required=False, label_zh="说明", label_en="Caption", max_length=300),
        ),
        guards=("evidence_on_file",),
    ),
    # A generated report's SHA-256 enters the ledger; the state stays, even when terminal.
    Transition(
        "file_report",
        tuple(s.name for s in STATES if s.name != INITIAL),
        None,
        frozenset({_P.SYSTEM, _P.COORDINATOR, _P.REPORTING, _P.RECEIVING, _P.AUDITOR}),
        (
            Field("kind", FieldKind.CHOICE, label_zh="报告类型", label_en="Report kind", choices=REPORT_KINDS),
            Field("sha256", FieldKind.TEXT, label_zh="SHA-256", label_en="SHA-256", max_length=64),
            Field("file", FieldKind.TEXT, label_zh="文件", label_en="File", max_length=300),
        ),
        guards=("report_on_file",),
    ),
    # The working-day calendar learnt a year it did not know (or an override changed): the waiting state's deadline
    # is counted again from when the wait began. Fired by the scheduler only; the state stays.
    Transition(
        "reschedule",
        tuple(DEADLINES),
        None,
        frozenset({_P.SYSTEM}),
        (Field("reason", FieldKind.TEXT, label_zh="调整原因", label_en="Why", max_length=300),),
        effects=("recompute_due",),
    ),
)

# Steps recorded by riverchief's own services together with what they record (a filed report, a stored
# file, a duplicate merged into the issue); guards refuse them without it, so they are never offered as
# something to fire by hand.
SERVICE_TRIGGERS = frozenset({"file_report", "add_evidence", "duplicate_linked"})

PARTY_LABELS: dict[Party, str] = {
    Party.MEMBER: "成员单位河长/河长办",
    Party.REPORTING: "交办方",
    Party.RECEIVING: "接收方",
    Party.COORDINATOR: "联席会议协调人",
    Party.HIGHER_CHIEF: "上级河长",
    Party.AUDITOR: "第三方回访机构",
    Party.SYSTEM: "系统",
}
PARTY_LABELS_EN: dict[Party, str] = {
    Party.MEMBER: "member chief or office",
    Party.REPORTING: "reporting side",
    Party.RECEIVING: "receiving side",
    Party.COORDINATOR: "joint meeting coordinator",
    Party.HIGHER_CHIEF: "higher-level chief",
    Party.AUDITOR: "third-party auditor",
    Party.SYSTEM: "system",
}


@dataclass(frozen=True, slots=True)
class Chart:
    """Lookups over the statechart data, built once."""

    phases: tuple[Phase, ...] = PHASES
    states: tuple[State, ...] = STATES
    triggers: tuple[Trigger, ...] = TRIGGERS
    transitions: tuple[Transition, ...] = TRANSITIONS
    _by_state: dict[str, State] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_state.update({s.name: s for s in self.states})

    def state(self, name: str) -> State:
        """The state named ``name``."""
        return self._by_state[name]

    def trigger_names(self) -> list[str]:
        """Every trigger, in chart order."""
        return [t.name for t in self.triggers]

    def trigger_label(self, name: str, *, en: bool = False) -> str:
        """The Chinese (or English) label of a trigger."""
        found = next(t for t in self.triggers if t.name == name)
        return found.label_en if en else found.label_zh

    def field_labels(self, trigger: str, *, en: bool = False) -> dict[str, str]:
        """A trigger's payload fields and their Chinese (or English) labels, in declaration order."""
        labels: dict[str, str] = {}
        for t in self.transitions:
            if t.trigger == trigger:
                labels.update({f.name: f.label_en if en else f.label_zh for f in t.fields})
        return labels

    def field_kinds(self, trigger: str) -> dict[str, FieldKind]:
        """A trigger's payload fields and their kinds, so a page can say a stored value in words."""
        return {f.name: f.kind for t in self.transitions if t.trigger == trigger for f in t.fields}


CHART = Chart()


def phase_of(state: str) -> str | None:
    """The phase (parent state) a state belongs to, or None for top-level states."""
    head, sep, _ = state.partition(SEPARATOR)
    return head if sep else None
