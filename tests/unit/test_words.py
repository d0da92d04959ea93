"""One catalogue of words: the pages', the notices' and the reports' entries live in ``states.words``, each key
once, each in Chinese and English; a notice names its kind from it, never by its code, and says its subject and
its first sentence from it."""

from __future__ import annotations

import re
import string
from datetime import date, datetime, time
from pathlib import Path
from types import ModuleType

import pytest

from notifications.render import _kind_labels
from states import CHART
from states.audience import AUDIENCE
from states.words import WORDS, merged, notices, pages, word
from workflow.core.calendar import WorkCalendar
from workflow.core.clock import SHANGHAI
from workflow.core.deadlines import due_texts

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")  # CJK ideographs and punctuation, not “”
# Values every caller gives in both languages though only one of them writes it (the English month's name).
ONE_SIDED = {"month", "month_name"}
# Entries that differ between the languages on purpose: the language switch names the other language in its
# own words, and a GeoJSON error gives the parser's own reason only in English, which it is written in.
SWITCH = "switch_lang"
ENGLISH_ONLY_VALUES = {"admin_bad_json": {"why"}}
# What the system sends: a notice of each step, and of each topic the catalogue names (a meeting, a revisit...).
TOPICS = sorted({key.split(".")[1] for key in notices.WORDS if key.count(".") == 1} - {"other", "place_with_code"})
KINDS = sorted({*CHART.trigger_names(), *TOPICS})
HEARD = sorted({*(trigger for trigger, parties in AUDIENCE.items() if parties), *TOPICS})
PARTIES = {"reporting", "receiving", "coordinator", "auditor"}


def _module(**words: tuple[str, str]) -> ModuleType:
    module = ModuleType("words")
    module.WORDS = words  # type: ignore[attr-defined]
    return module


def test_a_key_in_two_modules_is_refused_when_the_catalogue_is_made() -> None:
    with pytest.raises(ValueError, match="'nav_home'"):
        merged(_module(nav_home=("首页", "Home")), _module(nav_home=("主页", "Home page")))
    assert dict(merged(_module(a=("甲", "A")), _module(b=("乙", "B")))) == {"a": ("甲", "A"), "b": ("乙", "B")}


def test_the_catalogue_holds_the_pages_and_the_notices_words_and_the_reports() -> None:
    assert set(pages.WORDS) <= set(WORDS)
    assert set(notices.WORDS) <= set(WORDS)
    assert WORDS["common.system"] == ("系统", "the system")  # a report's entry
    with pytest.raises(TypeError):
        WORDS["login"] = ("登入", "Sign in")  # type: ignore[index]


@pytest.mark.parametrize("key", sorted([*pages.WORDS, *notices.WORDS]))
def test_every_page_and_notice_entry_has_both_languages_with_the_same_blanks(key: str) -> None:
    zh, en = WORDS[key]
    assert zh.strip(), f"{key}: no Chinese"
    assert en.strip(), f"{key}: no English"
    assert key == SWITCH or not CHINESE.search(en), f"{key}: its English has Chinese in it: {en!r}"
    fields = [{f for _, f, _, _ in string.Formatter().parse(text) if f} - ONE_SIDED for text in (zh, en)]
    fields[1] -= ENGLISH_ONLY_VALUES.get(key, set())
    assert fields[0] == fields[1], f"{key}: the Chinese fills {fields[0]}, the English {fields[1]}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_notice_is_named_by_the_chart_or_the_catalogue(kind: str) -> None:
    zh, en = _kind_labels(kind)
    if kind in CHART.trigger_names():
        assert (zh, en) == (CHART.trigger_label(kind), CHART.trigger_label(kind, en=True))
    else:
        assert (zh, en) == WORDS[f"notice.{kind}"]
    assert CHINESE.search(zh), zh  # words, not the kind's code
    assert "_" not in zh + en, (zh, en)


def test_a_kind_the_catalogue_lacks_is_a_plain_notice_not_its_code() -> None:
    assert _kind_labels("pump_station_alarm") == ("通知", "notice")


@pytest.mark.parametrize("layout", ["email.txt.j2", "email.html.j2", "robot.md.j2"])
def test_the_frame_of_every_message_takes_its_words_from_the_catalogue(layout: str) -> None:
    # One frame per layout for both languages; a Chinese (or English) word written into it would reach readers
    # of the other language. The kinds' own sentences are the catalogue's too (``notice.<kind>.*``).
    text = (ROOT / "notifications" / "templates" / layout).read_text(encoding="utf-8")
    assert not CHINESE.search(text), CHINESE.findall(text)
    words = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|<[^>]*>|&\w+;", " ", text, flags=re.S)
    assert not re.findall(r"[A-Za-z]{2,}", words.replace("doctype html", "")), words


@pytest.mark.parametrize("kind", HEARD)
def test_every_kind_someone_hears_of_has_a_sentence_of_its_own(kind: str) -> None:
    # Not only what it is called ("Hand off."): what happened and what it asks of the reader.
    asks = [key for key in notices.WORDS if key.startswith(f"notice.{kind}.ask")]
    assert f"notice.{kind}.ask" in asks or len(asks) > 1, f"{kind} says only its name"
    subject = f"notice.{kind}.subject" if kind in TOPICS and f"notice.{kind}.subject" in WORDS else None
    assert subject or f"notice.{kind}.tag" in WORDS, f"{kind} has no subject of its own"


def test_each_sentence_variant_names_a_kind_and_a_party_or_a_field_it_can_be_chosen_by() -> None:
    # A variant whose suffix is misspelt would never be chosen: its readers would get the plain sentence.
    for key in notices.WORDS:
        parts = key.split(".")
        if len(parts) != 3 or parts[1] in {"frame", "subject", "default"}:
            continue
        kind, entry = parts[1], parts[2]
        assert kind in KINDS, key
        if entry.startswith("ask_to_"):
            assert entry.removeprefix("ask_to_") in PARTIES, key
        elif entry.startswith("ask_with_") and kind in CHART.trigger_names():
            assert entry.removeprefix("ask_with_") in CHART.field_labels(kind), key
        else:
            assert entry in {
                "ask",
                "tag",
                "subject",
                "agenda",
                "agenda_item",
                "agenda_sep",
                "no_agenda",
            } or entry.startswith("ask_with_"), key


def test_english_says_one_of_a_count_in_the_singular_and_chinese_has_one_form() -> None:
    assert word("revisit_more_due", True, n=1) == "1 more planned revisit is due too; this visit covers it"
    assert word("revisit_more_due", True, n=2) == "2 more planned revisits are due too; this visit covers them"
    assert word("revisit_more_due", False, n=1) == "另有 1 次计划回访也已到期，本次一并开展"
    assert word("issues_n", True, n=0) == "0 issues"


@pytest.mark.parametrize("key", sorted(key for key in WORDS if key.endswith(".one")))
def test_each_singular_stands_beside_its_plural_with_the_same_chinese_and_blanks(key: str) -> None:
    plural = key.removesuffix(".one")
    assert plural in WORDS, f"{key} has no plural to stand beside"
    assert WORDS[key][0] == WORDS[plural][0], f"{key}: Chinese has one form"
    blanks = [{f for _, f, _, _ in string.Formatter().parse(WORDS[k][1]) if f} for k in (key, plural)]
    assert "n" in blanks[1], f"{plural} counts nothing named n"
    assert blanks[0] <= blanks[1], key


@pytest.mark.parametrize(
    ("due_on", "zh", "en"),
    [
        ("2026-03-05", "前，今日到期", "(Beijing time), due today"),
        ("2026-03-06", "前，还有 1 个工作日", "(Beijing time), 1 working day left"),
        ("2026-03-09", "前，还有 2 个工作日", "(Beijing time), 2 working days left"),  # over the weekend
        ("2026-03-04", "，已超期 1 个工作日", "(Beijing time), 1 working day overdue"),
        ("2026-03-02", "，已超期 3 个工作日", "(Beijing time), 3 working days overdue"),
    ],
)
def test_a_deadline_counts_its_working_days_in_each_language(due_on: str, zh: str, en: str) -> None:
    now = datetime(2026, 3, 5, 10, 0, tzinfo=SHANGHAI)  # a Thursday
    due = datetime.combine(date.fromisoformat(due_on), time(23, 59), tzinfo=SHANGHAI)
    said_zh, said_en = due_texts(WorkCalendar(), due, now)
    assert said_zh == f"{due_on} 23:59（北京时间）{zh}"
    assert said_en == f"{due_on} 23:59 {en}"
