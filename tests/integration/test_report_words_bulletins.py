"""The monthly bulletin (月通报), the progress bulletin (整改情况通报) and the quarterly interview list (季度约谈名单)
in both languages: every word that is not data comes from the catalogue.

The stored records are written by hand with ASCII data (names of parties, chiefs, action items) and take every
branch of the templates; the documents are made by the builders, through the dossier, with a renderer that
hands back the HTML. An English copy shows English headings and no Chinese but the compact's name; the Chinese
copy keeps its Chinese words. One English PDF of each is read back with poppler.
"""

from __future__ import annotations

import html
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from reports import builders
from reports.render import ReportRenderer
from reports.words import WORDS
from riverchief.reporting import make
from tests.factories import World
from workflow.core.clock import SHANGHAI
from workflow.core.models import Bulletin, Compact, table_of
from workflow.reading.figures import FIGURES
from workflow.reading.practice import FIGURES as PRACTICE_FIGURES

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
AT = datetime(2026, 4, 1, 8, 0, tzinfo=SHANGHAI)
MANY = [f"QJ-2026-{n:04d}" for n in range(101, 113)]  # more than BULLETIN_CODES_LISTED: named with a count
ACTION = {
    "code": "QJ-DB-2026-001",
    "title": "Set up a joint patrol team",
    "owner": "District A",
    "due_on": "2026-03-06",
}
NAMED = {"party": "receiving", "jurisdiction_id": 8, "jurisdiction": "Town A", "within": "District A"}
# The parties without a jurisdiction, stored under their Chinese names as overdue_parties writes them.
COORDINATOR = {"party": "coordinator", "jurisdiction_id": None, "jurisdiction": "联席会议", "within": None}
AUDITOR = {"party": "auditor", "jurisdiction_id": None, "jurisdiction": "第三方回访机构", "within": None}


def counts(keys: list[str]) -> dict[str, int]:
    return {key: n + 1 for n, key in enumerate(keys)}


MONTHLY = {
    # Every branch: overdue parties (named, the joint meeting, the auditor), overdue action items, chiefs under quota.
    "2026-03": (
        {
            "month": {**counts([k for k, _ in FIGURES]), "overdue": 14},
            "year_to_date": counts([k for k, _ in FIGURES]),
            "patrols": {
                "assessed": 5,
                "done": 9,
                "required": 13,
                "rate": "69%",
                "under_quota": [
                    {
                        "person": "c1",
                        "name": "Chen Ming",
                        "jurisdiction": "Town A",
                        "window": "2026-03",
                        "done": 1,
                        "required": 4,
                        "rate": "25%",
                    }
                ],
            },
            "enforcement": {"joint_cases": 2, "leads_transferred": 1},
            "overdue_actions": [ACTION],
        },
        [
            {**NAMED, "chiefs": ["Chen Ming", "Li Hua"], "issues": MANY},
            {**COORDINATOR, "chiefs": [], "issues": ["QJ-2026-0002"]},
            {**AUDITOR, "chiefs": [], "issues": ["QJ-2026-0003"]},
        ],
    ),
    # Every chief assessed made the patrols; no one overdue.
    "2026-04": (
        {
            "month": {},
            "year_to_date": {},
            "patrols": {"assessed": 2, "done": 8, "required": 8, "rate": "100%", "under_quota": []},
            "enforcement": {"joint_cases": 0, "leads_transferred": 0},
            "overdue_actions": [],
        },
        [],
    ),
    # No chief assessed.
    "2026-05": (
        {
            "month": {},
            "year_to_date": {},
            "patrols": {"assessed": 0, "done": 0, "required": 0, "rate": "—", "under_quota": []},
            "overdue_actions": [],
        },
        [],
    ),
}
PRACTICE = {
    **counts(list(PRACTICE_FIGURES)),
    "joint_meetings_by_level": {"township": 1, "district": 2, "city": 3, "province": 0},
}
PROGRESS = {
    "2026-001": (
        {
            "from": "2026-03-01",
            "to": "2026-03-12",
            "practice": PRACTICE,
            "overdue_actions": [ACTION],
            "number": "QJ联防通报〔2026〕1号",
        },
        [{**NAMED, "chiefs": ["Chen Ming"], "issues": MANY}, {**AUDITOR, "chiefs": [], "issues": ["QJ-2026-0003"]}],
    ),
    "2026-002": (
        {"from": "2026-03-01", "to": "2026-04-01", "practice": PRACTICE, "overdue_actions": [], "number": "x"},
        [],
    ),
}
PATROL = {
    "party": "patrol",
    "jurisdiction_id": 8,
    "jurisdiction": "Town A",
    "chiefs": ["Chen Ming"],
    "issues": [],
    "person": "c1",
    "months": [{"month": f"2026-0{m}", "done": 1, "required": 4} for m in (1, 2, 3)],
}
INTERVIEW = {
    "2026-Q1": (
        {"months": ["2026-01", "2026-02", "2026-03"], "named": 3},
        [
            {**NAMED, "chiefs": ["Li Hua"], "issues": MANY},
            {**COORDINATOR, "chiefs": [], "issues": ["QJ-2026-0002"]},
            PATROL,
        ],
    ),
    "2026-Q2": ({"months": ["2026-04", "2026-05", "2026-06"], "named": 0}, []),
}

# Each document: the builder, its records' kind, the records, and the words the two copies must show.
DOCUMENTS: dict[str, tuple[Callable[..., builders.Built], str, dict[str, Any], tuple[str, ...], tuple[str, ...]]] = {
    "bulletin": (
        builders.bulletin,
        "monthly",
        MONTHLY,
        (
            "Bulletin on the rectification of cross-border issues (March 2026)",
            "QJ joint bulletin No. 03 (2026)",
            "1. This month and the year to date",
            "Handled this month",
            "Year to date",
            "Taken to a joint meeting",
            "2. Parties past their deadlines",
            "Joint meeting",
            "Third-party auditor",
            "Chen Ming, Li Hua",
            "QJ-2026-0101, QJ-2026-0102",
            "(12 in all)",
            "Action items still open past their due date",
            "3. Patrols and joint enforcement",
            "This month 5 river chiefs were assessed on their patrols",
            "The following river chiefs made fewer patrols than required",
            "Every river chief assessed this month made the required patrols.",
            "No party was past its deadline this month.",
            "No river chief was assessed on patrols this month.",
            "Office of the",
        ),
        (
            "跨界问题整改情况通报（2026年3月）",
            "一、本月及本年累计情况",
            "卡点会办",
            "二、超期单位",
            "联席会议",
            "第三方回访机构",
            "Chen Ming、Li Hua",
            "等共 12 件",
            "逾期未办结的督办事项",
            "三、巡河与联合执法",
            "本月纳入巡河考核河长5名，应巡河13次，实际巡河9次，完成率69%。",
            "本月纳入考核的河长均完成巡河任务。",
            "本月无超期单位。",
            "本月无纳入巡河考核的河长。",
        ),
    ),
    "progress": (
        builders.progress_bulletin,
        "progress",
        PROGRESS,
        (
            "Bulletin on the rectification of cross-border issues",
            "QJ joint bulletin No. 1 (2026)",
            "from 1 March 2026 to 11 March 2026",
            "1. Overview",
            "Closed at once, no rebound",
            "Joint meetings by level",
            "1 at township level, 2 at district level, 3 at city level, 0 at province level.",
            "2. Parties past their deadlines",
            "Third-party auditor",
            "(12 in all)",
            "3. Action items still open past their due date",
            "Set up a joint patrol team",
            "No party was past its deadline in this period.",
            "No action item is past its due date.",
        ),
        (
            "跨界问题整改情况通报",
            "QJ联防通报〔2026〕1号",
            "2026年3月1日至2026年3月11日",
            "一、总体情况",
            "一次性销号未反弹",
            "乡镇级1次，区县级2次，市级3次，省级0次。",
            "第三方回访机构",
            "三、逾期未办结的督办事项",
            "本期无超期单位。",
            "无逾期督办事项。",
        ),
    ),
    "interview": (
        builders.interview,
        "interview",
        INTERVIEW,
        (
            "Quarterly interview list on cross-border issues (Q1 2026)",
            "QJ joint interview No. 1 (2026)",
            "(2026-01, 2026-02, 2026-03)",
            "1. Cross-border issues overdue three months running",
            "Joint meeting",
            "(12 in all)",
            "2. Fewer patrols than required three months running",
            "Patrols by month (made/required)",
            "2026-01: 1/4; 2026-02: 1/4; 2026-03: 1/4",
            "None.",
        ),
        (
            "跨界问题季度约谈名单（2026年第一季度）",
            "QJ联防约谈〔2026〕1号",
            "（2026-01、2026-02、2026-03）",
            "一、跨界问题连续三个月超期",
            "联席会议",
            "二、连续三个月未完成巡河任务",
            "2026-01：1/4；2026-02：1/4；2026-03：1/4",
            "无。",
        ),
    ),
}


class HtmlRenderer(ReportRenderer):
    """A renderer that hands back the HTML it would have drawn, to read every word of it cheaply."""

    def pdf(self, html: str, **options: Any) -> bytes:
        return html.encode()


@pytest.fixture(scope="module")
def renderer() -> HtmlRenderer:
    return HtmlRenderer()


@pytest.fixture
def stored(sqlite_world: World) -> World:
    """The 琼江 compact with the hand-made records of the three documents."""
    rows = [
        (kind, period, record) for _, kind, records, _, _ in DOCUMENTS.values() for period, record in records.items()
    ]
    with sqlite_world.app.uow() as uow:
        compact_id = uow.connection.execute(sa.select(table_of(Compact).c.id).where(Compact.code == "QJ")).scalar_one()
        for kind, period, (figures, parties) in rows:
            values = {"kind": kind, "period": period, "figures": figures, "parties": parties, "created_at": AT}
            uow.connection.execute(sa.insert(table_of(Bulletin)).values(compact_id=compact_id, **values))
        uow.commit()
    return sqlite_world


def compact_name(world: World) -> str:
    with world.app.reader() as uow:
        return str(uow.connection.execute(sa.select(table_of(Compact).c.name).where(Compact.code == "QJ")).scalar_one())


def text_of(page: str) -> str:
    """The words of an HTML page a reader sees, its title and metadata included: tags dropped, entities read."""
    metadata = " ".join(re.findall(r'<meta name="[^"]+" content="([^"]*)"', page))
    body = page.split("<body", 1)[1]
    return html.unescape(metadata + " " + re.sub(r"<[^>]+>", " ", body))


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pages(world: World, renderer: HtmlRenderer, name: str, lang: str) -> tuple[str, list[builders.Built]]:
    """Every record of the document rendered in ``lang``: their words in one run, and the documents."""
    build, _, records, _, _ = DOCUMENTS[name]
    with world.app.reader() as uow:
        built = [build(renderer, uow.connection, "QJ", period, lang=lang) for period in records]
    return flat(" ".join(text_of(b.content.decode()) for b in built)), built


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_english_copy_shows_english_words_and_no_chinese_but_the_compacts_name(
    stored: World, renderer: HtmlRenderer, name: str
) -> None:
    text, built = pages(stored, renderer, name, "en")
    for phrase in DOCUMENTS[name][3]:
        assert phrase in text, phrase
    left = text.replace(compact_name(stored), " ")
    assert not CJK.search(left), CJK.findall(left)
    for b in built:
        assert not CJK.search(b.title), b.title


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_chinese_copy_keeps_its_chinese_words(stored: World, renderer: HtmlRenderer, name: str) -> None:
    text, built = pages(stored, renderer, name, "zh-CN")
    for phrase in DOCUMENTS[name][4]:
        assert phrase in text, phrase
    for english in DOCUMENTS[name][3]:
        if re.match(r"\d\. |Bulletin|Quarterly", english):  # the title and the headings
            assert english not in text, english
    assert {b.title.split()[-1] for b in built} <= {"月通报", "整改情况通报", "季度约谈名单"}


def test_every_figure_is_worded_by_the_catalogue_under_its_key() -> None:
    # The reports, the CLI and the demo name a figure by these entries; a figure added without one fails here.
    assert {f"bulletin.figure.{key}" for key, _ in FIGURES} <= set(WORDS)
    assert {f"progress.figure.{key}" for key in PRACTICE_FIGURES} <= set(WORDS)


@pytest.mark.parametrize(
    ("kind", "period", "phrases"),
    [
        ("bulletin", "2026-03", ("Bulletin on the rectification", "2. Parties past their deadlines", "Third-party")),
        ("progress", "2026-001", ("1. Overview", "Joint meetings by level", "QJ joint bulletin No. 1 (2026)")),
        ("interview", "2026-Q1", ("Quarterly interview list", "2. Fewer patrols than required", "Joint meeting")),
    ],
)
def test_an_english_pdf_reads_in_english(
    stored: World, tmp_path: Path, kind: str, period: str, phrases: tuple[str, ...]
) -> None:
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(make(stored.app, kind, period=period, lang="en").content)
    done = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    text = flat(done.stdout.decode())
    for phrase in phrases:
        assert phrase in text, phrase
    assert "联席会议" not in text.replace(compact_name(stored), "")
