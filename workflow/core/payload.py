"""Checks a trigger's payload against the fields the chart declares for it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from states import Field, FieldKind, Transition
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed


def is_text(value: str) -> bool:
    """True when the string can be stored and hashed as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(field: Field, value: Any) -> tuple[Any, str | None]:
    """The normalised value, or an error reason."""
    match field.kind:
        case FieldKind.TEXT | FieldKind.JURISDICTION:
            if not isinstance(value, str):
                return None, "must be text"
            value = value.strip()
            if not value:
                return None, "must not be blank"
            if not is_text(value):
                return None, "contains characters that are not valid text (lone surrogates)"
            if len(value) > field.max_length:
                return None, f"is longer than {field.max_length} characters"
            return value, None
        case FieldKind.DATE:
            if isinstance(value, datetime):
                # A moment given for a day: the day it is in Asia/Shanghai.
                value = value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
            if isinstance(value, date):
                return value.isoformat(), None
            try:
                return date.fromisoformat(str(value).strip()).isoformat(), None
            except ValueError:
                return None, f"{value!r} is not a date (YYYY-MM-DD)"
        case FieldKind.CHOICE:
            if value not in field.choices:
                return None, f"{value!r} is not one of {', '.join(field.choices)}"
            return value, None
        case FieldKind.ITEMS:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                return None, "must be a list of item codes"
            cleaned = sorted({i.strip() for i in items if i.strip()})
            return cleaned, None
        case FieldKind.PERCENT:
            try:
                number = int(str(value).strip().rstrip("%"))
            except ValueError:
                return None, f"{value!r} is not a whole number"
            if not 0 <= number <= 100:
                return None, "must be between 0 and 100"
            return number, None
    raise AssertionError(field.kind)  # pragma: no cover


def validate(transition: Transition, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload normalised (dates as ISO text, stripped strings), or ValidationFailed naming each bad field."""
    known = {f.name: f for f in transition.fields}
    errors: list[tuple[str, str]] = [
        (name, f"unknown field for {transition.trigger!r}; it takes {', '.join(known) or 'no fields'}")
        for name in payload
        if name not in known
    ]
    clean: dict[str, Any] = {}
    for name, field in known.items():
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if field.required:
                errors.append((name, "is required"))
            continue
        normalised, reason = _check(field, value)
        if reason is not None:
            errors.append((name, reason))
            continue
        clean[name] = normalised
    if errors:
        raise ValidationFailed.of(errors)
    return clean
