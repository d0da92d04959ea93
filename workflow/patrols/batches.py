"""Many ended patrols recorded at once (a phone's backlog, a year's import): one transaction, all or nothing.

The rules are ``record_patrol``'s, checked for the whole batch with a fixed number of queries whatever its
size: the segments in one, the swap pairings of those segments in one, the patroller's patrols the batch could
overlap in one (overlaps inside the batch are found in memory), and the rows inserted in one executemany.
Every refusal is named with the patrol's index in the batch: ``[3].ended_at``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.errors import ValidationFailed
from workflow.core.models import Patrol, table_of
from workflow.core.uow import UnitOfWork
from workflow.patrols.basics import BATCH_MAX, local_day, segment_rows
from workflow.patrols.pairings import live_on, pairings_for
from workflow.patrols.records import (
    API_FIELDS,
    PatrolRecorded,
    check_kind_notes,
    check_patroller,
    clash_reason,
    decide_kind,
    running_until,
    times,
)
from workflow.patrols.tracks import Track

_patrol = table_of(Patrol)


@dataclass(frozen=True, slots=True)
class PatrolItem:
    """One ended patrol of a batch, as the caller gives it."""

    segment: str
    started_at: datetime | None
    ended_at: datetime | None
    track: Track | None = None
    kind: str | None = None
    notes: str = ""


def indexed(index: int, errors: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Errors of the batch's ``index``-th patrol, their fields named ``[index].field``."""
    return [(f"[{index}].{field}", reason) for field, reason in errors]


def record_patrols(uow: UnitOfWork, actor: Actor, items: Sequence[PatrolItem]) -> list[PatrolRecorded]:
    """Record every patrol of ``items`` by ``actor``, or none: a ValidationFailed names each bad one by index."""
    if not items:
        raise ValidationFailed("body", "holds no patrol")
    if len(items) > BATCH_MAX:
        raise ValidationFailed("body", f"holds {len(items)} patrols; send at most {BATCH_MAX} at once")
    for kind in sorted({item.kind or "" for item in items}):  # an office may inspect (covert), not patrol
        patroller = check_patroller(actor, kind or None)
    errors: list[tuple[str, str]] = []
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        segments = segment_rows(conn, (item.segment for item in items))
        pairings = pairings_for(conn, patroller, (seg.id for seg in segments.values()))
        rows: list[dict[str, object]] = []
        spans: list[tuple[datetime, datetime, int]] = []
        decided: list[tuple[str, int | None, datetime, datetime, int, int | None]] = []
        for i, item in enumerate(items):
            try:
                if problems := check_kind_notes(item.kind, item.notes):
                    raise ValidationFailed.of(problems)
                seg = segments.get(item.segment)
                if seg is None:
                    raise ValidationFailed("segment", f"no segment with code {item.segment!r}")
                start, end = times(item.started_at, item.ended_at, item.track, now, API_FIELDS)
                first, last = local_day(start), local_day(end)
                given = live_on(pairings.get(seg.id, ()), first, last)
                kind, pairing_id = decide_kind(actor, seg, item.kind, first, last, lambda: given)  # noqa: B023
            except ValidationFailed as exc:
                errors.extend(indexed(i, exc.errors))
                continue
            track = item.track
            length = round(track.length_m) if track is not None else None
            duration = int((end - start).total_seconds())
            spans.append((start, end, i))
            decided.append((kind, pairing_id, start, end, duration, length))
            rows.append(
                {
                    "patroller_id": patroller,
                    "segment_id": seg.id,
                    "kind": kind,
                    "pairing_id": pairing_id,
                    "started_at": start,
                    "ended_at": end,
                    "duration_s": duration,
                    "length_m": length,
                    "track": track.geojson() if track is not None else None,
                    "notes": item.notes.strip(),
                    "created_at": now,
                }
            )
        if spans:
            errors.extend(_overlaps(conn, actor, spans, now))
        if errors:
            raise ValidationFailed.of(sorted(errors, key=_by_index))
        inserted = conn.execute(_patrol.insert().returning(_patrol.c.id, sort_by_parameter_order=True), rows)
        ids = [int(row.id) for row in inserted]
        uow.commit()
    return [PatrolRecorded(pid, *facts) for pid, facts in zip(ids, decided, strict=True)]


def record_all(
    uow: UnitOfWork, actor: Actor, items: Sequence[PatrolItem], *, progress: Callable[[int], None] | None = None
) -> list[PatrolRecorded]:
    """Record any number of ended patrols by ``actor`` (a folder of a year's tracks) in one transaction, or none.

    They go ``BATCH_MAX`` at a time through ``record_patrols`` inside one held unit of work, so a later batch's
    overlap check sees the earlier batches' rows; the first refused batch stops it all, its refusals named by
    the patrols' index in ``items``. ``progress`` is told how many each batch recorded.
    """
    if not items:
        raise ValidationFailed("body", "holds no patrol")
    recorded: list[PatrolRecorded] = []
    with uow.held():
        for first in range(0, len(items), BATCH_MAX):
            batch = items[first : first + BATCH_MAX]
            try:
                recorded += record_patrols(uow, actor, batch)
            except ValidationFailed as exc:
                raise ValidationFailed.of([(_shifted(field, first), reason) for field, reason in exc.errors]) from None
            if progress is not None:
                progress(len(batch))
    return recorded


def _shifted(field: str, by: int) -> str:
    """``[3].ended_at`` of a batch starting at ``by`` as the same patrol's field in the whole list."""
    index, sep, rest = field.partition("].")
    return f"[{int(index[1:]) + by}].{rest}" if field.startswith("[") and sep else field


def _overlaps(
    conn: sa.Connection, actor: Actor, spans: list[tuple[datetime, datetime, int]], now: datetime
) -> list[tuple[str, str]]:
    """Each patrol of the batch that overlaps another of it, or one stored (one query for the whole batch)."""
    errors = []
    spans = sorted(spans)
    for (_, end_a, a), (start_b, _, b) in itertools.pairwise(spans):
        if start_b < end_a:
            errors.append((f"[{b}].started_at", f"overlaps patrol [{a}] of this batch"))
    earliest = spans[0][0]
    latest = max(end for _, end, _ in spans)
    stored = conn.execute(
        sa.select(_patrol.c.id, _patrol.c.started_at, _patrol.c.ended_at, running_until(now).label("until"))
        .where(_patrol.c.patroller_id == actor.id, _patrol.c.started_at < latest, running_until(now) > earliest)
        .order_by(_patrol.c.started_at)
    ).all()
    if stored:
        for start, end, i in spans:
            clash = next((s for s in stored if s.started_at < end and s.until > start), None)
            if clash is not None:
                errors.append((f"[{i}].started_at", clash_reason(actor, clash)))
    return errors


def _by_index(error: tuple[str, str]) -> tuple[int, str]:
    field = error[0]
    return (int(field[1 : field.index("]")]), field) if field.startswith("[") else (-1, field)
