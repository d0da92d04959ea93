"""Evidence: checked by content, stored once by SHA-256, recorded in the ledger with the photo's time and place."""

import hashlib
import io
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.factories import COORDINATOR, REPORTER, World, blank_png, jpeg_with_gps, walk_to
from workflow.core import evidence
from workflow.core.errors import Conflict, InvalidTransition, NotPermitted, ValidationFailed, WorkflowError
from workflow.core.evidence import add_evidence, photo_facts, photos, store_path
from workflow.core.services import apply
from workflow.core.uow import UnitOfWork

PHOTO = jpeg_with_gps((30.0, 12.0, 28.8), (105.0, 42.0, 10.8), "2026:03:02 10:15:00")


def files_under(folder: Path) -> set[Path]:
    """Every file below ``folder`` (none when it does not exist)."""
    return {p for p in folder.rglob("*") if p.is_file()}


def test_a_photo_is_stored_by_its_hash_and_recorded_with_where_and_when_it_was_taken(
    world: World, tmp_path: Path
) -> None:
    code = world.report()
    stored = add_evidence(world.app.uow(), code, world.actor(REPORTER), PHOTO, "排口.jpg", tmp_path, caption="排口")

    digest = hashlib.sha256(PHOTO).hexdigest()
    assert stored.sha256 == digest
    assert store_path(tmp_path, digest).read_bytes() == PHOTO
    assert stored.step is not None
    assert stored.step.version == 2
    event = world.events(code)[-1]
    assert (event.trigger, event.payload["sha256"], event.payload["filename"]) == ("add_evidence", digest, "排口.jpg")
    with world.app.reader() as uow:
        (photo,) = photos(uow.connection, world.issue(code).id)
    assert photo["lat"] == pytest.approx(30.208)
    assert photo["lon"] == pytest.approx(105.703)
    assert photo["taken_at"].isoformat().startswith("2026-03-02T02:15:00")  # 10:15 Beijing time, in UTC


def test_the_same_file_twice_is_kept_once_and_recorded_once(world: World, tmp_path: Path) -> None:
    code = world.report()
    add_evidence(world.app.uow(), code, world.actor(REPORTER), PHOTO, "a.jpg", tmp_path)
    again = add_evidence(world.app.uow(), code, world.actor(REPORTER), PHOTO, "b.jpg", tmp_path)
    assert again.step is None
    assert [e.trigger for e in world.events(code)].count("add_evidence") == 1


@pytest.mark.parametrize(
    ("content", "name", "field"),
    [
        (b"#!/bin/sh\necho not a photo\n", "photo.jpg", "file"),
        (b"", "empty.png", "file"),
        (PHOTO, "", "filename"),
    ],
    ids=["script named like a photo", "empty", "no name"],
)
def test_bad_evidence_is_refused_by_field_and_changes_nothing(
    sqlite_world: World, tmp_path: Path, content: bytes, name: str, field: str
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()
    with pytest.raises(ValidationFailed) as refused:
        add_evidence(sqlite_world.app.uow(), code, sqlite_world.actor(REPORTER), content, name, tmp_path)
    assert field in [f for f, _ in refused.value.errors]
    assert sqlite_world.counts() == before
    assert not (tmp_path / "attachments").exists()


@pytest.mark.parametrize(
    ("size", "limit", "reason"),
    [
        (1_200_000, 1024 * 1024, "is 1.1 MB; the limit is 1.0 MB"),
        (3072, 2048, "is 3.0 KB; the limit is 2.0 KB"),
        (1000, 900, "is 1000 bytes; the limit is 900 bytes"),
    ],
    ids=["megabytes", "kilobytes", "bytes"],
)
def test_a_file_over_the_limit_is_refused_naming_both_sizes_readably(
    sqlite_world: World, tmp_path: Path, size: int, limit: int, reason: str
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()
    with pytest.raises(ValidationFailed) as refused:
        add_evidence(
            sqlite_world.app.uow(),
            code,
            sqlite_world.actor(REPORTER),
            PHOTO + b"\0" * (size - len(PHOTO)),
            "big.jpg",
            tmp_path,
            max_bytes=limit,
        )
    assert refused.value.errors == (("file", reason),)
    assert sqlite_world.counts() == before


def test_someone_with_no_standing_on_the_issue_cannot_add_evidence_and_nothing_is_kept(
    sqlite_world: World, tmp_path: Path
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()
    with pytest.raises(Exception, match="may not 'add_evidence'"):
        add_evidence(sqlite_world.app.uow(), code, sqlite_world.actor("zy-longtai"), PHOTO, "x.jpg", tmp_path)
    assert sqlite_world.counts() == before


@pytest.mark.parametrize(
    ("trigger", "payload"),
    [
        ("add_evidence", {"sha256": "ab" * 32, "filename": "fake.jpg"}),
        ("file_report", {"kind": "followup", "sha256": "ab" * 32, "file": "reports/fake.pdf"}),
    ],
)
def test_evidence_and_reports_cannot_be_put_in_the_ledger_by_hand(
    sqlite_world: World, trigger: str, payload: dict[str, str]
) -> None:
    code = sqlite_world.report()
    with pytest.raises(ValidationFailed) as refused:
        apply(sqlite_world.app.uow(), code, trigger, sqlite_world.actor("qj-coord"), payload)
    assert refused.value.field == "sha256"
    assert len(sqlite_world.events(code)) == 1


def test_the_follow_up_report_shows_the_photos(sqlite_world: World, tmp_path: Path) -> None:
    from riverchief.reporting import make

    world = sqlite_world
    world.app.settings.data_dir = tmp_path
    code = world.report()
    add_evidence(world.app.uow(), code, world.actor(REPORTER), PHOTO, "排口.jpg", tmp_path, caption="排口现场")
    pdf = tmp_path / "followup.pdf"
    pdf.write_bytes(make(world.app, "followup", issue=code).content)
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) >= 3  # two header lines, then the photo
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "排口现场" in text
    assert "现场照片" in text


# -- decompression bombs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"),
    [(20000, 20000), (9000, 9000)],
    ids=["over pillow's own error threshold", "under pillow's warning threshold"],
)
def test_a_decompression_bomb_is_refused_naming_the_file_and_stores_nothing(
    sqlite_world: World, tmp_path: Path, width: int, height: int
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()
    bomb = blank_png(width, height)
    assert len(bomb) < 100_000  # small on the wire, hundreds of megabytes once decoded

    with pytest.raises(ValidationFailed) as refused:
        add_evidence(sqlite_world.app.uow(), code, sqlite_world.actor(REPORTER), bomb, "bomb.png", tmp_path)

    ((field, reason),) = refused.value.errors
    assert field == "file"
    assert "the limit is 80 megapixels" in reason
    assert sqlite_world.counts() == before
    assert files_under(tmp_path / "attachments") == set()


def test_a_photo_at_the_pixel_limit_is_taken(sqlite_world: World, tmp_path: Path) -> None:
    code = sqlite_world.report()
    content = blank_png(10000, 8000)  # exactly 80 megapixels
    stored = add_evidence(sqlite_world.app.uow(), code, sqlite_world.actor(REPORTER), content, "big.png", tmp_path)
    assert stored.step is not None
    assert store_path(tmp_path, stored.sha256).read_bytes() == content


def _png_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (40, 90, 120))
    exif = Image.Exif()
    exif[0x0132] = "2026:03:02 10:15:00"
    exif[0x8825] = {1: "N", 2: (30.0, 12.0, 28.8), 3: "E", 4: (105.0, 42.0, 10.8)}
    out = io.BytesIO()
    image.save(out, "PNG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("with_exif", [True, False], ids=["with exif", "without exif"])
def test_a_pngs_time_and_place_are_read_without_decoding_its_pixels(
    monkeypatch: pytest.MonkeyPatch, with_exif: bool
) -> None:
    from PIL import PngImagePlugin

    def decode(_self: object) -> None:
        raise AssertionError("the photo's pixels were decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", decode)
    facts = photo_facts(_png_with_exif() if with_exif else blank_png(64, 48))
    if with_exif:
        assert (facts.lat, facts.lon) == (pytest.approx(30.208), pytest.approx(105.703))
        assert facts.taken_at is not None
    else:
        assert facts == evidence.PhotoFacts()


# -- a refused step stores nothing -----------------------------------------------------------------------------


def _stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone else's step lands between reading the issue's version and writing this one."""
    real = evidence.current_version

    def one_behind(uow: UnitOfWork, issue: int | str) -> tuple[int, int]:
        issue_id, version = real(uow, issue)
        return issue_id, version - 1

    monkeypatch.setattr(evidence, "current_version", one_behind)


@pytest.mark.parametrize(
    ("case", "refusal"),
    [("no standing", NotPermitted), ("archived", InvalidTransition), ("stale version", Conflict)],
)
def test_a_step_refused_after_the_file_is_checked_leaves_no_file_on_disk(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, refusal: type[WorkflowError]
) -> None:
    code = world.report()
    who = REPORTER
    if case == "no standing":
        who = "zy-longtai"
    elif case == "archived":
        walk_to(world, code, "archive")
        who = COORDINATOR
    else:
        _stale(monkeypatch)
    before = world.counts()

    with pytest.raises(refusal):
        add_evidence(world.app.uow(), code, world.actor(who), PHOTO, "x.jpg", tmp_path)

    assert world.counts() == before
    assert files_under(tmp_path / "attachments") == set()


def _failing_commit(uow: UnitOfWork) -> UnitOfWork:
    """``uow`` whose commit fails the way a lost connection or a full disk does."""

    def commit() -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    uow.commit = commit  # type: ignore[method-assign]
    return uow


def test_a_file_whose_commit_fails_is_removed_again(world: World, tmp_path: Path) -> None:
    code = world.report()
    before = world.counts()

    with pytest.raises(sa.exc.OperationalError):
        add_evidence(_failing_commit(world.app.uow()), code, world.actor(REPORTER), PHOTO, "x.jpg", tmp_path)

    assert world.counts() == before
    assert files_under(tmp_path / "attachments") == set()


def test_a_refused_step_keeps_the_file_another_issue_already_holds(world: World, tmp_path: Path) -> None:
    first = world.report()
    kept = add_evidence(world.app.uow(), first, world.actor(REPORTER), PHOTO, "a.jpg", tmp_path)
    second = world.report()

    with pytest.raises(sa.exc.OperationalError):
        add_evidence(_failing_commit(world.app.uow()), second, world.actor(REPORTER), PHOTO, "b.jpg", tmp_path)
    with pytest.raises(NotPermitted):
        add_evidence(world.app.uow(), second, world.actor("zy-longtai"), PHOTO, "b.jpg", tmp_path)

    assert files_under(tmp_path / "attachments") == {kept.path}
    assert kept.path.read_bytes() == PHOTO
