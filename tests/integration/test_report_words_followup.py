"""The follow-up report (跨界问题跟踪报告) in both languages: every word that is not data comes from the catalogue.

An English copy shows English headings and labels and no Chinese but the data it was given; the Chinese copy
keeps its Chinese words. The HTML is checked on a hand-made follow-up whose data is ASCII, covering every branch
of the template; the PDF is checked on an issue walked through the chart, whose Chinese data (names of people,
places and sides) is taken out before looking for Chinese.
"""

from __future__ import annotations

import html
import re
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from reports.render import DocumentInfo, ReportRenderer
from reports.words import WORDS
from riverchief.reporting import make
from states.chart import Party
from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from workflow.core.clock import SHANGHAI
from workflow.core.models import Compact, Jurisdiction, Person, River, Segment, table_of
from workflow.reading.dossier import Entry, FollowUp, Step, Wait

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)

# The headings and labels an English copy must show, and their Chinese in the Chinese copy.
ENGLISH = (
    "Follow-up report on a cross-border issue",
    "1. The issue",
    "2. Handling",
    "3. Deadlines",
    "4. Joint check and closure",
    "5. Revisits",
    "Ledger check",
    "Reporting side (seal)",
    "Joint meeting office (seal)",
)
CHINESE = (
    "跨界问题跟踪报告",
    "一、基本情况",
    "二、办理过程",
    "三、办理时限",
    "四、联合复核与销号",
    "五、回头看",
    "台账校验",
    "交办方（签章）",
    "联席会议办公室（签章）",
)


def text_of(page: str) -> str:
    """The words of an HTML page a reader sees: tags dropped, entities read."""
    body = page.split("<body", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def follow_up() -> FollowUp:
    """A follow-up with ASCII data that takes every branch of the template."""
    entries = [
        Entry("title", "Outfall at the bridge", snapshot=True),
        Entry("category", "domestic_sewage", "category", snapshot=True),
        Entry("segment", "Upper reach", snapshot=True),
    ]
    steps = [
        Step(1, AT, "report", "new", "xun.reported", "Chen", "Town A", entries, None, "a" * 64),
        Step(
            2,
            AT,
            "hand_off",
            "xun.reported",
            "ban.handed_off",
            "Chen",
            "Town A",
            [Entry("receiving", "Town B")],
            AT,
            "b" * 64,
        ),
        Step(
            3,
            AT,
            "dispute",
            "ban.handed_off",
            "ban.negotiating",
            "Huang",
            "",
            [Entry("reason", "Not ours")],
            None,
            "c" * 64,
        ),
        Step(
            4,
            AT,
            "convene",
            "ban.negotiating",
            "ban.joint_meeting",
            "Xu",
            "Office",
            [Entry("level", "district", "level"), Entry("agenda", "Who fixes it")],
            None,
            "d" * 64,
        ),
        Step(
            5,
            AT,
            "pass_check",
            "du.verifying",
            "du.verifying",
            "Chen",
            "Town A",
            [Entry("checklist", ("photos", "site_check"), "checklist", ("整改前后照片齐全", "现场核实"))],
            None,
            "e" * 64,
        ),
        Step(
            6,
            AT,
            "reschedule",
            "ban.rectifying",
            "ban.rectifying",
            None,
            "",
            [Entry("reason", ("one", "two"))],
            None,
            "f" * 64,
        ),
    ]
    later = AT + timedelta(days=3)
    return FollowUp(
        code="QJ-2026-0042",
        title="Outfall at the bridge",
        description="Grey water into the river",
        category="domestic_sewage",
        difficulty="hard",
        compact="Test compact",
        compact_code="QJ",
        reporting="Town A",
        receiving="Town B",
        reporter="Chen",
        place="By the bridge",
        lon=105.7,
        lat=30.2,
        segment="Upper reach",
        river="Main river",
        segment_geometry=None,
        state="ban.rectifying",
        version=6,
        rebound_count=1,
        ledger_head="f" * 64,
        steps=steps,
        waits=[
            Wait("ban.handed_off", Party.RECEIVING, AT, later, AT, True),
            Wait("ban.negotiating", Party.REPORTING, AT, later, later + timedelta(days=1), False),
            Wait("ban.rectifying", Party.RECEIVING, AT, later, None, None),
        ],
        sign_offs=[{"round": 1, "side": Party.RECEIVING, "person": "Huang", "at": AT}],
        checklist=[{"round": 1, "item": "photos", "label": "整改前后照片齐全", "person": "Huang", "at": AT}],
        revisits=[
            {"cycle": 1, "seq": 1, "due_on": date(2026, 4, 1), "status": "done", "outcome": "rebound", "done_at": AT},
            {"cycle": 1, "seq": 2, "due_on": date(2026, 5, 1), "status": "cancelled", "outcome": None, "done_at": None},
            {"cycle": 2, "seq": 1, "due_on": date(2026, 6, 1), "status": "done", "outcome": "clean", "done_at": AT},
            {"cycle": 2, "seq": 2, "due_on": date(2026, 7, 1), "status": "planned", "outcome": None, "done_at": None},
        ],
    )


@pytest.fixture(scope="module")
def renderer() -> ReportRenderer:
    return ReportRenderer()


def page(renderer: ReportRenderer, lang: str, report: FollowUp | None = None, with_photos: bool = True) -> str:
    """The follow-up's HTML in ``lang``."""
    report = report or follow_up()
    info = DocumentInfo("title", report.compact, "QJ 1", "subject", ("QJ",), AT)
    photos = [{"path": "ab/abc", "caption": "Before", "taken_at": AT, "lon": 105.7, "lat": 30.2, "seq": 1}]
    return renderer.html("followup.html.j2", info, lang=lang, r=report, map=None, photos=photos if with_photos else [])


def test_the_english_follow_up_has_english_words_and_no_chinese(renderer: ReportRenderer) -> None:
    text = text_of(page(renderer, "en"))
    assert CJK.findall(text) == [], "Chinese in the English follow-up: " + ", ".join(
        line.strip() for line in text.splitlines() if CJK.search(line)
    )
    words = " ".join(text.split())
    for wanted in (
        *ENGLISH[1:],
        "Current state Rectifying",
        "Category Domestic sewage",
        "Difficulty Hard",
        "Title: Outfall at the bridge",
        "Category: domestic sewage",
        "Segment: Upper reach",
        "Receiving side: Town B",
        "New → reported",
        "Reported → handed off",
        "Meeting level: district",
        "Checklist: Photos from before and after the rectification are complete, Confirmed on site",
        "The system",
        "Why: one, two",
        "Receiving side",
        "On time",
        "Late",
        "In hand",
        "Rebound",
        "No rebound",
        "Cancelled",
        "Planned",
        "6. Photos from the site",
        "Before, taken 2026-03-02 09:00 (105.70000, 30.20000)",
        "The issue's ledger runs to record 6",
        "To check it, run riverchief ledger verify , or compute",
    ):
        assert wanted in words, wanted


def test_the_chinese_follow_up_keeps_its_chinese_words(renderer: ReportRenderer) -> None:
    words = " ".join(text_of(page(renderer, "zh-CN")).split())
    for wanted in (
        *CHINESE[1:],
        "当前状态 整改中",
        "问题类别 生活污染",
        "难易程度 难",
        "标题：Outfall at the bridge",
        "类别：生活污染",
        "已发现上报 → 已交办待受理",
        "会议层级：区县级",
        "核查清单：整改前后照片齐全、现场核实",
        "系统",
        "调整原因：one、two",
        "按时",
        "超期",
        "办理中",
        "反弹",
        "未反弹",
        "已取消",
        "计划中",
        "六、现场照片",
        "Before，拍摄于 2026-03-02 09:00（105.70000, 30.20000）",
        "本问题台账至第 6 条记录",
        "核验方法：运行 riverchief ledger verify ，或按各条记录",
    ):
        assert wanted in words, wanted


def test_an_empty_follow_up_says_so_in_either_language(renderer: ReportRenderer) -> None:
    bare = follow_up()
    bare.waits, bare.sign_offs, bare.checklist, bare.revisits = [], [], [], []
    english = " ".join(text_of(page(renderer, "en", bare, with_photos=False)).split())
    chinese = " ".join(text_of(page(renderer, "zh-CN", bare, with_photos=False)).split())
    for key in ("followup.waits.none", "followup.checks.none", "followup.revisits.none"):
        zh, en = WORDS[key]
        assert en in english, key
        assert zh not in english, key
        assert zh in chinese, key
    assert "Photos from the site" not in english
    assert "现场照片" not in chinese


def pdf_words(content: bytes, folder: Path, name: str) -> str:
    """A PDF's text in drawing order, whitespace removed (a wrapped cell reads as one run)."""
    path = folder / f"{name}.pdf"
    path.write_bytes(content)
    done = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", path, "-"], capture_output=True, check=True)
    return re.sub(r"\s+", "", done.stdout.decode("utf-8"))


def known_data(world: World) -> list[str]:
    """The Chinese data the world was loaded with: names of the compact, sides, people, rivers and segments."""
    with world.app.reader() as uow:
        conn = uow.connection
        found = {
            value
            for column in (
                table_of(Compact).c.name,
                table_of(Jurisdiction).c.name,
                table_of(Person).c.name,
                table_of(Person).c.organisation,
                table_of(River).c.name,
                table_of(Segment).c.name,
            )
            for value in conn.execute(sa.select(column)).scalars()
            if value
        }
    return sorted((re.sub(r"\s+", "", v) for v in found), key=len, reverse=True)


def test_the_follow_up_pdf_is_english_but_for_its_data(sqlite_world: World, tmp_path: Path) -> None:
    world = sqlite_world
    code = world.report(title="Outfall at the bridge", description="Grey water", place="By the bridge")
    for trigger, who, payload in (
        ("hand_off", REPORTER, {"receiving": RECEIVING_CODE, "note": "please check"}),
        ("accept", RECEIVER, {}),
        ("start_rectify", RECEIVER, {"plan": "seal it", "deadline": world.deadline(10)}),
        ("report_done", RECEIVER, {"summary": "sealed"}),
        ("request_verify", REPORTER, {}),
        ("pass_check", RECEIVER, {"checklist": CHECKLIST}),
        ("pass_check", REPORTER, {"checklist": CHECKLIST}),
        ("close", REPORTER, {}),
        ("start_revisit", AUDITOR, {}),
        ("no_rebound", AUDITOR, {"finding": "still sealed"}),
        ("archive", COORDINATOR, {}),
    ):
        world.fire(code, trigger, who, **payload)

    english = make(world.app, "followup", issue=code, lang="en")
    assert english.title == f"{code} follow-up report on a cross-border issue"
    text = pdf_words(english.content, tmp_path, "en")
    for wanted in ENGLISH:
        assert re.sub(r"\s+", "", wanted) in text, wanted
    for wanted in ("Category:domesticsewage", "Signthejointcheck", "Closed→revisiting", "Norebound"):
        assert wanted in text, wanted
    rest = text
    for data in known_data(world):
        rest = rest.replace(data, "")
    # The page numbers at the foot come from the stylesheet, which the lead words for both languages.
    rest = re.sub(r"第\d+页/共\d+页", "", rest)
    assert CJK.findall(rest) == [], f"Chinese in the English follow-up PDF: {rest}"

    chinese = make(world.app, "followup", issue=code)
    assert chinese.title == f"{code} 跨界问题跟踪报告"
    text = pdf_words(chinese.content, tmp_path, "zh")
    for wanted in (*CHINESE, "类别：生活污染", "复核签认", "已销号→回头看中", "回访未反弹"):
        assert wanted in text, wanted
    assert "Follow-up" not in text
    assert "Handling" not in text


def test_the_words_named_from_a_code_cover_every_code() -> None:
    from states.policy import DIFFICULTIES
    from workflow.reading.dossier import _SNAPSHOT_FIELDS

    def named(prefix: str) -> set[str]:
        return {key.removeprefix(prefix) for key in WORDS if key.startswith(prefix) and "." not in key[len(prefix) :]}

    assert named("followup.difficulty.") == set(DIFFICULTIES)
    assert named("followup.snapshot.") == set(_SNAPSHOT_FIELDS)
    assert named("followup.revisits.status.") == {"planned", "done", "cancelled"}
    assert named("followup.revisits.outcome.") == {"clean", "rebound"}
