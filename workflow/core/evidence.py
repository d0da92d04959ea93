"""Evidence for an issue step: photos and documents, checked by content, stored once by SHA-256.

The file, its record (with the time and place the photo's EXIF gives) and the
``add_evidence`` ledger event are written together: nothing is on an issue
without its ledger entry.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.models import Attachment, table_of
from workflow.core.payload import is_text
from workflow.core.services import StepResult, apply_within, current_version
from workflow.core.uow import UnitOfWork

_attachment = table_of(Attachment)
MAX_BYTES = 20 * 1024 * 1024

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


def _degrees(value: Any, ref: str | None) -> float | None:
    try:
        d, m, s = (float(x) for x in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    return -degrees if ref in ("S", "W") else degrees


def photo_facts(content: bytes) -> PhotoFacts:
    """EXIF DateTimeOriginal (read as Beijing time) and GPS position, where the photo has them."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            exif = image.getexif()
    except (UnidentifiedImageError, OSError, ValueError):
        return PhotoFacts()
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
) -> Stored:
    """Check, store and record one file on an issue; refusals name the field and change nothing."""
    errors: list[tuple[str, str]] = []
    if not content:
        errors.append(("file", "is empty"))
    elif len(content) > max_bytes:
        errors.append(("file", f"is {readable_size(len(content))}; the limit is {readable_size(max_bytes)}"))
    kind = sniff(content) if content else None
    if content and kind is None:
        errors.append(("file", "is not a JPEG, PNG or WebP photo or a PDF document (judged by its content)"))
    # Only the last part of whatever path a client sends, with either separator (a phone may send C:\x\y.jpg).
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name or len(name) > 200 or not is_text(name):
        errors.append(("filename", "must be a file name of at most 200 characters"))
    if caption is not None and (len(caption) > 300 or not is_text(caption)):
        errors.append(("caption", "must be text of at most 300 characters"))
    if errors:
        raise ValidationFailed.of(errors)
    assert kind is not None
    digest = hashlib.sha256(content).hexdigest()
    facts = photo_facts(content) if kind.startswith("image/") else PhotoFacts()
    target = store_path(data_dir, digest)
    with uow:
        issue_id, version = current_version(uow, issue)
        existing = uow.connection.execute(
            sa.select(_attachment.c.id).where(_attachment.c.issue_id == issue_id, _attachment.c.sha256 == digest)
        ).scalar()
        if existing is not None:
            return Stored(int(existing), digest, target, kind, facts, None)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        attachment_id = uow.connection.execute(
            _attachment.insert(),
            {
                "issue_id": issue_id,
                "event_seq": version + 1,
                "sha256": digest,
                "filename": name,
                "content_type": kind,
                "size": len(content),
                "caption": caption,
                "taken_at": facts.taken_at,
                "lon": facts.lon,
                "lat": facts.lat,
                "uploaded_by": actor.id,
                "created_at": uow.clock.now(),
            },
        ).inserted_primary_key[0]  # type: ignore[index]
        payload = {"sha256": digest, "filename": name, **({"caption": caption} if caption else {})}
        step = apply_within(uow, issue_id, "add_evidence", actor, payload, version)
        uow.commit()
    return Stored(int(attachment_id), digest, target, kind, facts, step)


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
