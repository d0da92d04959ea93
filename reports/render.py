"""Jinja2 HTML to PDF with WeasyPrint: one warm renderer, one font configuration, one stylesheet.

The renderer checks for a Simplified Chinese font when it is made, loads
resources only through ``SafeFetcher``, and stamps each PDF with fixed
metadata (title, author = the compact, subject, keywords, dates taken from
the data) so the same data gives the same document.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from reports.fetcher import ASSET_SCHEME, ASSETS, SafeFetcher
from reports.fonts import check_cjk_font
from reports.words import DEFAULT, LANGUAGES, Words, check_lang, say
from workflow.core.clock import SHANGHAI

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What goes in the header, the footer and the PDF metadata."""

    title: str
    compact: str
    number: str  # the document number, e.g. QJ联防通报〔2026〕03号
    subject: str
    keywords: tuple[str, ...]
    generated_at: datetime  # taken from the data (the period's end, the last event), never "now"


class ReportRenderer:
    """Renders report templates to PDF bytes; make one and keep it (the font configuration is costly)."""

    def __init__(self, attachments: Path | None = None) -> None:
        self.font_family = check_cjk_font()
        self.attachments = attachments
        self.font_config = FontConfiguration()
        self.stylesheet = CSS(
            string=(ASSETS / "report.css").read_text(encoding="utf-8"),
            font_config=self.font_config,
            url_fetcher=SafeFetcher(attachments),
        )
        self.page_words = {lang: CSS(string=_page_words(lang), font_config=self.font_config) for lang in LANGUAGES}
        # One environment per language, the catalogue in its globals, so imported macros see ``t`` too.
        self.envs = {lang: self._environment(lang) for lang in LANGUAGES}

    @staticmethod
    def _environment(lang: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html", "j2"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["local"] = _local
        env.filters["day"] = _day
        env.globals.update(t=Words(lang), lang=lang)
        return env

    def html(self, template: str, info: DocumentInfo, *, lang: str = DEFAULT, **context: Any) -> str:
        """The report's HTML (autoescaped) in ``lang``, as handed to WeasyPrint: ``t`` is the catalogue."""
        env = self.envs[check_lang(lang)]
        return env.get_template(template).render(info=info, font=self.font_family, **context)

    def pdf(self, html: str, *, archival: bool = False, lang: str = DEFAULT) -> bytes:
        """Render HTML to PDF bytes, its page footers in ``lang``; ``archival`` gives PDF/A-3u."""
        document = HTML(string=html, base_url=f"{ASSET_SCHEME}:/", url_fetcher=SafeFetcher(self.attachments))
        options: dict[str, Any] = {
            "stylesheets": [self.stylesheet, self.page_words[check_lang(lang)]],
            "font_config": self.font_config,
            "custom_metadata": True,
            "pdf_identifier": hashlib.sha256(html.encode()).hexdigest()[:32].encode(),
        }
        if archival:
            options["pdf_variant"] = "pdf/a-3u"
        result = document.write_pdf(**options)
        assert result is not None
        return bytes(result)

    def render(
        self, template: str, info: DocumentInfo, *, archival: bool = False, lang: str = DEFAULT, **context: Any
    ) -> bytes:
        """Template to PDF in one call."""
        return self.pdf(self.html(template, info, lang=lang, **context), archival=archival, lang=lang)


def _page_words(lang: str) -> str:
    """The footer's "page 2 of 5" in ``lang``, as CSS: the catalogue's words around the page counters."""
    words = say("common.page_of", lang, page="\0", pages="\1")
    before, rest = words.split("\0")
    middle, after = rest.split("\1")
    quoted = [json.dumps(part, ensure_ascii=False) for part in (before, middle, after)]  # CSS reads \" and \\ so
    content = f"{quoted[0]} counter(page) {quoted[1]} counter(pages) {quoted[2]}"
    return "@page { @bottom-center { content: " + content + "; } }"


def _local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else "—"


def _day(value: datetime | None) -> str:
    return _local(value, "%Y-%m-%d")
