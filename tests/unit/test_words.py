"""One catalogue of words: the pages', the notices' names and the reports' entries live in ``states.words``, each
key once, each in Chinese and English; the notices name their kind from it, never by its code."""

from __future__ import annotations

import re
import string
from pathlib import Path
from types import ModuleType

import pytest

from notifications.render import _kind_labels
from states import CHART
from states.words import WORDS, merged, notices, pages

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")  # CJK ideographs and punctuation, not “”
# Values every caller gives in both languages though only one of them writes it (the English month's name).
ONE_SIDED = {"month", "month_name"}
# Entries that differ between the languages on purpose: the language switch names the other language in its
# own words, and a GeoJSON error gives the parser's own reason only in English, which it is written in.
SWITCH = "switch_lang"
ENGLISH_ONLY_VALUES = {"admin_bad_json": {"why"}}
KINDS = sorted(p.stem for p in (ROOT / "notifications" / "templates" / "zh-CN" / "kinds").glob("*.j2"))


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


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "_default"])
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
    # of the other language. The kinds' own sentences are in their templates for each language.
    text = (ROOT / "notifications" / "templates" / layout).read_text(encoding="utf-8")
    assert not CHINESE.search(text), CHINESE.findall(text)
    words = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|<[^>]*>|&\w+;", " ", text, flags=re.S)
    assert not re.findall(r"[A-Za-z]{2,}", words.replace("doctype html", "")), words
