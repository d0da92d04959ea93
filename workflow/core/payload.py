"""Input checks: the one check every edge runs on text, days, numbers and documents; and a trigger's payload.

Every interface (the API, the pages, Open311, the CLI, reference and map loading) runs
these same checks where input enters, so that what one database would store and another
would refuse (a NUL, a lone surrogate, the year 1, a 5,000-digit number, a document
nested a thousand deep) is refused alike everywhere, naming the field, before anything
is looked up or changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from states import Field, FieldKind, Transition
from workflow.core.clock import SHANGHAI
from workflow.core.errors import Reason, ValidationFailed
from workflow.core.text import is_text as is_text  # re-exported: the edges import every input check from here
from workflow.core.text import text_problem as text_problem

# The days any input may name: the calendar, the ledger and PostgreSQL's timestamps all work in between.
DAY_MIN = date(1970, 1, 1)
DAY_MAX = date(2100, 12, 31)
# The largest integer a database column holds (PostgreSQL's integer: every id and version here is one).
INT_MAX = 2**31 - 1
# The widest integer a document may write out.
MAX_DIGITS = 30
# How deep a document may nest its lists and mappings: reference data and GeoJSON need about ten.
MAX_DEPTH = 64
MAX_PROBLEMS = 20  # bad places named in one refusal of a document


def check_text(field: str, value: str | None) -> None:
    """Refuse a string no database may store, naming the field (None passes)."""
    reason = text_problem(value) if value is not None else None
    if reason is not None:
        raise ValidationFailed(field, reason)


def day_problem(day: date) -> str | None:
    """Why a day is outside the range any input may name, or None."""
    if not DAY_MIN <= day <= DAY_MAX:
        return f"必须在 {DAY_MIN.isoformat()} 与 {DAY_MAX.isoformat()} 之间 (must be from {DAY_MIN} to {DAY_MAX})"
    return None


def check_day(field: str, day: date | None) -> None:
    """Refuse a day outside 1970-2100, naming the field (None passes)."""
    reason = day_problem(day) if day is not None else None
    if reason is not None:
        raise ValidationFailed(field, reason)


def check_int(field: str, value: int | None, low: int = 0, high: int = INT_MAX) -> None:
    """Refuse an integer outside [low, high], naming the field (None passes)."""
    if value is not None and not low <= value <= high:
        raise ValidationFailed(field, f"必须在 {low} 与 {high} 之间 (must be from {low} to {high})")


@dataclass(frozen=True, slots=True)
class TooManyDigits:
    """Stands in a parsed document for an integer written with more than MAX_DIGITS digits (never converted)."""

    digits: int


def checked_int(text: str) -> int | TooManyDigits:
    """An integer from its digits, or a TooManyDigits marker the document check names by its place."""
    digits = len(text.lstrip("+-"))
    return int(text) if digits <= MAX_DIGITS else TooManyDigits(digits)


def depth_problem(text: str | bytes) -> str | None:
    """Why a JSON text nests deeper than MAX_DEPTH, or None; measured before it is parsed (strings skipped)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return f"嵌套超过 {MAX_DEPTH} 层 (nested more than {MAX_DEPTH} deep)"
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return None


def _joined(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _problems(document: Any, root: str) -> Iterator[tuple[str, str]]:
    # Iterative, not recursive: a document as deep as Python's stack is refused, not a crash.
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        where = path or root
        if depth > MAX_DEPTH:
            yield where, f"嵌套超过 {MAX_DEPTH} 层 (nested more than {MAX_DEPTH} deep)"
            continue
        if isinstance(value, str):
            if reason := text_problem(value):
                yield where, reason
        elif isinstance(value, TooManyDigits):
            yield where, f"数字位数过多 (a number of {value.digits} digits; at most {MAX_DIGITS})"
        elif isinstance(value, bool | float) or value is None:
            continue
        elif isinstance(value, int):
            if value.bit_length() > 64:
                yield where, "数字过大 (a number outside the 64-bit range)"
        elif isinstance(value, Mapping):
            children = []
            for key, item in value.items():
                if isinstance(key, str) and (reason := text_problem(key)):
                    yield where, f"a key {reason}"
                    continue
                if isinstance(key, TooManyDigits):
                    yield where, f"a key is a number of {key.digits} digits; at most {MAX_DIGITS}"
                    continue
                children.append((item, _joined(path, key if isinstance(key, str) else str(key)), depth + 1))
            stack.extend(reversed(children))
        elif isinstance(value, list | tuple):
            stack.extend(reversed([(item, _joined(path, i), depth + 1) for i, item in enumerate(value)]))


def document_problems(document: Any, root: str = "body") -> list[tuple[str, str]]:
    """Each place in a parsed document holding text no database stores, a huge number or too deep a nesting.

    Places are named by their path from the document's root (``payload.checklist[0]``);
    ``root`` names the whole document. At most MAX_PROBLEMS are named.
    """
    found: list[tuple[str, str]] = []
    for problem in _problems(document, root):
        found.append(problem)
        if len(found) == MAX_PROBLEMS:
            break
    return found


def check_parsed(document: Any, root: str = "body") -> None:
    """Refuse a parsed document with any of ``document_problems``, naming each place."""
    if problems := document_problems(document, root):
        raise ValidationFailed.of(problems)


def load_json(text: str | bytes, root: str = "body") -> Any:
    """Parse JSON within the edge's bounds: depth checked before parsing, numbers' digits while parsing, then text.

    json.JSONDecodeError (a ValueError) passes through for the caller to word; every
    other refusal is a ValidationFailed naming ``root`` or the place in the document.
    """
    if reason := depth_problem(text):
        raise ValidationFailed(root, reason)
    try:
        document = json.loads(text, parse_int=checked_int)
    except RecursionError as exc:  # pragma: no cover - depth_problem refuses first
        raise ValidationFailed(root, f"nested more than {MAX_DEPTH} deep") from exc
    check_parsed(document, root)
    return document


def _check(field: Field, value: Any) -> tuple[Any, str | None]:
    """The normalised value, or an error reason (worded from the catalogue on the pages)."""
    match field.kind:
        case FieldKind.TEXT | FieldKind.JURISDICTION:
            if not isinstance(value, str):
                return None, Reason("not_text")
            value = value.strip()
            if not value:
                return None, Reason("blank")
            if reason := text_problem(value):
                return None, reason
            if len(value) > field.max_length:
                return None, Reason("too_long", n=field.max_length)
            return value, None
        case FieldKind.DATE:
            if isinstance(value, datetime):
                # A moment given for a day: the day it is in Asia/Shanghai.
                value = value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
            if not isinstance(value, date):
                try:
                    value = date.fromisoformat(str(value).strip())
                except ValueError:
                    return None, Reason("not_a_date", value=value)
            reason = day_problem(value)
            return (None, reason) if reason else (value.isoformat(), None)
        case FieldKind.CHOICE:
            if value not in field.choices:
                return None, Reason("not_a_choice", value=value, choices=", ".join(field.choices))
            return value, None
        case FieldKind.ITEMS:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                return None, Reason("not_items")
            if reason := next((r for i in items if (r := text_problem(i))), None):
                return None, reason
            cleaned = sorted({i.strip() for i in items if i.strip()})
            return cleaned, None
        case FieldKind.PERCENT:
            try:
                number = int(str(value).strip().rstrip("%"))
            except ValueError:
                return None, Reason("not_whole", value=value)
            if not 0 <= number <= 100:
                return None, Reason("between", low=0, high=100)
            return number, None
    raise AssertionError(field.kind)  # pragma: no cover


def validate(transition: Transition, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload normalised (dates as ISO text, stripped strings), or ValidationFailed naming each bad field."""
    known = {f.name: f for f in transition.fields}
    takes = f"it takes {', '.join(known) or 'no fields'}"
    errors: list[tuple[str, str]] = [
        # A name that is not text is not echoed back: it could not be written out.
        ("payload", f"a field's name {reason}; {takes}")
        if (reason := text_problem(name) if isinstance(name, str) else "is not text")
        else (name, f"unknown field for {transition.trigger!r}; {takes}")
        for name in payload
        if name not in known
    ]
    clean: dict[str, Any] = {}
    for name, field in known.items():
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if field.required:
                errors.append((name, Reason("required")))
            continue
        normalised, reason = _check(field, value)
        if reason is not None:
            errors.append((name, reason))
            continue
        clean[name] = normalised
    if errors:
        raise ValidationFailed.of(errors)
    return clean
