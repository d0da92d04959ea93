"""The one test of text every edge runs: what no database stores alike (a NUL, a lone surrogate).

Apart from ``workflow.core.payload`` so that the command line can check its arguments before it imports
anything else (``payload`` needs the statechart).
"""

from __future__ import annotations

NUL_REASON = "含有空字符 NUL (contains a NUL character)"
SURROGATE_REASON = "含有无效字符 (contains characters that are not valid text: lone surrogates)"


def is_text(value: str) -> bool:
    """True when the string can be stored and hashed as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored alike on every database (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return NUL_REASON
    if not is_text(value):
        return SURROGATE_REASON
    return None
