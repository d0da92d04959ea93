"""The reports' words come from one catalogue, in Chinese and English, and nowhere else.

Read from the sources themselves: a Chinese word written straight into a report template, or into a string
a report builder or the dossier hands a template, fails here, as does a catalogue entry with no English, an
English entry with Chinese in it, a key used but missing, or a key kept but never used.
"""

from __future__ import annotations

import ast
import re
import string
from datetime import date, datetime
from pathlib import Path

import pytest

from reports.words import OWN as WORDS
from reports.words import Words, check_lang, say
from workflow.core.clock import SHANGHAI

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "reports" / "templates").glob("*.j2"))
# The Python that words a report: everything in reports/ but the catalogue itself, and the dossier that
# gathers each report's data.
SOURCES = [
    *sorted(p for p in (ROOT / "reports").rglob("*.py") if "words" not in p.relative_to(ROOT / "reports").parts),
    ROOT / "workflow" / "reading" / "dossier.py",
]
# CJK ideographs, CJK punctuation (。、“”〔〕…) and full-width forms (（），：).
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef\u2018-\u201d]+")
# The same without the curly quotes, which English writes too.
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
# Values every caller gives in both languages though only one of them writes it (the English month's name).
ONE_SIDED = {"month", "month_name"}
KEY_CALL = re.compile(r"""(?:\bt|\bself|\bsay|\bwords|\bWords\([^)]*\))\(\s*["']([a-z_]+\.[a-z0-9_.]*[a-z0-9_])["']""")
KEY_LITERAL = re.compile(r"""["']([a-z_]+\.[a-z0-9_.]*)["']""")


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that a reader could see: not docstrings, not comments."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _template_text(path: Path) -> str:
    """A template without its comments."""
    return re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_template_writes_a_chinese_word_of_its_own(path: Path) -> None:
    found = [(n, m.group()) for n, line in enumerate(_template_text(path).splitlines(), 1) for m in CJK.finditer(line)]
    assert not found, f"{path.name} has words outside the catalogue (line, text): {found}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_report_builder_or_dossier_string_carries_a_chinese_word(path: Path) -> None:
    found = [(line, text) for line, text in _strings(path) if CJK.search(text)]
    assert not found, f"{path.relative_to(ROOT)} has words outside the catalogue (line, text): {found}"


@pytest.mark.parametrize("key", sorted(WORDS))
def test_every_entry_has_both_languages_with_the_same_blanks(key: str) -> None:
    zh, en = WORDS[key]
    assert zh.strip(), f"{key}: no Chinese"
    assert en.strip(), f"{key}: no English"
    assert not CHINESE.search(en), f"{key}: its English has Chinese in it: {en!r}"
    fields = [{f for _, f, _, _ in string.Formatter().parse(text) if f} - ONE_SIDED for text in (zh, en)]
    assert fields[0] == fields[1], f"{key}: the Chinese fills {fields[0]}, the English {fields[1]}"


def _used() -> tuple[set[str], set[str]]:
    """The keys the templates and builders name outright, and the prefixes of those they build (f"x.{y}")."""
    named: set[str] = set()
    prefixes: set[str] = set()
    for path in [*TEMPLATES, *SOURCES]:
        text = path.read_text(encoding="utf-8")
        named.update(KEY_CALL.findall(text))
        named.update(k for k in KEY_LITERAL.findall(text) if k in WORDS)
        # A key made up at run time: "ledger.head." ~ head, f"documents.number.{kind}"
        prefixes.update(re.findall(r"""["']([a-z_]+\.(?:[a-z0-9_]+\.)*)["']\s*~""", text))
        prefixes.update(re.findall(r"""f["']([a-z_]+\.(?:[a-z0-9_]+\.)*)\{""", text))
    words_module = (ROOT / "reports" / "words" / "__init__.py").read_text(encoding="utf-8")
    prefixes.update(re.findall(r"""f["']([a-z_]+\.(?:[a-z0-9_]+\.)*)\{""", words_module))
    named.update(KEY_CALL.findall(words_module))
    return named, prefixes


def test_every_key_a_report_names_is_in_the_catalogue() -> None:
    named, _ = _used()
    assert named, "no key found: the pattern that finds them is broken"
    assert sorted(named - set(WORDS)) == []


def test_every_key_in_the_catalogue_is_used() -> None:
    named, prefixes = _used()
    unused = [k for k in WORDS if k not in named and not any(k.startswith(p) for p in prefixes)]
    assert unused == []


def test_a_missing_key_raises_rather_than_showing_the_key() -> None:
    with pytest.raises(KeyError):
        say("no.such.key")


def test_an_unknown_language_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="lang"):
        check_lang("fr")
    with pytest.raises(ValueError, match="lang"):
        Words("zh")


def test_dates_months_and_lists_in_each_language() -> None:
    zh, en = Words("zh-CN"), Words("en")
    assert (zh.month("2026-03"), en.month("2026-03")) == ("2026年3月", "March 2026")
    assert (zh.day(date(2026, 3, 18)), en.day(date(2026, 3, 18))) == ("2026年3月18日", "18 March 2026")
    # A moment is its day in Beijing: 17:00 UTC on the 18th is already the 19th there.
    late = datetime(2026, 3, 18, 17, 0).replace(tzinfo=SHANGHAI).astimezone(SHANGHAI)
    assert en.day(late) == "18 March 2026"
    assert en.day(datetime.fromisoformat("2026-03-18T17:00:00+00:00")) == "19 March 2026"
    assert (zh.join(["甲", "乙"]), en.join(["A", "B"])) == ("甲、乙", "A, B")
    assert (zh.state("ban.rectifying"), en.state("ban.rectifying")) != ("ban.rectifying", "ban.rectifying")
    assert not CJK.search(en.state("ban.rectifying"))
    assert CJK.search(zh.state("ban.rectifying"))
    assert en.category("no_such_category") == "no_such_category"  # a category the policy no longer lists


@pytest.mark.parametrize(
    ("kind", "period", "issue", "path", "remade"),
    [
        ("followup", None, "QJ-2026-0001", "r/f.pdf", {"issue": "QJ-2026-0001"}),
        ("ledger", None, None, "r/l.xlsx", {"fmt": "xlsx"}),
        ("ledger", "2026-03", None, "r/l.pdf", {"fmt": "pdf", "period": "2026-03"}),
        ("bulletin", "2026-03", None, "r/b.pdf", {"period": "2026-03"}),
        ("progress", "2026-003", None, "r/p.pdf", {"period": "2026-003"}),
        ("interview", "2026-Q1", None, "r/i.pdf", {"period": "2026-Q1"}),
        ("revisit", "2026-04", None, "r/r.pdf", {"period": "2026-04"}),
        ("revisit", "2026-04-17", None, "r/r.pdf", {"period": "2026-04-17"}),
        ("minutes", "2026-03", None, "r/m.pdf", {"period": "2026-03"}),
        ("minutes", "QJ-HY-2026-001", None, "r/m.pdf", {"meeting": "QJ-HY-2026-001"}),
        ("revisit", "20260301-20260314", None, "r/r.pdf", None),  # the auditor's choice is not in the record
    ],
)
def test_a_filed_report_is_made_again_from_its_record_as_its_kind_is_made(
    kind: str, period: str | None, issue: str | None, path: str, remade: dict[str, str] | None
) -> None:
    from workflow.reading.records import ReportRow

    row = ReportRow(1, "QJ", kind, period, "t", issue, path, "0" * 64, 1, datetime(2026, 4, 1, tzinfo=SHANGHAI))
    assert row.remade() == (None if remade is None else {"kind": kind, "compact": "QJ", **remade})
