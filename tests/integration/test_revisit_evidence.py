"""A revisit's outcome with the photos taken on site: the photos' steps first, then the outcome, in one transaction
on either database; a refused outcome leaves no photo row, no step and no file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.factories import AUDITOR, World, jpeg_with_gps, walk_to
from workflow.core.errors import Conflict, ValidationFailed
from workflow.core.evidence import Upload, fire_with_files, photos, store_path

PHOTO = jpeg_with_gps((30.0, 12.0, 28.8), (105.0, 42.0, 10.8), "2026:03:02 10:15:00")


def test_the_photos_enter_the_ledger_before_the_outcome_they_support(world: World, tmp_path: Path) -> None:
    code = world.report()
    walk_to(world, code, "start_revisit")
    version = world.issue(code).version
    stored, step = fire_with_files(
        world.app.uow(),
        code,
        world.actor(AUDITOR),
        [Upload(PHOTO, "现场.jpg")],
        tmp_path,
        "no_rebound",
        {"finding": "未见反弹"},
        version,
    )
    assert (step.trigger, step.version, step.state) == ("no_rebound", version + 2, "du.closed")
    events = world.events(code)
    assert [(e.seq, e.trigger) for e in events[-2:]] == [(version + 1, "add_evidence"), (version + 2, "no_rebound")]
    assert events[-2].payload["sha256"] == stored[0].sha256
    assert store_path(tmp_path, stored[0].sha256).read_bytes() == PHOTO
    with world.app.reader() as uow:
        (photo,) = photos(uow.connection, world.issue(code).id)
    assert photo["seq"] == version + 1
    assert photo["lat"] == pytest.approx(30.208)


@pytest.mark.parametrize(
    ("payload", "stale", "refusal"),
    [
        ({"finding": "  "}, False, ValidationFailed),  # a blank finding
        ({"finding": "反弹", "deadline": "2026-01-05"}, False, ValidationFailed),  # a past deadline
        ({"finding": "未见反弹"}, True, Conflict),  # the page showed an older version
    ],
)
def test_a_refused_outcome_leaves_no_photo_behind(
    world: World, tmp_path: Path, payload: dict[str, str], stale: bool, refusal: type[Exception]
) -> None:
    code = world.report()
    walk_to(world, code, "start_revisit")
    version = world.issue(code).version - (1 if stale else 0)
    trigger = "rebound" if "deadline" in payload else "no_rebound"
    counts = world.counts()
    auditor, uploads = world.actor(AUDITOR), [Upload(PHOTO, "现场.jpg")]
    with pytest.raises(refusal):
        fire_with_files(world.app.uow(), code, auditor, uploads, tmp_path, trigger, payload, version)
    assert world.counts() == counts
    assert not store_path(tmp_path, hashlib.sha256(PHOTO).hexdigest()).exists()
    assert world.issue(code).state == "du.revisiting"
