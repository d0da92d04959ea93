"""Deadlines, categories and closure checklists, case kinds: the policy beside the chart.

Plain data. A waiting state gets a ``due_at`` this many working days after
it is entered, unless the trigger that entered it carries its own deadline
(a rectification plan names its date).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Deadline:
    """How long a waiting state may last, and whom it waits on."""

    working_days: int
    waits_on: str  # a Party value, for the "who is overdue" lists
    label_zh: str


# The defaults: accept within 3 working days of hand-off, negotiate
# within 10, a joint meeting within 15, verify within 5 after rectified.
# The others keep a problem from resting unwatched in any waiting state.
DEADLINES: MappingProxyType[str, Deadline] = MappingProxyType(
    {
        "xun.reported": Deadline(2, "reporting", "发现后交办或核查"),
        "cha.investigating": Deadline(10, "reporting", "完成核查"),
        "cha.confirmed": Deadline(2, "reporting", "核实后交办"),
        "ban.handed_off": Deadline(3, "receiving", "受理交办问题"),
        "ban.accepted": Deadline(5, "receiving", "制定整改方案"),
        "ban.negotiating": Deadline(10, "receiving", "商办达成一致"),
        "ban.joint_meeting": Deadline(15, "coordinator", "召开联席会议并议定"),
        "ban.dispatched": Deadline(5, "receiving", "落实调度要求制定方案"),
        "du.rectified": Deadline(5, "reporting", "组织复核验收"),
        "du.verifying": Deadline(5, "reporting", "完成联合复核"),
        "du.revisiting": Deadline(10, "auditor", "完成回头看"),
    }
)

# States whose deadline comes from the payload's ``deadline`` (the plan's date).
PLANNED_STATES = frozenset({"ban.rectifying"})

# Used when a rebound reopens rectification without a date of its own.
REBOUND_RECTIFY_WORKING_DAYS = 15


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of problem, with the items a closure must confirm."""

    code: str
    label_zh: str
    label_en: str
    checklist: tuple[tuple[str, str], ...]  # (item code, Chinese label)


_COMMON = (("photos", "整改前后影像资料齐全"), ("site_check", "现场复核确认"))

# Each checklist item's English label, by code (an item code means the same in every category).
CHECKLIST_EN: MappingProxyType[str, str] = MappingProxyType(
    {
        "photos": "Photos from before and after the rectification are complete",
        "site_check": "Confirmed on site",
        "outfall_closed": "The outfall is sealed or brought into order",
        "manure_handled": "The manure is collected and treated",
        "no_discharge": "Nothing is discharged straight into the river",
        "permit_checked": "The discharge permit is checked",
        "water_sampled": "The water is sampled and within its standard",
        "equipment_removed": "The sand-mining equipment is removed",
        "gear_removed": "The fishing gear is removed",
        "waste_cleared": "The waste is cleared away",
        "shore_restored": "The shoreline is restored",
    }
)

CATEGORIES: MappingProxyType[str, Category] = MappingProxyType(
    {
        c.code: c
        for c in (
            Category(
                "domestic_sewage",
                "生活污染",
                "domestic sewage",
                (*_COMMON, ("outfall_closed", "排污口已封堵或规范整治")),
            ),
            Category(
                "livestock",
                "禽畜养殖污染",
                "livestock waste",
                (*_COMMON, ("manure_handled", "粪污已收集处理"), ("no_discharge", "无直排入河")),
            ),
            Category(
                "industrial_discharge",
                "工业排污",
                "industrial discharge",
                (*_COMMON, ("permit_checked", "排污许可已核查"), ("water_sampled", "水质已取样达标")),
            ),
            Category(
                "sand_mining", "非法采砂", "illegal sand mining", (*_COMMON, ("equipment_removed", "采砂设备已清除"))
            ),
            Category("illegal_fishing", "非法捕捞", "illegal fishing", (*_COMMON, ("gear_removed", "网具已清除"))),
            Category("solid_waste", "垃圾堆放", "solid waste", (*_COMMON, ("waste_cleared", "垃圾已清运"))),
            Category("shoreline", "岸线侵占", "shoreline encroachment", (*_COMMON, ("shore_restored", "岸线已恢复"))),
            Category("other", "其他", "other", _COMMON),
        )
    }
)

# A report made offline says when the problem was seen (observed_at): a phone's clock may run this many
# minutes fast, and a draft older than this many days is refused rather than filed as news.
OBSERVED_SKEW_MINUTES = 5
OBSERVED_MAX_AGE_DAYS = 30

# An ``Idempotency-Key`` and the answer it replays are kept this long (longer than a draft may wait),
# then pruned by the daily job.
IDEMPOTENCY_KEEP_DAYS = 30

DIFFICULTIES: MappingProxyType[str, str] = MappingProxyType({"easy": "易", "normal": "一般", "hard": "难"})


@dataclass(frozen=True, slots=True)
class CaseKind:
    """A kind of joint enforcement case (联合执法): what the parties' team acts against."""

    code: str
    label_zh: str
    label_en: str


# 从严、从重、从快查处交界水域、共有河段内的非法采砂、非法捕捞、非法排污等行为.
CASE_KINDS: MappingProxyType[str, CaseKind] = MappingProxyType(
    {
        k.code: k
        for k in (
            CaseKind("sand_mining", "非法采砂", "illegal sand mining"),
            CaseKind("fishing", "非法捕捞", "illegal fishing"),
            CaseKind("discharge", "非法排污", "illegal discharge"),
            CaseKind("other", "其他涉河涉水违法", "other offence on the river"),
        )
    }
)


@dataclass(frozen=True, slots=True)
class Escalation:
    """What the scheduler does, as the actor ``system``, when a waiting state's deadline passes."""

    trigger: str
    payload: MappingProxyType[str, str]


# The ladder 交办 → 商办 → 会办 → 河长调度: a missed step moves the issue up.
# States not listed here are only reminded and named in the monthly bulletin.
ESCALATIONS: MappingProxyType[str, Escalation] = MappingProxyType(
    {
        "ban.handed_off": Escalation(
            "dispatch", MappingProxyType({"order": "交办问题逾期未受理，提请联席会议河长调度"})
        ),
        "ban.negotiating": Escalation(
            "convene",
            MappingProxyType({"level": "district", "agenda": "商办逾期未达成一致，提交联席会议会办"}),
        ),
        "ban.joint_meeting": Escalation(
            "dispatch", MappingProxyType({"order": "会办逾期未形成议定事项，提请河长调度"})
        ),
        "ban.rectifying": Escalation("dispatch", MappingProxyType({"order": "整改逾期未完成，列入月通报并河长调度"})),
    }
)

# Reminders before a deadline: one working day before it, and when 80% of
# the time allowed has gone (whichever come before the deadline, each once).
REMIND_WORKING_DAYS_BEFORE = 1
REMIND_AT_FRACTION = 0.8

# Third-party revisits (回头看) after each closure, in days; per category where it differs.
REVISIT_OFFSETS_DAYS: tuple[int, ...] = (30, 90)
REVISIT_OFFSETS_BY_CATEGORY: MappingProxyType[str, tuple[int, ...]] = MappingProxyType(
    {"sand_mining": (15, 60, 180), "illegal_fishing": (15, 60, 180)}
)
# A planned revisit not done this many working days after it fell due is reminded.
REVISIT_REMIND_WORKING_DAYS = 10


def revisit_offsets(category: str) -> tuple[int, ...]:
    """The days after closure at which a category's issues are revisited."""
    return REVISIT_OFFSETS_BY_CATEGORY.get(category, REVISIT_OFFSETS_DAYS)


# 按照问题整改难易程度 ... 展开不同层级联席会议: the level a joint meeting should be held at, from its agenda.
# The hardest issue sets the level; an agenda whose parties lie in more than one province goes one level
# higher, since only that level can bind both. A meeting that decides nothing only reviews progress.
MEETING_LEVEL_ORDER: tuple[str, ...] = ("township", "district", "city", "province")
MEETING_LEVEL_BY_DIFFICULTY: MappingProxyType[str, str] = MappingProxyType(
    {"easy": "township", "normal": "district", "hard": "city"}
)
REVIEW_MEETING_LEVEL = "district"


def suggested_meeting_level(difficulties: tuple[str, ...], provinces: int) -> str:
    """The level a meeting on issues of these difficulties, spanning this many provinces, should be held at."""
    if not difficulties:
        return REVIEW_MEETING_LEVEL
    ranks = [MEETING_LEVEL_ORDER.index(MEETING_LEVEL_BY_DIFFICULTY.get(d, "district")) for d in difficulties]
    rank = max(ranks) + (1 if provinces > 1 else 0)
    return MEETING_LEVEL_ORDER[min(rank, len(MEETING_LEVEL_ORDER) - 1)]


# An action item is reminded this many working days before its due day, and a meeting the day before it.
ACTION_REMIND_WORKING_DAYS = 2
MEETING_REMIND_HOURS = 24

# Possible duplicates (重复上报): an open problem of the same category this close to a new report and
# reported this recently is offered first on the report form, and as the original when marking one. Half a
# kilometre is the stretch of bank a chief walks from one outfall or dump to the next on patrol; ninety days
# is the window the Open311 list also takes by default (a problem older than a quarter is on the monthly
# bulletins by name, and a new report there is news to the parties).
DUPLICATE_RADIUS_M = 500.0
DUPLICATE_DAYS = 90
DUPLICATE_MAX = 10  # candidates offered at most, nearest first
