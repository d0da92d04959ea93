"""Filing generated reports: the file in the data folder, its SHA-256 in a chained record and in the issue's ledger."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from workflow.core.actors import SYSTEM, Actor
from workflow.core.ledger import GENESIS, canonical
from workflow.core.models import Compact, Issue, ReportFile, table_of
from workflow.core.services import apply
from workflow.core.uow import UnitOfWork

_report = table_of(ReportFile)
_compact = table_of(Compact)
_issue = table_of(Issue)


class Document(Protocol):
    """A rendered report, as ``reports.builders`` makes them."""

    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def compact_code(self) -> str: ...
    @property
    def period(self) -> str | None: ...
    @property
    def issue_code(self) -> str | None: ...
    @property
    def content(self) -> bytes: ...
    @property
    def extension(self) -> str: ...
    @property
    def issues(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class Filed:
    """Where a report was filed and under which hash."""

    id: int
    path: Path
    sha256: str
    new: bool


def _record_hash(values: dict[str, object]) -> str:
    return hashlib.sha256(canonical(values)).hexdigest()


def file_report(uow: UnitOfWork, document: Document, data_dir: Path, actor: Actor = SYSTEM) -> Filed:
    """Store the document and record it; the same content filed again is found, not duplicated."""
    digest = hashlib.sha256(document.content).hexdigest()
    stem = (
        document.issue_code
        or (document.period if document.issues else None)
        or (f"{document.compact_code}-{document.period or 'all'}")
    )
    relative = Path("reports") / document.kind / f"{stem}-{digest[:12]}.{document.extension}"
    target = data_dir / relative
    with uow:
        conn = uow.connection
        existing = conn.execute(sa.select(_report.c.id).where(_report.c.sha256 == digest)).scalar()
        if existing is not None:
            return Filed(int(existing), target, digest, new=False)
        compact_id = conn.execute(sa.select(_compact.c.id).where(_compact.c.code == document.compact_code)).scalar_one()
        issue_id = None
        if document.issue_code:
            issue_id = conn.execute(sa.select(_issue.c.id).where(_issue.c.code == document.issue_code)).scalar_one()
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written before the record commits: a crash leaves a file without a record, never the reverse.
        target.write_bytes(document.content)
        prev = (
            conn.execute(
                sa.select(_report.c.hash)
                .where(_report.c.compact_id == compact_id)
                .order_by(_report.c.id.desc())
                .limit(1)
            ).scalar()
            or GENESIS
        )
        now = uow.clock.now()
        values = {
            "compact": document.compact_code,
            "kind": document.kind,
            "period": document.period,
            "issue": document.issue_code,
            "path": str(relative),
            "sha256": digest,
            "size": len(document.content),
            "created_at": now.isoformat(),
            "prev": prev,
        }
        report_id = conn.execute(
            _report.insert(),
            {
                "compact_id": compact_id,
                "issue_id": issue_id,
                "kind": document.kind,
                "period": document.period,
                "title": document.title,
                "path": str(relative),
                "sha256": digest,
                "size": len(document.content),
                "created_at": now,
                "prev_hash": prev,
                "hash": _record_hash(values),
            },
        ).inserted_primary_key[0]  # type: ignore[index]
        uow.commit()
    ledgers = [document.issue_code] if document.issue_code else []
    ledgers += [code for code in document.issues if code not in ledgers]
    if document.kind in ("followup", "revisit", "minutes"):
        for code in ledgers:
            apply(uow, code, "file_report", actor, {"kind": document.kind, "sha256": digest, "file": str(relative)})
    return Filed(int(report_id), target, digest, new=True)


def verify_reports(conn: sa.Connection, data_dir: Path) -> list[str]:
    """Problems with the report archive: a broken chain, a missing file, or a file whose bytes changed."""
    problems = []
    rows = conn.execute(
        sa.select(_report, _compact.c.code.label("compact_code"), _issue.c.code.label("issue_code"))
        .join(_compact, _compact.c.id == _report.c.compact_id)
        .outerjoin(_issue, _issue.c.id == _report.c.issue_id)
        .order_by(_report.c.compact_id, _report.c.id)
    ).all()
    prev: dict[int, str] = {}
    for r in rows:
        expected_prev = prev.get(r.compact_id, GENESIS)
        values = {
            "compact": r.compact_code,
            "kind": r.kind,
            "period": r.period,
            "issue": r.issue_code,
            "path": r.path,
            "sha256": r.sha256,
            "size": r.size,
            "created_at": r.created_at.isoformat(),
            "prev": r.prev_hash,
        }
        if r.prev_hash != expected_prev or _record_hash(values) != r.hash:
            problems.append(f"report #{r.id} ({r.path}): the archive record was changed or a record removed")
        path = data_dir / r.path
        if not path.exists():
            problems.append(f"report #{r.id} ({r.path}): the file is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != r.sha256:
            problems.append(f"report #{r.id} ({r.path}): the file's content no longer matches its SHA-256")
        prev[r.compact_id] = r.hash
    return problems
