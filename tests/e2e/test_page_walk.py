"""Every page each kind of person reaches, in both languages: Chinese pages show no code names or English, English
pages no Chinese, except what people entered.

A world with issues in every phase (a verification half signed, closed, revisited, archived, rebounded,
dismissed, merged), a joint meeting with its decisions and action items, patrols, a case and a lead, a filed
report and a bulletin is built once per language, then left five weeks so that waits run late. Each person
(both sides' chiefs, an office, the coordinator, the auditor, an admin) starts from their home page and follows
every same-site link, without script, as a browser would: a few URLs per route pattern, but every issue,
meeting, case, lead and patrol page always, with the error pages and the flash a step leaves.

What counts as the person's words: the text of the page (not scripts or styles) and the attributes a reader
sees or hears (title, aria-label, placeholder, alt, a button's value); text marked as in the other language
(``lang``, as the language switch is) is left out. What counts as user data: the values of an explicit list of
columns people fill in (names of jurisdictions, rivers, segments, people and compacts, issue titles and
descriptions, ledger payload texts, meeting, case, lead and patrol texts, the codes the system gave them), read
from the database once the world is built, except the code's own names a payload stores (``du.closed``,
``outfall_closed``, ``city``: the chart's and the policy's keys). Each value is taken out of the text, longest
first, before the text is checked, so user data may be in either language while every word around it must be
in the page's: on a Chinese page no Latin word but a few format names (CSV, PDF...), on an English page no Han
character nor full-width punctuation. The list of columns, rather than every stored string, keeps the check
strict: a catalogue word that happened to be stored elsewhere would otherwise hide its own leak. A data column
added later and shown on a page fails the walk until it is listed here: loud, never flaky.
"""

from __future__ import annotations

import html as html_text
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from states.chart import CHART, Party
from states.policy import CASE_KINDS, CATEGORIES, DIFFICULTIES, ESCALATIONS, MEETING_LEVEL_ORDER
from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, START, World, walk_to
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.reference import PatrolQuotaIn, ReferenceData, load, parse_text
from workflow.core.services import IssueDraft, report_issue
from workflow.enforcement.cases import open_case
from workflow.enforcement.leads import transfer_lead
from workflow.meetings.actions import add_action_item, complete_action_item
from workflow.meetings.bulletins import issue_progress_bulletin
from workflow.meetings.records import MeetingDraft, convene_meeting, decide, record_attendance
from workflow.patrols.records import record_patrol, start_patrol
from workflow.reading.meetings import meeting_view

PASSWORD = "琼江清水长流-2026"
OFFICE = "tn-office"  # the reporting side's district office
ADMIN = "qj-admin"
PEOPLE = (REPORTER, RECEIVER, OFFICE, COORDINATOR, AUDITOR, ADMIN)
ADMIN_YAML = f"people:\n  - {{code: {ADMIN}, name: 平台管理员, role: admin}}\n"
PER_PATTERN = 3
SKIPPED = ("/api/", "/logout", "/static/", "/lang/", "/favicon")
FILES = re.compile(r"\.(pdf|csv|xlsx|json|geojson|gpx|png|jpe?g|webp|ico|js|css)$")
# Pages no link leads to but a person meets: the errors, and the flash a step leaves.
EXTRA = ("/nope", "/issues/QJ-2099-9999", "/admin", "/meetings/new", "/cases/new", "/leads/new", "/report")

# The columns people (or the reference data) fill in: their values are user data, in whatever language.
USER_COLUMNS: dict[str, tuple[str, ...]] = {
    "jurisdiction": ("code", "name"),
    "compact": ("code", "name"),
    "river": ("code", "name"),
    "segment": ("code", "name"),
    "person": ("code", "name", "organisation", "title", "email"),
    "issue": ("code", "title", "description", "place", "rectify_plan"),
    "event": ("payload",),
    "attachment": ("filename", "caption", "sha256"),
    "report_file": ("title", "path", "sha256"),
    "patrol": ("notes",),
    "enforcement_case": ("code", "title", "team", "outcome"),
    "lead_transfer": ("code", "title", "procuratorate", "receipt_no", "outcome"),
    "meeting": ("code", "title", "place", "level_reason", "note"),
    "meeting_invitee": ("stand_in",),
    "action_item": ("code", "title", "outcome"),
    "bulletin": ("figures",),  # its document number
    "map_feature": ("code", "name"),
}
# The code's own names a payload stores (states, triggers, fields and their choices, categories and their
# checklist items, parties, levels, kinds): never a person's words, so never taken out as user data.
CODE_NAMES = frozenset(
    {p.name for p in CHART.phases}
    | {s.name for s in CHART.states}
    | {t.trigger for t in CHART.transitions}
    | {f.name for t in CHART.transitions for f in t.fields}
    | {c for t in CHART.transitions for f in t.fields for c in f.choices}
    | {c.code for c in CATEGORIES.values()}
    | {item for c in CATEGORIES.values() for item, _ in c.checklist}
    | set(CASE_KINDS)
    | set(DIFFICULTIES)
    | set(MEETING_LEVEL_ORDER)
    | {p.value for p in Party}
)
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_.\-][A-Za-z0-9]+)*")
# Names of formats and units a Chinese page writes in Latin letters, as Chinese text does.
LATIN_ON_ZH = frozenset(
    {"English", "Excel", "CSV", "XLSX", "PDF", "GeoJSON", "GPX", "JSON", "YAML", "SHA-256", "UTF-8", "MB", "KB"}
)
HAN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+")
SHOWN_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


class Words(HTMLParser):
    """The text a reader of a page sees or hears: text outside scripts and styles, and the shown attributes."""

    def __init__(self, lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.chunks: list[str] = []
        self.links: list[str] = []
        self._hidden = 0
        self._foreign: list[str] = []  # open elements marked as in the other language (the language switch)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "html":
            assert values.get("lang") == self.lang, f"a page in {values.get('lang')} asked for in {self.lang}"
        elif values.get("lang") not in (None, self.lang) or self._foreign:
            if tag not in VOID:
                self._foreign.append(tag)
            return
        if tag in ("script", "style"):
            self._hidden += 1
        self.chunks += [values[a] or "" for a in SHOWN_ATTRIBUTES if values.get(a)]
        if tag == "input" and values.get("type") in ("submit", "button", "reset") and values.get("value"):
            self.chunks.append(values["value"] or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._foreign:
            if self._foreign[-1] == tag:
                self._foreign.pop()
        elif tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden and not self._foreign and data.strip():
            self.chunks.append(data)


def user_data(world: World) -> list[str]:
    """Every value people filled in, longest first (so a name inside a longer text goes with it)."""
    found: set[str] = set()
    with world.app.reader() as uow:
        for table, columns in USER_COLUMNS.items():
            for row in uow.connection.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table}")):
                for value in row:
                    found.update(_strings(value))
    return sorted((s for s in found if s.strip() and s not in CODE_NAMES), key=len, reverse=True)


def _strings(value: Any) -> Iterator[str]:
    """The strings in a stored value (JSON, stored as text on SQLite, by its leaves), as a page spaces them."""
    if isinstance(value, str):
        if value.startswith(("[", "{")):
            try:
                yield from _strings(json.loads(value))
                return
            except ValueError:
                pass
        yield " ".join(value.split())
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def leaks(chunks: Iterable[str], lang: str, data: list[str]) -> list[str]:
    """The words in the wrong language left once user data is taken out."""
    found = []
    texts = [" ".join(chunk.split()) for chunk in chunks]
    whole = "\n".join(texts)
    present = [value for value in data if value in whole]  # the page's few, out of the world's many
    for text in texts:
        for value in present:
            if value in text:
                text = text.replace(value, " ")
        if lang == "en":
            wrong = [m.group(0) for m in HAN.finditer(text)]
        else:
            wrong = [m.group(0) for m in LATIN_WORD.finditer(text) if m.group(0) not in LATIN_ON_ZH]
        if wrong:
            found.append(f"{' '.join(wrong)!r} in {' '.join(text.split())[:100]!r}")
    return found


def pattern_of(url: str) -> str:
    """A route's pattern: a path part holding a digit is a key; the query's names (not values) count."""
    parts = urlsplit(url)
    path = "/".join("{}" if any(ch.isdigit() for ch in p) else p for p in parts.path.split("/"))
    names = sorted({q.split("=")[0] for q in parts.query.split("&") if q})
    return path + ("?" + "&".join(names) if names else "")


def followed(href: str) -> str | None:
    """The same-site page a link leads to, or None for what the walk leaves (the API, files, signing out)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    if any(parts.path.startswith(s) for s in SKIPPED) or FILES.search(parts.path) or "/export" in parts.path:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- the world -------------------------------------------------------------------------------------------


def build(world: World) -> list[str]:
    """Issues in every phase, a meeting, patrols, a case, a lead and a filed report; the pages to visit always."""
    load(world.app.uow(), parse_text(ADMIN_YAML, "yaml"))
    load(world.app.uow(), ReferenceData(patrol_quotas=[PatrolQuotaIn(level="township", count=4, per="month")]))
    seen: list[str] = []

    def issue(title: str, last: str | None = None, occurrence: int = 1) -> str:
        code = world.report(title=title, description=f"{title}，群众举报。")
        if last:
            walk_to(world, code, last, occurrence)
        seen.append(f"/issues/{code}")
        return code

    flagged = report_issue(
        world.app.uow(),
        world.actor(REPORTER),
        IssueDraft(compact="QJ", title="太安镇饮用水源地旁重点关注点", category="other", segment="qj-taian"),
        flag=True,
    ).issue_code
    seen.append(f"/issues/{flagged}")
    reported = issue("白马镇段漂浮垃圾")
    duplicate = issue("白马镇段漂浮垃圾（重复）")
    world.fire(duplicate, "mark_duplicate", REPORTER, of=reported, reason="同一处垃圾")
    investigating = issue("太安镇段疑似偷排")
    world.fire(investigating, "investigate", REPORTER, note="安排现场核查")
    confirmed = issue("太安镇段养殖废水")
    world.fire(confirmed, "investigate", REPORTER)
    world.fire(confirmed, "confirm", REPORTER, findings="核实存在直排")
    dismissed = issue("误报的排口")
    world.fire(dismissed, "dismiss", REPORTER, reason="经核实为雨水排口")
    handed = issue("待受理的排污口", "hand_off")
    world.fire(handed, "reschedule", "system", reason="节假日安排调整")
    issue("已受理待方案", "accept")
    disputed = issue("有异议的排口", "hand_off")
    world.fire(disputed, "dispute", RECEIVER, reason="排口不在我方辖区")
    dispatched = issue("逾期未受理", "hand_off")
    world.fire(dispatched, "dispatch", "system", **ESCALATIONS["ban.handed_off"].payload)
    issue("整改中的排口", "progress")
    issue("已整改待复核", "report_done")
    half = issue("复核中（一方已签）", "request_verify")
    world.fire(half, "pass_check", RECEIVER, checklist=CHECKLIST[:1], note="先确认影像资料")
    failed = issue("复核不通过", "request_verify")
    world.fire(failed, "fail_check", COORDINATOR, reason="排口仍有渗漏", deadline=world.deadline(5))
    issue("已销号", "close")
    issue("回头看中", "start_revisit")
    issue("回访未反弹待归档", "no_rebound")
    issue("已归档", "archive")
    rebound = issue("回访发现反弹", "start_revisit")
    world.fire(rebound, "rebound", AUDITOR, finding="排口再次出现污水")
    world.fire(rebound, "file_report", COORDINATOR, kind="followup", sha256="a" * 64, file="reports/followup.pdf")
    world.fire(rebound, "add_evidence", REPORTER, sha256="b" * 64, filename="现场.jpg", caption="反弹现场")

    # A joint meeting held this morning on two disputed issues: attendance, one decided, action items.
    agenda = [issue("会办议题甲", "hand_off"), issue("会办议题乙", "hand_off")]
    for code in agenda:
        world.fire(code, "dispute", RECEIVER, reason="责任不清")
    convened = convene_meeting(
        world.app.uow(),
        world.actor(COORDINATOR),
        MeetingDraft("QJ", "太安—白马跨界排口会办", START - timedelta(minutes=30), "白马镇政府会议室", agenda=agenda),
    )
    with world.app.reader() as uow:
        invited = meeting_view(uow.connection, convened.code, world.clock.now()).invitees
    marks = {p.code: "present" for p in invited} | {invited[0].code: "absent"}
    record_attendance(world.app.uow(), world.actor(COORDINATOR), convened.code, marks, {invited[0].code: "副镇长代"})
    decide(
        world.app.uow(),
        world.actor(COORDINATOR),
        convened.code,
        agenda[0],
        "由白马镇牵头整改",
        "封堵排口",
        date(2026, 4, 30),
    )
    add_action_item(  # still open, and late once the world has aged
        world.app.uow(),
        world.actor(COORDINATOR),
        "QJ",
        "建立联合巡查机制",
        "510904",
        date(2026, 3, 20),
        meeting=convened.code,
    )
    done = add_action_item(world.app.uow(), world.actor(COORDINATOR), "QJ", "通报整改进展", "500152", date(2026, 3, 10))
    complete_action_item(world.app.uow(), world.actor(COORDINATOR), done, "已通报")
    seen += [
        f"/meetings/{convened.code}",
        f"/meetings/{convened.code}?done=decision",
        "/actions?done=1",
    ]

    # Patrols: one ended with notes, one under way; a case and a lead; a filed ledger.
    ended = record_patrol(
        world.app.uow(),
        world.actor(REPORTER),
        "qj-taian",
        started_at=START - timedelta(hours=3),
        ended_at=START - timedelta(hours=2),
        notes="沿岸巡查，发现漂浮物",
    ).id
    start_patrol(world.app.uow(), world.actor(RECEIVER), "qj-baima", START - timedelta(minutes=20), notes="上午巡河")
    case = open_case(
        world.app.uow(),
        world.actor(COORDINATOR),
        "QJ",
        "sand_mining",
        "交界水域非法采砂联合查处",
        ["500152102", RECEIVING_CODE],
        date(2026, 2, 27),
        team=["潼南区农业农村委执法支队"],
        issues=[reported],
    )
    lead = transfer_lead(
        world.app.uow(),
        world.actor(REPORTER),
        "QJ",
        "500152102",
        "排污企业公益诉讼线索",
        "潼南区人民检察院",
        date(2026, 3, 1),
    )
    from riverchief.reporting import make_and_file

    make_and_file(world.app, "ledger", fmt="csv")
    coordinator = world.actor(COORDINATOR)
    bulletin = issue_progress_bulletin(world.app.uow(), coordinator, "QJ", date(2026, 2, 1), date(2026, 3, 2))
    seen += [f"/patrols/{ended}", f"/cases/{case}", f"/leads/{lead}", f"/reports?issued={quote(bulletin.number)}"]
    seen += [f"/issues/{handed}?done=accept", f"/issues/{half}?done=pass_check"]
    # Five weeks on: waits are overdue, the first revisits due, the meeting past.
    world.clock.advance(seconds=timedelta(days=35).total_seconds())
    return seen


@pytest.fixture
def walked(sqlite_world: World) -> tuple[World, list[str]]:
    seeds = build(sqlite_world)
    for person in PEOPLE:
        set_password(sqlite_world.app.uow(), person, PASSWORD)
    return sqlite_world, seeds


def walk(client: TestClient, person: str, lang: str, seeds: list[str], data: list[str]) -> tuple[int, list[str]]:
    """Sign in, then visit the home page, the seeds and every link found, a few per route pattern."""
    client.cookies.clear()
    signed = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert signed.status_code == 303
    client.cookies.set("rc_lang", lang)
    queue = ["/", *seeds, *EXTRA]
    taken: dict[str, int] = defaultdict(int)
    visited: set[str] = set()
    found: list[str] = []
    while queue:
        url = queue.pop(0)
        if url in visited:
            continue
        visited.add(url)
        answer = client.get(url)
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        words = Words(lang)
        words.feed(answer.text)
        found += [f"{person} {url}: {leak}" for leak in leaks(words.chunks, lang, data)]
        for href in words.links:
            target = followed(href)
            if target is None or target in visited:
                continue
            pattern = pattern_of(target)
            if taken[pattern] < PER_PATTERN:
                taken[pattern] += 1
                queue.append(target)
    return len(visited), found


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_speaks_the_persons_language_around_what_people_entered(
    walked: tuple[World, list[str]], lang: str
) -> None:
    world, seeds = walked
    data = user_data(world)
    found: list[str] = []
    pages = 0
    with TestClient(create_api(world.app)) as client:
        for person in PEOPLE:
            # The office and the admin act as the chiefs do or on none: a few pages of each kind are enough.
            count, leaked = walk(client, person, lang, [] if person in (OFFICE, ADMIN) else seeds, data)
            pages += count
            found += leaked
    assert pages > 150  # the walk reached the pages, not only the sign-in form
    # One line per distinct leak (the same label on many pages is one fault), the first page it was on.
    first: dict[str, str] = {}
    for line in found:
        first.setdefault(line.split(": ", 1)[1], line)
    assert not first, f"{len(first)} leaks on {lang} pages:\n" + "\n".join(sorted(first.values())[:150])


def test_the_walk_tells_code_names_and_foreign_words_from_user_data() -> None:
    data = ["白马镇段排污口", "QJ-2026-0001", "tn-taian"]
    assert leaks(["问题 QJ-2026-0001 白马镇段排污口 由 tn-taian 上报"], "zh-CN", data) == []
    assert leaks(["状态：du.closed"], "zh-CN", data) == ["'du.closed' in '状态：du.closed'"]
    assert leaks(["缺少 outfall_closed (missing)", "导出 CSV"], "zh-CN", data) == [
        "'outfall_closed missing' in '缺少 outfall_closed (missing)'"
    ]
    assert leaks(["Issue 白马镇段排污口 is closed"], "en", data) == []
    assert leaks(["Category：生活污染"], "en", data) == ["'：生活污染' in 'Category：生活污染'"]
    assert pattern_of("/issues/QJ-2026-0001?done=accept") == "/issues/{}?done"
    assert followed("/api/v1/issues") is None
    assert followed("/issues/export.csv?x=1") is None
    assert followed("https://example.org/x") is None
    assert {"du.closed", "outfall_closed", "followup", "city"} <= CODE_NAMES


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_refused_step_says_why_in_the_pages_language(sqlite_world: World, lang: str) -> None:
    """A guard's, a form check's, a meeting's and a case's refusals, each beside its field in the page's words."""
    world = sqlite_world
    accepted, reported, half = world.report(title="已受理"), world.report(title="刚上报"), world.report(title="复核中")
    walk_to(world, accepted, "accept")
    walk_to(world, half, "request_verify")
    world.fire(half, "pass_check", RECEIVER, checklist=CHECKLIST[:1])
    for person in (REPORTER, RECEIVER, COORDINATOR):
        set_password(world.app.uow(), person, PASSWORD)
    typed = ["清淤", "交界采砂"]  # what the refused forms keep, as user data
    zh = lang == "zh-CN"
    with TestClient(create_api(world.app)) as client:

        def post(person: str, page: str, target: str, **form: Any) -> str:
            client.cookies.clear()
            client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"})
            client.cookies.set("rc_lang", lang)
            html = client.get(page).text
            version = re.search(r'name="expected_version" value="(\d+)"', html)
            data = {"csrf_token": csrf_of(html), **form}
            if version is not None:
                data["expected_version"] = version.group(1)
            answer = client.post(target, data=data)
            assert answer.status_code == 422
            words = Words(lang)
            words.feed(answer.text)
            assert leaks(words.chunks, lang, [*user_data(world), *typed]) == []
            return answer.text

        def act(person: str, code: str, **form: Any) -> str:
            return post(person, f"/issues/{code}", f"/issues/{code}/act", **form)

        def said(html: str, field: str) -> str:
            found = re.search(rf'data-testid="error-{field}">([^<]+)<', html)
            assert found is not None, f"no error beside {field}"
            return html_text.unescape(found.group(1))

        past = act(RECEIVER, accepted, trigger="start_rectify", plan="清淤", deadline="2020-01-01")
        assert ("已过" if zh else "is in the past") in said(past, "deadline")
        missing = said(act(REPORTER, half, trigger="pass_check"), "checklist")
        assert ("现场复核确认" if zh else "Confirmed on site") in missing
        assert "site_check" not in missing or not zh
        own = said(act(REPORTER, reported, trigger="hand_off", receiving="500152102"), "receiving")
        assert ("发现方本方" if zh else "the reporting side's own jurisdiction") in own
        blank = said(act(RECEIVER, accepted, trigger="start_rectify", plan="", deadline=world.deadline()), "plan")
        assert blank == ("必填" if zh else "is required")
        case = post(
            COORDINATOR,
            "/cases/new",
            "/cases",
            compact="QJ",
            kind="sand_mining",
            title="交界采砂",
            opened_on="2099-01-01",
            parties=["500152102"],
        )
        assert ("两个以上" if zh else "two or more jurisdictions") in said(case, "parties")
        assert ("不能晚于今天" if zh else "is in the future") in said(case, "opened_on")
        stale = client.post(f"/issues/{accepted}/act", data={"csrf_token": "forged", "trigger": "negotiate"})
        assert stale.status_code == 403
        assert ("表单已过期" if zh else "The form is stale") in stale.text
