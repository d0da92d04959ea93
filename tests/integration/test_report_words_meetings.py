"""The revisit report (回访报告), a month's joint-meeting minutes (联席会议纪要) and one meeting's minutes (会议纪要)
in both languages: every word that is not data comes from the catalogue.

An English copy shows English headings and labels and no Chinese but the data it was given; the Chinese copy
keeps its Chinese words. The HTML is checked on hand-made data in ASCII, covering every branch of the
templates (no auditor named, a step of the system, photos with and without time or place, a stand-in, the
absent, an undecided item...); the PDFs are checked on the demo's revisits and meetings, whose Chinese data
(names of people, places, issues and meetings) is taken out before looking for Chinese.
"""

from __future__ import annotations

import dataclasses
import html
import io
import re
import subprocess
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from reports.render import DocumentInfo, ReportRenderer
from riverchief.bootstrap import App, bootstrap
from riverchief.demo.play import run
from riverchief.reporting import make
from riverchief.settings import Settings
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.reading import dossier

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
COMPACT = "Qiong River Compact"

# Each document's headings and labels in English, and the same in Chinese.
REVISIT_EN = (
    "Revisit report on closed cross-border issues",
    f"At the request of {COMPACT}, the third-party auditor revisited closed cross-border issues (March 2026)",
    "Issues revisited: 3; no rebound: 2; rebound: 1.",
    "Revisits",
    "Issue no.",
    "Finding",
    "Outcome",
    "Auditor / date",
    "No rebound",
    "Rebound",
    "the system",
    "Site photos",
    "Taken 2026-03-02 09:00",
    "Time not recorded",
    "Place not recorded",
    "Time and place of the photo not recorded",
    "Third-party auditor",
)
REVISIT_ZH = (
    "跨界问题“回头看”回访报告",
    f"受{COMPACT}委托，第三方回访机构于2026年3月对已销号的跨界交办问题开展“回头看”，"
    "共回访 3 个问题，其中未反弹 2 个，反弹 1 个。",
    "回访情况",
    "序号",
    "回访人 / 日期",
    "未反弹",
    "反弹",
    "系统",
    "现场照片",
    "拍摄于 2026-03-02 09:00",
    "无拍摄时间",
    "无拍摄位置",
    "照片无拍摄时间/位置",
    "第三方回访机构",
)
MINUTES_EN = (
    "Minutes of the joint meetings on cross-border issues (March 2026)",
    "2026-03-16: joint meeting at district level",
    "Attendees: Li Ming (coordinator), Wang Fang (Chief of Upper Town)",
    "Agenda",
    "Reporting side → receiving side",
    "Decisions",
    "Rectification plan",
    "Lead body",
    "Deadline",
    "To be decided",
    f"Office of the {COMPACT} joint meeting",
)
MINUTES_ZH = (
    "跨界问题联席会议纪要（2026年3月）",
    "2026-03-16 区县级联席会议",
    "参会人员： Li Ming（协调员）、Wang Fang（Chief of Upper Town）",  # a space where the label's tag ends
    "会议议题",
    "交办方 → 接收方",
    "议定事项",
    "牵头单位",
    "待议定",
    f"{COMPACT}联席会议办公室",
)
MEETING_EN = (
    f"Minutes of the {COMPACT} joint meeting",
    "Meeting",
    "Kick-off on the outfall (QJ-HY-2026-001)",
    "Joint meeting at city level (suggested level: district; both cities share the river)",
    "Convened by",
    "1. Attendance",
    "Upper Town: Zhao Lei (for Wang Fang), Sun Li",
    f"{COMPACT} joint meeting: Li Ming",
    "Absent or excused: Zhou Yu (absent), Wu Di (excused)",
    "Invitees whose attendance was not recorded: 2.",
    "2. Decisions",
    "Owner / deadline",
    "To be decided",
    "Issues whose rectification progress was reported",
    "3. Action items",
    "Item no.",
    "4. Signatures",
    "(signature)",
    f"Office of the {COMPACT} joint meeting",
)
MEETING_ZH = (
    f"{COMPACT}联席会议纪要",
    "Kick-off on the outfall（QJ-HY-2026-001）",
    "市级联席会议（建议层级为区县级；both cities share the river）",
    "一、参会人员",
    "Upper Town： Zhao Lei（代Wang Fang）、Sun Li",
    f"{COMPACT}联席会议： Li Ming",
    "缺席或请假： Zhou Yu（缺席）、Wu Di（请假）",
    "另有 2 名受邀人员未登记出席情况。",
    "二、议定事项",
    "待议定",
    "通报整改进展的问题",
    "三、督办事项",
    "四、各方签字",
    "（签字）",
    f"{COMPACT}联席会议办公室",
)


def text_of(page: str) -> str:
    """The words of an HTML page a reader sees: tags dropped, entities read, runs of spaces made one."""
    body = page.split("<body", 1)[1]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def info(title: str) -> DocumentInfo:
    return DocumentInfo(title, COMPACT, "QJ 2026/03", "subject", ("river",), AT)


@pytest.fixture(scope="module")
def renderer() -> ReportRenderer:
    return ReportRenderer()


# -- the templates, on hand-made data in ASCII ------------------------------------------------------


def revisit_data(organisations: list[str]) -> dict[str, Any]:
    """Three revisits (one rebound, one recorded by the system) and a photo for each way of being dated."""
    item = {"code": "QJ-2026-0001", "title": "Outfall", "reporting": "Upper Town", "receiving": "Lower Town"}
    items = [
        {**item, "at": AT, "finding": "clean water", "rebound": False, "auditor": "Chen", "by_system": False},
        {**item, "at": AT, "finding": "new pipe", "rebound": True, "auditor": "Chen", "by_system": False},
        {**item, "at": AT, "finding": "still clean", "rebound": False, "auditor": "", "by_system": True},
    ]
    photo = {"path": "ab/abcdef", "caption": "QJ-2026-0001 site"}
    photos = [
        {**photo, "taken_at": AT, "lat": 30.2, "lon": 105.7},
        {**photo, "taken_at": None, "lat": 30.2, "lon": 105.7},
        {**photo, "taken_at": AT, "lat": None, "lon": None},
        {**photo, "taken_at": None, "lat": None, "lon": None},
    ]
    return {
        "compact": COMPACT,
        "items": items,
        "organisations": organisations,
        "photos": photos,
        "rebounds": 1,
        "clean": 2,
    }


def render_revisit(renderer: ReportRenderer, lang: str, organisations: list[str] | None = None) -> str:
    data = revisit_data(organisations or [])
    label = "March 2026" if lang == "en" else "2026年3月"
    return renderer.html(
        "revisit.html.j2", info(REVISIT_EN[0]), lang=lang, data=data, period_label=label, photos=data["photos"]
    )


def minutes_data() -> dict[str, Any]:
    agenda = {"code": "QJ-2026-0002", "title": "Farm waste", "topic": "Who cleans up", "reporting": "Upper Town"}
    return {
        "compact": COMPACT,
        "meetings": [
            {
                "date": "2026-03-16",
                "level": "district",
                "attendees": [
                    {"name": "Li Ming", "title": None, "role": "coordinator"},
                    {"name": "Wang Fang", "title": "Chief of Upper Town", "role": "chief"},
                ],
                "agenda": [
                    {**agenda, "receiving": "Lower Town", "resolution": "Lower Town leads", "plan": "Build a pond"}
                    | {"deadline": "2026-04-14", "owner": "Lower Town"},
                    {**agenda, "receiving": "Lower Town", "resolution": None, "plan": None}
                    | {"deadline": None, "owner": "Lower Town"},
                ],
            }
        ],
    }


@dataclasses.dataclass
class Item:
    code: str
    title: str
    resolution: str | None = None
    plan: str | None = None
    deadline: str | None = None
    owner: str | None = None
    due_on: date = date(2026, 4, 30)


def meeting_data(*, attended: bool = True, actions: bool = True) -> dict[str, Any]:
    return {
        "code": "QJ-HY-2026-001",
        "compact": COMPACT,
        "compact_code": "QJ",
        "title": "Kick-off on the outfall",
        "level": "city",
        "suggested": "district",
        "level_reason": "both cities share the river",
        "starts_at": AT,
        "place": "Town hall",
        "convener": "Li Ming",
        "status": "held",
        "attended": [
            ("Upper Town", [{"name": "Wang Fang", "stand_in": "Zhao Lei"}, {"name": "Sun Li", "stand_in": None}]),
            (None, [{"name": "Li Ming", "stand_in": None}]),
        ]
        if attended
        else [],
        "absent": [{"name": "Zhou Yu", "attendance": "absent"}, {"name": "Wu Di", "attendance": "excused"}],
        "unrecorded": 2,
        "decide": [
            Item("QJ-2026-0008", "Litter", "Upper Town cleans", "Weekly sweeps", "2026-06-16", "Upper Town"),
            Item("QJ-2026-0009", "Foam"),
        ],
        "review": [Item("QJ-2026-0007", "Old outfall")],
        "actions": [Item("QJ-DB-2026-001", "Set up a joint patrol", owner="Lower Town")] if actions else [],
        "parties": ["Lower Town", "Upper Town"],
        "issues": ("QJ-2026-0008", "QJ-2026-0009"),
    }


def test_the_english_revisit_report_is_english_but_for_its_data(renderer: ReportRenderer) -> None:
    text = text_of(render_revisit(renderer, "en"))
    missing = [words for words in REVISIT_EN[1:] if words not in text]
    assert not missing, text
    assert not CJK.findall(text), text
    named = text_of(render_revisit(renderer, "en", ["Green River Centre", "Blue Water Lab"]))
    assert "Green River Centre, Blue Water Lab revisited" in named
    assert named.rstrip().split("Site photos")[1].count("Green River Centre, Blue Water Lab") == 1  # the signature


def test_the_chinese_revisit_report_keeps_its_chinese_words(renderer: ReportRenderer) -> None:
    text = text_of(render_revisit(renderer, "zh-CN"))
    missing = [words for words in REVISIT_ZH[1:] if words not in text]
    assert not missing, text
    assert not [words for words in REVISIT_EN[3:] if words in text]
    named = text_of(render_revisit(renderer, "zh-CN", ["Green River Centre", "Blue Water Lab"]))
    assert "Green River Centre、Blue Water Lab于2026年3月" in named


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_minutes_of_a_month_are_worded_in_their_language(renderer: ReportRenderer, lang: str) -> None:
    title = MINUTES_EN[0] if lang == "en" else MINUTES_ZH[0]
    text = text_of(renderer.html("minutes.html.j2", info(title), lang=lang, data=minutes_data()))
    expected = MINUTES_EN if lang == "en" else MINUTES_ZH
    missing = [words for words in expected[1:] if words not in text]
    assert not missing, text
    if lang == "en":
        assert not CJK.findall(text), text
    none = text_of(renderer.html("minutes.html.j2", info(title), lang=lang, data={"compact": COMPACT, "meetings": []}))
    assert ("No joint meeting was held in this period." if lang == "en" else "本期未召开联席会议。") in none
    assert lang == "zh-CN" or not CJK.findall(none), none


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_minutes_of_one_meeting_are_worded_in_their_language(renderer: ReportRenderer, lang: str) -> None:
    title = MEETING_EN[0] if lang == "en" else MEETING_ZH[0]
    text = text_of(renderer.html("meeting_minutes.html.j2", info(title), lang=lang, m=meeting_data()))
    expected = MEETING_EN if lang == "en" else MEETING_ZH
    missing = [words for words in expected[1:] if words not in text]
    assert not missing, text
    # The sides sign, then the compact's office.
    assert text.index("Lower Town (signature)" if lang == "en" else "Lower Town （签字）") < text.index(expected[-1]), (
        text
    )
    empty = text_of(
        renderer.html("meeting_minutes.html.j2", info(title), lang=lang, m=meeting_data(attended=False, actions=False))
    )
    for en, zh in (("No attendance was recorded.", "未登记出席人员。"), ("3. Action items None.", "三、督办事项 无。")):
        assert (en if lang == "en" else zh) in empty, empty
    if lang == "en":
        assert not CJK.findall(text), text
        assert not CJK.findall(empty), empty


# -- the PDFs, on the demo's revisits and meetings --------------------------------------------------


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The demo with its year of joint meetings, read after its last step."""
    database = tmp_path_factory.mktemp("demo") / "demo.db"
    assert run(Console(file=io.StringIO()), database, file_reports=False, meetings=True)
    app = bootstrap(
        Settings(database_url=f"sqlite:///{database}", data_dir=database.parent),
        clock=FrozenClock(datetime(2027, 1, 4, 9, 0, tzinfo=SHANGHAI)),
    )
    yield app
    app.engine.dispose()


def poppler(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8")


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def strings_in(value: Any) -> Iterator[str]:
    """Every string in the data a document was made from (its names, titles, findings...)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from strings_in(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from strings_in(getattr(value, field.name))


def chinese_left(text: str, data: Any) -> list[str]:
    """The Chinese left in ``text`` once the data's own strings are taken out."""
    left = flat(text)
    for piece in sorted({flat(s) for s in strings_in(data) if s}, key=len, reverse=True):
        left = left.replace(piece, " ")
    return CJK.findall(left)


def words_of(pdf: bytes, folder: Path) -> tuple[str, str]:
    """The PDF's words in drawing order, whitespace removed (a cell's wrapped lines follow each other), and its
    title, subject and keywords."""
    path = folder / "copy.pdf"
    path.write_bytes(pdf)
    raw = flat(poppler("pdftotext", "-raw", "-enc", "UTF-8", path, "-"))
    return raw, poppler("pdfinfo", "-enc", "UTF-8", path).split("Author:")[0]


DEMO = {
    # name: (options of make, the data behind it, English words, Chinese words)
    "revisit": (
        {"kind": "revisit", "period": "2026-04"},
        lambda conn: dossier.revisit_batch(
            conn, "QJ", datetime(2026, 4, 1, tzinfo=SHANGHAI), datetime(2026, 5, 1, tzinfo=SHANGHAI)
        ),
        ("Revisitreportonclosedcross-borderissues", "Issuesrevisited:1;norebound:0;rebound:1.", "Auditor/date"),
        ("跨界问题“回头看”回访报告", "共回访1个问题，其中未反弹0个，反弹1个。", "回访人/日期"),
    ),
    "revisit chosen": (
        {
            "kind": "revisit",
            "span": (date(2026, 4, 1), date(2026, 7, 31)),
            "issues": ("QJ-2026-0001",),
        },
        lambda conn: dossier.revisit_batch(
            conn,
            "QJ",
            datetime(2026, 4, 1, tzinfo=SHANGHAI),
            datetime(2026, 8, 1, tzinfo=SHANGHAI),
            issues=("QJ-2026-0001",),
        ),
        ("(1April2026to31July2026)", "Sitephotos", "Taken2026-07-2711:00"),
        ("于2026年4月1日至7月31日", "现场照片", "拍摄于2026-07-2711:00"),
    ),
    "minutes": (
        {"kind": "minutes", "period": "2026-03"},
        lambda conn: dossier.joint_meetings(
            conn, "QJ", datetime(2026, 3, 1, tzinfo=SHANGHAI), datetime(2026, 4, 1, tzinfo=SHANGHAI)
        ),
        ("2026-03-16:jointmeetingatdistrictlevel", "Attendees:", "Reportingside→receivingside", "Leadbody"),
        ("2026-03-16区县级联席会议", "参会人员：", "交办方→接收方", "牵头单位"),
    ),
    "meeting": (
        {"kind": "minutes", "meeting": "QJ-HY-2026-003"},
        lambda conn: dossier.meeting_minutes(conn, "QJ-HY-2026-003", datetime(2027, 1, 4, 9, 0, tzinfo=SHANGHAI)),
        ("Jointmeetingatcitylevel(suggestedlevel:province;", "1.Attendance", "4.Signatures", "(signature)"),
        ("市级联席会议（建议层级为省级；", "一、参会人员", "四、各方签字", "（签字）"),
    ),
}


@pytest.mark.parametrize("name", DEMO)
def test_the_demos_english_copy_is_english_but_for_its_data_and_its_chinese_copy_chinese(
    name: str, demo_app: App, tmp_path: Path
) -> None:
    options, gather, english, chinese = DEMO[name]
    with demo_app.reader() as uow:
        data = gather(uow.connection)
    built = make(demo_app, lang="en", **options)
    raw, metadata = words_of(built.content, tmp_path)
    assert [words for words in english if words not in raw] == [], raw
    assert chinese_left(raw, data) == [], f"Chinese in the English {name} that is not its data"
    assert chinese_left(metadata, data) == [], metadata
    assert chinese_left(built.title, data) == [], built.title
    zh = make(demo_app, **options)
    raw_zh, metadata_zh = words_of(zh.content, tmp_path)
    assert [words for words in chinese if words not in raw_zh] == [], raw_zh
    assert [words for words in english if words in raw_zh] == []
    assert chinese_left(metadata_zh, data)  # words of their own, in Chinese
    assert chinese_left(zh.title, data)
