"""Evidence for an issue step: photos and documents, checked by content, stored once by SHA-256.

The file, its record (with the time and place the photo's EXIF gives) and the
``add_evidence`` ledger event are kept together: nothing is on an issue without
its ledger entry, and nothing is in the store for a step that was refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.clock import SHANGHAI
from workflow.core.errors import Conflict, ValidationFailed
from workflow.core.models import Attachment, table_of
from workflow.core.payload import is_text
from workflow.core.services import StepResult, apply_within, current_version
from workflow.core.uow import UnitOfWork

_attachment = table_of(Attachment)
MAX_BYTES = 20 * 1024 * 1024
# A photo's pixels at most: a 64-megapixel camera's full size fits, a decompression bomb (a few
# kilobytes that decode to gigabytes) does not. Kept below Pillow's own warning threshold (89.5 MP).
MAX_PIXELS = 80_000_000

# What a file is, judged by its first bytes, never by its name.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
)


def readable_size(n: int) -> str:
    """A size in bytes as people read it: ``1.5 MB``, ``2.0 KB``, ``900 bytes``."""
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def sniff(content: bytes) -> str | None:
    """The content type by signature: JPEG, PNG, WebP or PDF; None for anything else."""
    for magic, offset, kind in _SIGNATURES:
        if content[offset : offset + len(magic)] == magic and (kind != "image/webp" or content[:4] == b"RIFF"):
            return kind
    return None


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    """When and where a photo says it was taken."""

    taken_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a file cannot be evidence: the field, a code a page words it by, its values, and the API's reason."""

    field: str  # file | filename | caption
    code: str  # empty | too_big | kind | pixels | filename | caption
    reason: str
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Checked:
    """A file fit to be evidence: its bytes, bare name, caption, type, hash and what the photo says."""

    content: bytes
    name: str
    caption: str | None
    kind: str
    sha256: str
    facts: PhotoFacts


@dataclass(frozen=True, slots=True)
class Upload:
    """One file as a client sent it."""

    content: bytes
    filename: str
    caption: str | None = None


def _degrees(value: Any, ref: str | None) -> float | None:
    try:
        d, m, s = (float(x) for x in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    return -degrees if ref in ("S", "W") else degrees


def _too_many_pixels(max_pixels: int, size: tuple[int, int] | None) -> Refusal:
    limit = f"{max_pixels / 1_000_000:g}"
    shown = f"is {size[0]} × {size[1]} pixels" if size else "has too many pixels to open"
    return Refusal("file", "pixels", f"{shown}; the limit is {limit} megapixels", (("limit", limit),))


def _facts_of(exif: Any) -> PhotoFacts:
    taken_at = None
    stamp = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else DateTime
    if isinstance(stamp, str):
        try:
            taken_at = datetime.strptime(stamp.strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        except ValueError:
            taken_at = None
    gps = exif.get_ifd(0x8825)
    lat = _degrees(gps.get(2), gps.get(1)) if gps else None
    lon = _degrees(gps.get(4), gps.get(3)) if gps else None
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    return PhotoFacts(taken_at, lon, lat)


def _read_photo(content: bytes, max_pixels: int) -> tuple[PhotoFacts, Refusal | None]:
    """What a photo's header says, or why it is refused, without ever decoding its pixels.

    The pixel limit is ours, checked on the size in the header. Pillow checks the size
    again in ``Image.open``, warning above its own limit and refusing above twice that;
    both mean a size beyond ours (MAX_PIXELS stays below Pillow's threshold), so both are
    the same refusal here, however warnings are filtered.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
            if width * height > max_pixels:
                return PhotoFacts(), _too_many_pixels(max_pixels, (width, height))
            # The PNG reader's own getexif decodes the whole image to look for EXIF after the
            # pixel data; the base class reads only what the header gave.
            exif = Image.Image.getexif(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return PhotoFacts(), _too_many_pixels(max_pixels, None)
    except (UnidentifiedImageError, OSError, ValueError):
        return PhotoFacts(), None
    return _facts_of(exif), None


def photo_facts(content: bytes) -> PhotoFacts:
    """EXIF DateTimeOriginal (read as Beijing time) and GPS position, where the photo has them."""
    return _read_photo(content, MAX_PIXELS)[0]


def bare_name(filename: str) -> str:
    """The name a file is recorded under: the last part of whatever path the client sent."""
    # Either separator: a phone may send C:\x\y.jpg.
    return Path(filename.replace("\\", "/")).name.strip()


def examine(
    content: bytes,
    filename: str,
    *,
    caption: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> tuple[Checked | None, tuple[Refusal, ...]]:
    """Check one file as evidence without storing anything: the file fit to store, or every reason it is not."""
    refusals: list[Refusal] = []
    if not content:
        refusals.append(Refusal("file", "empty", "is empty"))
    elif len(content) > max_bytes:
        size, limit = readable_size(len(content)), readable_size(max_bytes)
        refusals.append(
            Refusal("file", "too_big", f"is {size}; the limit is {limit}", (("size", size), ("limit", limit)))
        )
    kind = sniff(content) if content else None
    if content and kind is None:
        refusals.append(
            Refusal("file", "kind", "is not a JPEG, PNG or WebP photo or a PDF document (judged by its content)")
        )
    facts = PhotoFacts()
    if kind is not None and kind.startswith("image/") and len(content) <= max_bytes:
        facts, too_many = _read_photo(content, max_pixels)
        if too_many is not None:
            refusals.append(too_many)
    name = bare_name(filename)
    if not name or len(name) > 200 or not is_text(name):
        refusals.append(Refusal("filename", "filename", "must be a file name of at most 200 characters"))
    if caption is not None and (len(caption) > 300 or not is_text(caption)):
        refusals.append(Refusal("caption", "caption", "must be text of at most 300 characters"))
    if refusals or kind is None:
        return None, tuple(refusals)
    return Checked(content, name, caption, kind, hashlib.sha256(content).hexdigest(), facts), ()


def check(
    content: bytes,
    filename: str,
    *,
    caption: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> Checked:
    """``examine``, raising ValidationFailed naming each refused field and its reason."""
    checked, refusals = examine(content, filename, caption=caption, max_bytes=max_bytes, max_pixels=max_pixels)
    if checked is None:
        raise ValidationFailed.of([(r.field, r.reason) for r in refusals])
    return checked


@dataclass(frozen=True, slots=True)
class Stored:
    """Evidence on an issue: where its file is and the ledger step that recorded it."""

    attachment_id: int
    sha256: str
    path: Path
    content_type: str
    facts: PhotoFacts
    step: StepResult | None  # None when the same file was already on the issue


def store_path(data_dir: Path, sha256: str) -> Path:
    """Where a stored file lives: content-addressed under the attachment folder."""
    return data_dir / "attachments" / sha256[:2] / sha256


def _place(target: Path, content: bytes) -> bool:
    """Put a file in the store unless it is there already; True when this call put it there.

    Written beside its place and renamed into it, so the store never holds half a file.
    """
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    try:
        partial.write_bytes(content)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return True


def add_evidence(
    uow: UnitOfWork,
    issue: str,
    actor: Actor,
    content: bytes,
    filename: str,
    data_dir: Path,
    *,
    caption: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> Stored:
    """Check, store and record one file on an issue; refusals name the field and change nothing."""
    (stored,) = add_files(
        uow, issue, actor, [Upload(content, filename, caption)], data_dir, max_bytes=max_bytes, max_pixels=max_pixels
    )
    return stored


def add_files(
    uow: UnitOfWork,
    issue: str,
    actor: Actor,
    uploads: Sequence[Upload],
    data_dir: Path,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> list[Stored]:
    """Check, store and record several files on an issue, a step each, all or none.

    Every file is checked before anything is written. Each new file's record and
    step are written first, and the files go to the store only once every step has
    passed its checks; should the commit still fail, the files this call put there
    are taken out again. Nothing is kept for a refused step.
    """
    files = [
        check(u.content, u.filename, caption=u.caption, max_bytes=max_bytes, max_pixels=max_pixels) for u in uploads
    ]
    with uow:
        issue_id, version = current_version(uow, issue)
        results, pending, _ = _record(uow, issue_id, version, actor, files, data_dir)
        if not pending:
            return results
        _store_and_commit(uow, pending)
    return results


def fire_with_files(
    uow: UnitOfWork,
    issue: str,
    actor: Actor,
    uploads: Sequence[Upload],
    data_dir: Path,
    trigger: str,
    payload: Mapping[str, Any],
    expected_version: int,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> tuple[list[Stored], StepResult]:
    """Record files on an issue and then fire ``trigger``, in one transaction: all of it or none.

    A revisit's finding comes with the photos taken on site: they enter the ledger as
    ``add_evidence`` steps before the outcome, and a refused outcome (a stale
    ``expected_version``, a blank finding) leaves neither them nor their files behind.
    """
    files = [
        check(u.content, u.filename, caption=u.caption, max_bytes=max_bytes, max_pixels=max_pixels) for u in uploads
    ]
    with uow:
        issue_id, version = current_version(uow, issue)
        if version != expected_version:
            raise Conflict(issue, expected_version, version)
        results, pending, version = _record(uow, issue_id, version, actor, files, data_dir)
        step = apply_within(uow, issue_id, trigger, actor, payload, version)
        _store_and_commit(uow, pending)
    return results, step


def _record(
    uow: UnitOfWork, issue_id: int, version: int, actor: Actor, files: Sequence[Checked], data_dir: Path
) -> tuple[list[Stored], list[tuple[Checked, Path]], int]:
    """Write each new file's record and ``add_evidence`` step (not its file yet), from ``version`` on.

    Returns what is on the issue, the files still to put in the store, and the version the steps left.
    """
    results: list[Stored] = []
    pending: list[tuple[Checked, Path]] = []
    for checked in files:
        target = store_path(data_dir, checked.sha256)
        existing = uow.connection.execute(
            sa.select(_attachment.c.id).where(
                _attachment.c.issue_id == issue_id, _attachment.c.sha256 == checked.sha256
            )
        ).scalar()
        if existing is not None:
            results.append(Stored(int(existing), checked.sha256, target, checked.kind, checked.facts, None))
            continue
        attachment_id = uow.connection.execute(
            _attachment.insert(),
            {
                "issue_id": issue_id,
                "event_seq": version + 1,
                "sha256": checked.sha256,
                "filename": checked.name,
                "content_type": checked.kind,
                "size": len(checked.content),
                "caption": checked.caption,
                "taken_at": checked.facts.taken_at,
                "lon": checked.facts.lon,
                "lat": checked.facts.lat,
                "uploaded_by": actor.id,
                "created_at": uow.clock.now(),
            },
        ).inserted_primary_key[0]  # type: ignore[index]
        payload = {
            "sha256": checked.sha256,
            "filename": checked.name,
            **({"caption": checked.caption} if checked.caption else {}),
        }
        step = apply_within(uow, issue_id, "add_evidence", actor, payload, version)
        version = step.version
        results.append(Stored(int(attachment_id), checked.sha256, target, checked.kind, checked.facts, step))
        pending.append((checked, target))
    return results, pending, version


def _store_and_commit(uow: UnitOfWork, pending: Sequence[tuple[Checked, Path]]) -> None:
    """Put the recorded files in the store, then commit; should the commit fail, take out what this put there."""
    placed: list[Path] = []
    try:
        for checked, target in pending:
            if _place(target, checked.content):
                placed.append(target)
        uow.commit()
    except BaseException:
        # Only what this call put there: a file already in the store may be another issue's.
        for target in placed:
            target.unlink(missing_ok=True)
        raise


def photos(conn: sa.Connection, issue_id: int) -> list[dict[str, Any]]:
    """An issue's photos in the order they were added, for reports and pages."""
    rows = conn.execute(
        sa.select(_attachment)
        .where(_attachment.c.issue_id == issue_id, _attachment.c.content_type.like("image/%"))
        .order_by(_attachment.c.id)
    ).all()
    return [
        {
            "path": f"{r.sha256[:2]}/{r.sha256}",
            "caption": r.caption or r.filename,
            "taken_at": r.taken_at,
            "lon": r.lon,
            "lat": r.lat,
            "seq": r.event_seq,
        }
        for r in rows
    ]


def attachment_type(conn: sa.Connection, issue_code: str, sha256: str) -> str | None:
    """The content type of a file stored on this issue, or None when the issue has no such file."""
    from workflow.core.models import Issue

    issue = table_of(Issue)
    found = conn.execute(
        sa.select(_attachment.c.content_type)
        .join(issue, issue.c.id == _attachment.c.issue_id)
        .where(issue.c.code == issue_code, _attachment.c.sha256 == sha256)
    ).scalar()
    return None if found is None else str(found)
