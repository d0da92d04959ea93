"""Many patrols at once: ``record_all`` sends them in batches, all in one transaction."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.factories import World
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.patrols import batches
from workflow.patrols.batches import PatrolItem, record_all
from workflow.patrols.records import list_patrols


def at(day: int, hour: int) -> datetime:
    """A March 2026 time in Shanghai."""
    return datetime(2026, 3, day, hour, tzinfo=SHANGHAI)


def stored(world: World) -> list[datetime]:
    """When each stored patrol started, in order."""
    with world.app.reader() as uow:
        return sorted(p.started_at for p in list_patrols(uow.connection))


def test_an_import_longer_than_a_batch_is_recorded_whole_or_not_at_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "BATCH_MAX", 2)
    world.clock.set(at(20, 9))
    chief = world.actor("tn-taian")
    days = [PatrolItem("qj-taian", at(day, 9), at(day, 11)) for day in range(1, 6)]
    # The fifth patrol, in the third batch, overlaps the first, recorded by the first batch.
    clash = PatrolItem("qj-taian", at(1, 10), at(1, 12))

    with pytest.raises(ValidationFailed) as refused:
        record_all(world.app.uow(), chief, [*days[:4], clash])
    assert [field for field, _ in refused.value.errors] == ["[4].started_at"]
    assert "overlaps" in refused.value.reason
    assert stored(world) == []  # the first two batches went with the third

    told: list[int] = []
    done = record_all(world.app.uow(), chief, days, progress=told.append)
    assert told == [2, 2, 1]
    assert [p.started_at for p in done] == [item.started_at for item in days]
    assert stored(world) == [item.started_at for item in days]
