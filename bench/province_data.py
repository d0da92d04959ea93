"""A province of river chiefs, made up deterministically from a seed and written with PostgreSQL COPY.

At ``scale`` 1.0: 重庆市 with 40 districts, 1,000 townships and 8,000 villages; about 17,000 chiefs; 5,000
rivers with 20,000 segments whose lines have a vertex every 60 m or so; 30 compacts across the borders with
四川省 and 贵州省 (each one district of either side) and, for the districts left over, compacts of two
neighbouring districts; a year of about 850,000 patrols with their GPS tracks (a position a minute);
and ten years of issues growing to 60,000 in the last year (5,000 of them between the provinces), each
with its ledger chained exactly as ``workflow.core.services`` chains it (``event_hash`` over the
payload ``validate`` normalises), about 5 million events in all.

A smaller scale keeps fewer districts (``round(40 * scale)``, at least two) but the same size of each:
a district, a compact, a chief's month look as they do in the whole province, and what grows with the
province (the ledger, the patrols, every chief) grows with the scale.

Events and patrols are written in time order (sorted by month through temporary files), as a year of
real use would lay them out on disk, not one issue's or one chief's rows together.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from states.machine import TABLE
from workflow.core.clock import SHANGHAI
from workflow.core.drawing import DRAWN_COLUMNS, drawn_columns, segment_line
from workflow.core.ledger import GENESIS, event_hash
from workflow.core.models import line_box
from workflow.core.payload import validate

# The moment the data set stands at: the end of November's last day has passed.
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
FIRST_YEAR = 2017
YEAR_START = datetime(NOW.year, 1, 1, tzinfo=SHANGHAI)
PATROL_FROM = datetime(2025, 12, 1, tzinfo=SHANGHAI)
DISTRICTS, TOWNSHIPS, VILLAGES = 40, 25, 8  # districts in the province; townships a district; villages a township
BORDER_COMPACTS = 30
ISSUES_PER_DISTRICT_YEAR = 1500  # 60,000 a year over 40 districts, in the last year
CROSS_BORDER_PER_COMPACT_YEAR = 167  # 5,000 a year over 30 border compacts, in the last year
RIVERS_PER_DISTRICT, SEGMENTS_PER_RIVER = 125, 4
NEIGHBOUR_TOWNSHIPS, NEIGHBOUR_VILLAGES = 10, 4
CATEGORIES = ("domestic_sewage", "livestock", "industrial", "sand_mining", "garbage", "fishing")
CHECKLIST = ["photos", "site_check"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "明华建国志强海燕德胜文斌立平小兰永康光辉晓雯佳琪慧敏清源玉红春梅秀英桂芳金凤长江山林家兴"
PLACE = "龙凤安太平清溪石桥河坝白马云峰青杨柳新华金沙双江中和兴隆永乐长宁高峰万福"
TITLES = ("排污口直排", "养殖废水入河", "岸线垃圾堆放", "非法采砂", "漂浮物聚集", "工业废水", "违规捕捞")


def scaled_districts(scale: float) -> int:
    """Districts kept at ``scale``: every other count follows from them."""
    return max(2, round(DISTRICTS * scale))


def density(scale: float) -> float:
    """How full each district is: 1 down to two districts (scale 0.05), less below, for tests."""
    return min(1.0, scale * DISTRICTS / 2)


def effective_scale(scale: float) -> float:
    """The share of the province the data set holds: its districts times their density, over 40."""
    return scaled_districts(scale) * density(scale) / DISTRICTS


def _dense(count: int, scale: float, least: int = 2) -> int:
    return max(least, round(count * density(scale)))


def _name(rng: random.Random, suffix: str) -> str:
    return rng.choice(PLACE) + rng.choice(PLACE) + suffix


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def _year_weight(year: int) -> float:
    """Issues in ``year`` relative to the last year's: the practice grew from 40% in 2017."""
    return 0.4 + 0.6 * (year - FIRST_YEAR) / (NOW.year - FIRST_YEAR)


# -- the tree, people, compacts, rivers -----------------------------------------------------------


@dataclass(slots=True)
class Place:
    """A jurisdiction as the generator keeps it."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    path: str
    chiefs: list[int] = field(default_factory=list)  # person ids
    segments: list[int] = field(default_factory=list)  # segment ids within it (own or below)


@dataclass(slots=True)
class Chief:
    """A chief: who, where, how often they patrol, which segments."""

    id: int
    code: str
    level: str
    place: Place
    diligence: float


@dataclass(slots=True)
class CompactPlan:
    """A compact: its members' districts (ours, theirs) and its staff."""

    id: int
    code: str
    ours: Place
    theirs: Place  # a neighbour province's district, or a second district of ours
    border: bool
    coordinator: tuple[int, str] = (0, "")
    auditor: tuple[int, str] = (0, "")


@dataclass
class Province:
    """Everything the generator made before the issues and patrols, kept in memory."""

    scale: float
    seed: int
    places: list[Place] = field(default_factory=list)
    people: list[tuple[Any, ...]] = field(default_factory=list)
    chiefs: list[Chief] = field(default_factory=list)
    compacts: list[CompactPlan] = field(default_factory=list)
    rivers: list[tuple[Any, ...]] = field(default_factory=list)
    segments: list[list[Any]] = field(default_factory=list)
    starts: dict[int, tuple[float, float]] = field(default_factory=dict)  # segment id -> its first vertex
    districts: list[Place] = field(default_factory=list)  # ours
    townships: dict[int, list[Place]] = field(default_factory=dict)  # district id -> its townships
    township_chief: dict[int, tuple[int, str]] = field(default_factory=dict)  # township id -> (id, code)

    def add_place(self, code: str, name: str, level: str, parent: Place | None) -> Place:
        """A new jurisdiction under ``parent``."""
        place = Place(len(self.places) + 1, code, name, level, parent.id if parent else None, "")
        place.path = (parent.path if parent else "/") + code + "/"
        self.places.append(place)
        return place

    def add_person(self, rng: random.Random, code: str, role: str, place: Place | None, title: str) -> int:
        """A new person; returns the id."""
        pid = len(self.people) + 1
        organisation = None if place is not None else "流域联席会议办公室"
        self.people.append(
            (pid, code, _person_name(rng), role, place.id if place else None, organisation, title, None, None)
        )
        return pid


def _chiefs_of(rng: random.Random, province: Province, place: Place, count: int) -> None:
    level = place.level
    for n in range(count):
        code = f"c{place.code}-{n + 1}"
        pid = province.add_person(rng, code, "chief", place, f"{place.name}{'级' if level != 'village' else ''}河长")
        place.chiefs.append(pid)
        diligence = 0.97 if rng.random() < 0.75 else rng.uniform(0.45, 0.9)
        province.chiefs.append(Chief(pid, code, level, place, diligence))


def _district(rng: random.Random, province: Province, parent: Place, code: str, towns: int, villages: int) -> Place:
    """A district with its townships and villages, its chiefs and offices."""
    district = province.add_place(code, _name(rng, "区"), "district", parent)
    ours = parent.code == "500000"
    _chiefs_of(rng, province, district, 4 if ours else 1)
    province.add_person(rng, f"o{code}", "office", district, f"{district.name}河长办")
    townships = []
    for t in range(towns):
        township = province.add_place(f"{code}{t + 101:03d}", _name(rng, "镇"), "township", district)
        townships.append(township)
        _chiefs_of(rng, province, township, 2 if ours else 1)
        province.township_chief[township.id] = (township.chiefs[0], f"c{township.code}-1")
        if ours:
            province.add_person(rng, f"o{township.code}", "office", township, f"{township.name}河长办")
        for v in range(villages):
            village = province.add_place(f"{township.code}{v + 201:03d}", _name(rng, "村"), "village", township)
            _chiefs_of(rng, province, village, (2 if rng.random() < 0.85 else 1) if ours else 1)
    province.townships[district.id] = townships
    return district


def _centre(index: int, side: str) -> tuple[float, float]:
    """Where a district lies: ours on a grid over 重庆, neighbours west (四川) or south (贵州) of it."""
    if side == "sc":
        return 104.6 + (index % 3) * 0.2, 29.0 + (index // 3) * 0.3
    if side == "gz":
        return 106.0 + (index % 6) * 0.5, 27.7 + (index // 6) * 0.15
    return 105.6 + (index % 8) * 0.55, 28.6 + (index // 8) * 0.7


def _line(rng: random.Random, lon: float, lat: float, km: float) -> list[list[float]]:
    """A river line of about ``km`` from (lon, lat), a vertex every 60 m or so, meandering."""
    points = max(8, int(km * 1000 / 60))
    heading = rng.uniform(0, 2 * math.pi)
    step = 0.06 / 111.0
    line = []
    for _ in range(points):
        line.append([round(lon, 6), round(lat, 6)])
        heading += rng.uniform(-0.35, 0.35)
        lon += step * math.cos(heading) / math.cos(math.radians(lat))
        lat += step * math.sin(heading)
    return line


def _river(
    rng: random.Random, province: Province, code: str, places: Sequence[Place], centre: tuple[float, float]
) -> list[int]:
    """A river of one segment per place, in order downstream; returns the segment ids."""
    rid = len(province.rivers) + 1
    province.rivers.append((rid, code, _name(rng, "河")))
    lon, lat = centre[0] + rng.uniform(-0.2, 0.2), centre[1] + rng.uniform(-0.2, 0.2)
    made = []
    for n, place in enumerate(places):
        sid = len(province.segments) + 1
        km = round(rng.uniform(2.0, 9.0), 1)
        line = _line(rng, lon, lat, km)
        lon, lat = line[-1]
        chief = place.chiefs[0] if place.chiefs else None
        box = line_box(line)  # written with the line, as the app writes it, and so is what a map draws of it
        corners = [box["min_lon"], box["min_lat"], box["max_lon"], box["max_lat"]]
        drawn = drawn_columns(segment_line(line))
        province.segments.append(
            [
                sid,
                f"{code}-{n + 1}",
                f"{place.name}段",
                rid,
                place.id,
                chief,
                None,
                None,
                km,
                json.dumps(line),
                *corners,
                *(json.dumps(drawn[column]) for column in DRAWN_COLUMNS),
            ]
        )
        province.starts[sid] = (line[0][0], line[0][1])
        place.segments.append(sid)
        made.append(sid)
    return made


def _pair(province: Province, upstream: int, downstream: int) -> None:
    """Two boundary segments facing each other across a border."""
    province.segments[upstream - 1][6:8] = [downstream, "upstream"]
    province.segments[downstream - 1][6:8] = [upstream, "downstream"]


def build(scale: float, seed: int) -> Province:
    """The jurisdiction tree, people, compacts, rivers and segments at ``scale``."""
    rng = random.Random(seed)
    province = Province(scale, seed)
    cq = province.add_place("500000", "重庆市", "province", None)
    sc = province.add_place("510000", "四川省", "province", None)
    gz = province.add_place("520000", "贵州省", "province", None)
    districts = scaled_districts(scale)
    border = min(districts, max(1, round(BORDER_COMPACTS * scale)))
    province.districts = [
        _district(rng, province, cq, f"5001{d + 1:02d}", _dense(TOWNSHIPS, scale), VILLAGES) for d in range(districts)
    ]
    province.add_person(rng, "province-office", "office", cq, "重庆市河长办")
    province.add_person(rng, "admin", "admin", cq, "系统管理员")
    for k in range(border):
        side, top, index = ("gz", gz, k // 3) if k % 3 == 2 else ("sc", sc, k - k // 3)
        city = province.add_place(f"{top.code[:2]}{k + 1:02d}00", _name(rng, "市"), "city", top)
        theirs = _district(
            rng, province, city, f"{city.code[:4]}21", _dense(NEIGHBOUR_TOWNSHIPS, scale), NEIGHBOUR_VILLAGES
        )
        province.compacts.append(CompactPlan(k + 1, f"B{k + 1:02d}", province.districts[k], theirs, True))
        for r in range(10):  # rivers that cross the border, a pair of boundary segments each
            ours_t = rng.choice(province.townships[province.districts[k].id])
            theirs_t = rng.choice(province.townships[theirs.id])
            up, down = _river(rng, province, f"x{k + 1:02d}{r:02d}", (theirs_t, ours_t), _centre(index, side))
            _pair(province, up, down)
    for d in range(border, districts):
        ours, other = province.districts[d], province.districts[d - 1]
        province.compacts.append(CompactPlan(len(province.compacts) + 1, f"N{d + 1:02d}", ours, other, False))
    for c in province.compacts:
        coordinator = province.add_person(rng, f"coord-{c.code}", "coordinator", None, "联席会议协调人")
        c.coordinator = (coordinator, f"coord-{c.code}")
        c.auditor = (province.add_person(rng, f"audit-{c.code}", "auditor", None, "回访专员"), f"audit-{c.code}")
    for d, district in enumerate(province.districts):
        villages = [p for p in province.places if p.level == "village" and p.path.startswith(district.path)]
        for r in range(_dense(RIVERS_PER_DISTRICT, scale)):
            start = (r * SEGMENTS_PER_RIVER) % len(villages)
            course = [villages[(start + n) % len(villages)] for n in range(SEGMENTS_PER_RIVER)]
            _river(rng, province, f"r{district.code}{r:03d}", course, _centre(d, "cq"))
    by_id = {p.id: p for p in province.places}
    for place in sorted(province.places, key=lambda p: -len(p.path)):  # segments roll up the tree
        if place.parent_id is not None:
            by_id[place.parent_id].segments.extend(place.segments)
    return province


# -- writing ----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _line_of(values: Iterable[Any]) -> str:
    return "\t".join(_text(v) for v in values) + "\n"


def copy_rows(raw: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` into ``table``; returns how many."""
    count = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        chunk: list[str] = []
        for row in rows:
            chunk.append(_line_of(row))
            count += 1
            if len(chunk) >= 2000:
                copy.write("".join(chunk).encode())
                chunk = []
        if chunk:
            copy.write("".join(chunk).encode())
    return count


class MonthFiles:
    """Rows spilled to one temporary file per month, read back month by month sorted by their time."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        self.files: dict[str, IO[str]] = {}

    def add(self, at: datetime, values: Sequence[Any]) -> None:
        """Keep one row, to be written in ``at``'s order."""
        utc = at.astimezone(UTC)
        month = utc.strftime("%Y%m")
        handle = self.files.get(month)
        if handle is None:
            handle = self.files[month] = (self.folder / f"{self.name}-{month}.tsv").open("w", encoding="utf-8")
        handle.write(utc.isoformat() + "\x01" + _line_of(values))

    def lines(self) -> Iterator[bytes]:
        """Every row as a COPY line, month by month, in time order within the month."""
        for month in sorted(self.files):
            self.files[month].close()
            path = self.folder / f"{self.name}-{month}.tsv"
            rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
            rows.sort()
            yield "".join(r.split("\x01", 1)[1] for r in rows).encode()
            path.unlink()


def copy_lines(raw: Any, table: str, columns: Sequence[str], chunks: Iterable[bytes]) -> None:
    """COPY pre-formatted lines into ``table``."""
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for chunk in chunks:
            copy.write(chunk)


# -- issues and their ledger --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hand:
    """Who fires a step: (person id, code, parties as the ledger writes them)."""

    id: int
    code: str
    parties: str


def _payloads() -> dict[str, dict[str, Any]]:
    """One payload per trigger, as a person would send it (deadlines are filled in per issue)."""
    return {
        "report": {"note": "巡河发现"},
        "investigate": {"note": "组织现场核查"},
        "dismiss": {"reason": "经核查不属实"},
        "mark_duplicate": {"reason": "与已上报问题重复"},
        "hand_off": {"note": "请对岸协同处置"},
        "accept": {"note": "已接收"},
        "dispute": {"reason": "问题位置不在我方辖区"},
        "agree": {"resolution": "双方现场会商确认", "plan": "由我方牵头整治"},
        "start_rectify": {"plan": "限期封堵并清理"},
        "progress": {"note": "整改过半", "percent": 50},
        "report_done": {"summary": "已完成整改"},
        "request_verify": {"note": "请求联合复核"},
        "fail_check": {"reason": "复核发现仍有渗漏"},
        "pass_check": {"checklist": CHECKLIST, "note": "复核通过"},
        "close": {"note": "双方签字确认销号"},
        "start_revisit": {"note": "第三方回头看"},
        "no_rebound": {"finding": "未反弹"},
        "rebound": {"finding": "问题反弹"},
        "archive": {"note": "归档"},
    }


PAYLOADS = _payloads()
# The main path after the report, with the days each step waits on the one before (low, high).
DELAYS = {
    "investigate": (0.5, 3),
    "dismiss": (2, 10),
    "mark_duplicate": (0.5, 4),
    "hand_off": (0.5, 3),
    "accept": (0.5, 5),
    "dispute": (0.5, 4),
    "agree": (3, 12),
    "start_rectify": (1, 5),
    "progress": (3, 10),
    "report_done": (5, 25),
    "request_verify": (1, 4),
    "fail_check": (2, 7),
    "pass_check": (1, 6),
    "close": (0.2, 2),
    "start_revisit": (30, 40),
    "no_rebound": (1, 5),
    "rebound": (1, 5),
    "archive": (50, 70),
}
# Days a waiting state gives its party, from the step that entered it.
WAITS = {
    "xun.reported": 5,
    "cha.investigating": 10,
    "ban.handed_off": 5,
    "ban.accepted": 5,
    "ban.negotiating": 10,
    "du.rectified": 5,
    "du.verifying": 10,
    "du.revisiting": 15,
}


def _path(rng: random.Random) -> list[str]:
    """The triggers one issue will go through, if time lets it, after its report."""
    roll = rng.random()
    if roll < 0.10:
        return ["investigate", "dismiss"]
    if roll < 0.14:
        return ["mark_duplicate"]
    head = ["hand_off", "dispute", "agree"] if roll < 0.22 else ["hand_off", "accept", "start_rectify"]
    fix = ["progress", "report_done", "request_verify"]
    checks = (["fail_check", "report_done", "request_verify"] if rng.random() < 0.10 else []) + [
        "pass_check",
        "pass_check",
        "close",
        "start_revisit",
    ]
    tail = ["no_rebound", "archive"]
    if rng.random() < 0.05:
        tail = ["rebound", "report_done", "request_verify", "pass_check", "pass_check", "close", "start_revisit", *tail]
    return head + fix + checks + tail


@dataclass(slots=True)
class Sides:
    """An issue's compact, its two sides and who acts for them."""

    compact: CompactPlan
    reporting: Place
    receiving: Place
    reporter: Hand
    receiver: Hand


class Ledger:
    """Issue rows and their hash-chained events, made one issue at a time."""

    def __init__(self, province: Province, events: MonthFiles) -> None:
        self.province = province
        self.events = events
        self.issues: list[tuple[Any, ...]] = []
        self.counters: dict[tuple[int, int], int] = {}
        self.event_count = 0
        self.last_code: dict[int, tuple[int, str]] = {}  # compact id -> an earlier issue, for duplicates

    def issue(self, rng: random.Random, sides: Sides, created: datetime) -> None:
        """One issue reported at ``created``, stepped along its path until its next step would pass NOW."""
        compact = sides.compact
        year = created.astimezone(SHANGHAI).year
        number = self.counters.get((compact.id, year), 0) + 1
        self.counters[(compact.id, year)] = number
        issue_id = len(self.issues) + 1
        code = f"{compact.code}-{year}-{number:04d}"
        category = rng.choice(CATEGORIES)
        segment = rng.choice(sides.reporting.segments) if sides.reporting.segments else None
        lon, lat = self.province.starts.get(segment, (None, None)) if segment else (None, None)
        title = sides.reporting.name + rng.choice(TITLES)
        row: dict[str, Any] = {
            "compact_id": compact.id,  # written on each of its events, as apply writes it
            "state": "new",
            "version": 0,
            "head": GENESIS,
            "due_at": None,
            "waiting_since": None,
            "receiving_id": None,
            "plan": None,
            "deadline": None,
            "check_round": 0,
            "rebounds": 0,
            "revisits": 0,
            "clean": None,
            "closed_at": None,
            "duplicate_of": None,
            "passes": 0,
            "updated_at": created,
        }
        coordinator = Hand(compact.coordinator[0], compact.coordinator[1], "coordinator")
        auditor = Hand(compact.auditor[0], compact.auditor[1], "auditor")
        snapshot = {
            "title": title,
            "description": "",
            "category": category,
            "difficulty": rng.choice(("easy", "normal", "normal", "hard")),
            "place": "",
            "lon": lon,
            "lat": lat,
            "segment": self.province.segments[segment - 1][1] if segment else None,
        }
        at = created
        self._step(row, issue_id, code, "report", sides.reporter, snapshot, at)
        for trigger in _path(rng):
            low, high = DELAYS[trigger]
            at = at + timedelta(days=rng.uniform(low, high))
            if at >= NOW:
                break
            hand = {
                "investigate": sides.reporter,
                "dismiss": sides.reporter,
                "mark_duplicate": sides.reporter,
                "hand_off": sides.reporter,
                "request_verify": sides.reporter,
                "close": sides.reporter,
                "fail_check": sides.reporter,
                "start_revisit": auditor,
                "no_rebound": auditor,
                "rebound": auditor,
                "archive": coordinator,
            }.get(trigger, sides.receiver)
            if trigger == "pass_check":  # the receiving side signs first, then the reporting side
                hand = sides.reporter if row["passes"] % 2 else sides.receiver
                row["passes"] += 1
            payload = dict(PAYLOADS[trigger])
            if trigger == "hand_off":
                payload["receiving"] = sides.receiving.code
                row["receiving_id"] = sides.receiving.id
            if trigger in ("start_rectify", "agree", "fail_check"):
                payload["deadline"] = (at + timedelta(days=rng.randint(10, 40))).astimezone(SHANGHAI).date()
            if trigger == "mark_duplicate":
                earlier = self.last_code.get(compact.id)
                if earlier is None:
                    break
                payload["of"] = earlier[1]
                row["duplicate_of"] = earlier[0]
            self._step(row, issue_id, code, trigger, hand, payload, at)
        self.last_code[compact.id] = (issue_id, code)
        self.issues.append(self._row(issue_id, code, compact, sides, title, category, snapshot, segment, created, row))

    def _step(
        self, row: dict[str, Any], issue_id: int, code: str, trigger: str, hand: Hand, payload: Any, at: datetime
    ) -> None:
        transition = TABLE[(row["state"], trigger)]
        clean = payload if trigger == "report" else validate(transition, payload)
        to_state = transition.dest or row["state"]
        if transition.dest:
            wait = WAITS.get(to_state)
            due: datetime | None = None
            if to_state == "ban.rectifying":
                given = clean.get("deadline")  # a rebound without one gets the policy's 15 working days
                deadline = date.fromisoformat(given) if given else (at + timedelta(days=21)).astimezone(SHANGHAI).date()
                row["plan"], row["deadline"] = clean.get("plan", row["plan"]), deadline
                due = datetime(deadline.year, deadline.month, deadline.day, 23, 59, 59, tzinfo=SHANGHAI)
            elif wait:
                due = at + timedelta(days=wait)
            row["due_at"], row["waiting_since"] = due, at
        seq = row["version"] + 1
        parties = hand.parties
        digest = event_hash(
            issue_code=code,
            seq=seq,
            trigger=trigger,
            from_state=row["state"],
            to_state=to_state,
            actor_code=hand.code,
            parties=parties,
            payload=clean,
            due_at=row["due_at"],
            occurred_at=at,
            prev_hash=row["head"],
        )
        self.events.add(
            at,
            (
                issue_id,
                row["compact_id"],
                seq,
                trigger,
                row["state"],
                to_state,
                hand.id,
                hand.code,
                parties,
                json.dumps(clean, ensure_ascii=False),
                row["due_at"],
                at,
                row["head"],
                digest,
            ),
        )
        self.event_count += 1
        row["check_round"] += trigger == "request_verify"
        row["rebounds"] += trigger == "rebound"
        row["revisits"] += trigger == "start_revisit"
        if trigger in ("no_rebound", "rebound"):
            row["clean"] = trigger == "no_rebound"
        if to_state in ("du.closed", "archived", "dismissed", "duplicate") and row["closed_at"] is None:
            row["closed_at"] = at
        row["state"], row["version"], row["head"], row["updated_at"] = to_state, seq, digest, at

    def _row(
        self,
        issue_id: int,
        code: str,
        compact: CompactPlan,
        sides: Sides,
        title: str,
        category: str,
        snapshot: dict[str, Any],
        segment: int | None,
        created: datetime,
        row: dict[str, Any],
    ) -> tuple[Any, ...]:
        due = row["due_at"]
        terminal = row["state"] in ("archived", "dismissed", "duplicate", "du.closed")
        if terminal:
            due, check = None, None
        elif due is None or due <= NOW - timedelta(hours=1):
            check = None  # the sweep has been by: reminded, then named overdue
        else:
            check = max(due - timedelta(days=1), NOW - timedelta(minutes=30)) if due > NOW else due
        return (
            issue_id,
            code,
            compact.id,
            title,
            "",
            category,
            snapshot["difficulty"],
            "",
            snapshot["lon"],
            snapshot["lat"],
            segment,
            sides.reporter.id,
            sides.reporting.id,
            row["receiving_id"],
            row["state"],
            row["version"],
            due,
            row["plan"],
            row["deadline"],
            row["check_round"],
            row["rebounds"],
            row["revisits"],
            row["clean"],
            row["head"],
            None if terminal else row["waiting_since"],
            check,
            created,
            row["updated_at"],
            row["closed_at"],
            None,
            row["duplicate_of"],
        )


ISSUE_COLUMNS = [
    "id",
    "code",
    "compact_id",
    "title",
    "description",
    "category",
    "difficulty",
    "place",
    "lon",
    "lat",
    "segment_id",
    "reporter_id",
    "reporting_jurisdiction_id",
    "receiving_jurisdiction_id",
    "state",
    "version",
    "due_at",
    "rectify_plan",
    "rectify_deadline",
    "check_round",
    "rebound_count",
    "revisit_count",
    "last_revisit_clean",
    "ledger_head",
    "waiting_since",
    "next_check_at",
    "created_at",
    "updated_at",
    "closed_at",
    "observed_at",
    "duplicate_of_id",
]
EVENT_COLUMNS = [
    "issue_id",
    "compact_id",
    "seq",
    "trigger",
    "from_state",
    "to_state",
    "actor_id",
    "actor_code",
    "parties",
    "payload",
    "due_at",
    "occurred_at",
    "prev_hash",
    "hash",
]
PATROL_COLUMNS = [
    "patroller_id",
    "segment_id",
    "kind",
    "started_at",
    "ended_at",
    "duration_s",
    "length_m",
    "track",
    "notes",
    "created_at",
]


def _hands(compact: CompactPlan, reporting: Place, receiving: Place, province: Province) -> Sides:
    rid, rcode = province.township_chief[reporting.id]
    sid, scode = province.township_chief[receiving.id]
    return Sides(
        compact, reporting, receiving, Hand(rid, rcode, "member,reporting"), Hand(sid, scode, "member,receiving")
    )


def issue_plan(province: Province) -> Iterator[tuple[random.Random, Sides, datetime]]:
    """Every issue to make, oldest first: its own random stream, its sides, when it was reported."""
    rng = random.Random(province.seed * 7919 + 18)
    plans: list[tuple[datetime, int, CompactPlan, Place, Place]] = []
    dense = density(province.scale)
    for compact in province.compacts:
        ours = province.townships[compact.ours.id]
        theirs = province.townships[compact.theirs.id]
        for year in range(FIRST_YEAR, NOW.year + 1):
            year_start = datetime(year, 1, 1, tzinfo=SHANGHAI)
            span = (min(NOW, datetime(year + 1, 1, 1, tzinfo=SHANGHAI)) - year_start).total_seconds()
            weight = _year_weight(year)
            across = round(CROSS_BORDER_PER_COMPACT_YEAR * dense * weight) if compact.border else 0
            within = round(ISSUES_PER_DISTRICT_YEAR * dense * weight) - across
            for n in range(within + across):
                at = year_start + timedelta(seconds=rng.uniform(0, span))
                if n < within:
                    reporting, receiving = rng.sample(ours, 2)
                else:
                    pair = (rng.choice(ours), rng.choice(theirs))
                    reporting, receiving = pair if rng.random() < 0.5 else pair[::-1]
                plans.append((at, rng.getrandbits(32), compact, reporting, receiving))
    plans.sort(key=lambda p: (p[0], p[1]))
    for at, stream, compact, reporting, receiving in plans:
        yield random.Random(stream), _hands(compact, reporting, receiving, province), at


def issue_total(province: Province) -> int:
    """How many issues ``issue_plan`` makes."""
    dense = density(province.scale)
    per = sum(round(ISSUES_PER_DISTRICT_YEAR * dense * _year_weight(y)) for y in range(FIRST_YEAR, NOW.year + 1))
    return per * len(province.compacts)


# -- patrols ------------------------------------------------------------------------------------------

QUOTA_DAYS = {"village": 7, "township": 10, "district": 30, "city": 30}


def _track(rng: random.Random, lon: float, lat: float, minutes: int) -> tuple[str, int]:
    """A walk along the river, a position a minute, as the GeoJSON the API stores; and its length in metres."""
    heading = rng.uniform(0, 2 * math.pi)
    coords = []
    metres = 0.0
    for _ in range(minutes + 1):
        coords.append(f"[{lon:.6f},{lat:.6f}]")
        step = rng.uniform(50, 90)
        metres += step
        heading += rng.uniform(-0.5, 0.5)
        lon += step / 111_000 * math.cos(heading) / math.cos(math.radians(lat))
        lat += step / 111_000 * math.sin(heading)
    return '{"type":"LineString","coordinates":[' + ",".join(coords) + "]}", round(metres - step)


def patrols(province: Province, files: MonthFiles, tick: Callable[[int], None]) -> int:
    """A year of patrols for every chief, a little less than the quota asks for the less diligent."""
    made = 0
    days = (NOW - PATROL_FROM).days
    for chief in province.chiefs:
        rng = random.Random(f"{province.seed}:{chief.code}")
        own = chief.place.segments
        if not own:
            tick(1)
            continue
        every = QUOTA_DAYS.get(chief.level, 30)
        for period in range(0, days, every):
            if rng.random() > chief.diligence:
                continue
            day = min(days - 1, period + rng.randrange(every))
            start = PATROL_FROM + timedelta(days=day, hours=rng.uniform(8, 16))
            minutes = rng.randint(30, 120)
            segment = rng.choice(own)
            lon, lat = province.starts[segment]
            track, length = _track(rng, lon, lat, minutes)
            end = start + timedelta(minutes=minutes)
            kind = "covert" if rng.random() < 0.03 else "routine"
            files.add(start, (chief.id, segment, kind, start, end, minutes * 60, length, track, "", end))
            made += 1
        tick(1)
    return made


# -- the digest -------------------------------------------------------------------------------------


def digest(conn: sa.Connection) -> str:
    """A SHA-256 over a few tables' rows in id order: equal for two loads with the same seed and scale."""
    h = hashlib.sha256()
    for query in (
        "SELECT code, path FROM jurisdiction ORDER BY id",
        "SELECT code, name, role, jurisdiction_id FROM person ORDER BY id",
        "SELECT code, geometry::text FROM segment ORDER BY id",
        "SELECT code, state, version, ledger_head FROM issue ORDER BY id",
        "SELECT issue_id, seq, hash FROM event ORDER BY id",
        "SELECT patroller_id, started_at, length_m, md5(track::text) FROM patrol ORDER BY id",
    ):
        for row in conn.execute(sa.text(query)):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def temporary_folder() -> Path:
    """Where the month files go while a load runs."""
    return Path(tempfile.mkdtemp(prefix="province-"))
