"""Loading reference data (jurisdictions, people, compacts, rivers, segments) from YAML or JSON.

A load is one transaction and an upsert by code: loading the same file twice
changes nothing; a bad file is refused whole, with the path of each bad field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, cast, get_args

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session
from sqlmodel import col

from workflow.core.actors import SYSTEM
from workflow.core.drawing import drawn_columns, segment_line
from workflow.core.errors import NotFound, ValidationFailed
from workflow.core.models import (
    Compact,
    CompactMember,
    CompactStaff,
    Jurisdiction,
    PatrolQuota,
    Person,
    River,
    Segment,
    line_box,
)
from workflow.core.payload import MAX_DEPTH, MAX_DIGITS, TooManyDigits, check_parsed, load_json
from workflow.core.uow import UnitOfWork

Level = Literal["province", "city", "district", "township", "village"]
Role = Literal["chief", "office", "coordinator", "auditor", "admin"]
Relation = Literal["upstream", "downstream", "left_bank", "right_bank"]
Channel = Literal["inbox", "email", "webhook", "wecom", "dingtalk"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class JurisdictionIn(_Strict):
    """A jurisdiction and the ones under it."""

    code: str = Field(pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="administrative division code")
    name: str = Field(min_length=1, max_length=100)
    level: Level
    children: list[JurisdictionIn] = []


class DingTalkRobot(_Strict):
    """A DingTalk group robot: its webhook URL and, when it signs, its secret."""

    url: str = Field(pattern=r"^https?://")
    secret: str | None = None


class Contacts(_Strict):
    """Group robots and hooks that reach a person or an office."""

    wecom: str | None = Field(default=None, pattern=r"^https?://")
    dingtalk: DingTalkRobot | None = None
    webhook: str | None = Field(default=None, pattern=r"^https?://")


class PersonIn(_Strict):
    """A person and how to reach them."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,59}$")
    name: str = Field(min_length=1, max_length=100)
    role: Role

    @field_validator("code")
    @classmethod
    def _not_the_system(cls, code: str) -> str:
        # "system" is the scheduler's own name in the ledger: no person may take it.
        if code == SYSTEM.code:
            raise ValueError(f"{SYSTEM.code!r} is reserved for the scheduler")
        return code

    jurisdiction: str | None = None
    organisation: str | None = None
    title: str | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 -]{5,20}$")
    channels: list[Channel] = ["inbox", "email"]
    contacts: Contacts = Field(default_factory=lambda: Contacts())
    locale: Literal["zh-CN", "en"] = "zh-CN"
    active: bool = True


class CompactIn(_Strict):
    """A compact, its member jurisdictions and its staff."""

    code: str = Field(pattern=r"^[A-Z]{2,6}$")
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(min_length=2)
    coordinators: list[str] = []
    auditors: list[str] = []


class SegmentIn(_Strict):
    """A river segment with its responsible jurisdiction and chief."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,59}$")
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: str
    chief: str | None = None
    counterpart: str | None = None
    relation: Relation | None = None
    length_km: float | None = Field(default=None, gt=0)
    geometry: list[tuple[float, float]] | None = Field(default=None, min_length=2, description="[[lon, lat], ...]")

    @field_validator("geometry")
    @classmethod
    def _wgs84(cls, points: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        for lon, lat in points or []:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"({lon}, {lat}) is not a WGS 84 [lon, lat] position")
        return points


class RiverIn(_Strict):
    """A river and its segments."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    name: str = Field(min_length=1, max_length=100)
    segments: list[SegmentIn] = []


class PatrolQuotaIn(_Strict):
    """How often the chiefs of one level must patrol (巡河计划): ``count`` patrols a ``per``, for the level's
    chiefs everywhere, within one ``jurisdiction`` (a division code) or within one ``compact`` (a code)."""

    level: Level
    count: int = Field(ge=1, le=100)
    per: Literal["week", "tenday", "month", "quarter", "year"]
    jurisdiction: str | None = None
    compact: str | None = None


class ReferenceData(_Strict):
    """The whole file."""

    jurisdictions: list[JurisdictionIn] = []
    people: list[PersonIn] = []
    compacts: list[CompactIn] = []
    rivers: list[RiverIn] = []
    # When given, the quotas of each scope it names (everywhere, a jurisdiction, a compact) are replaced by the
    # file's for that scope; other scopes, and everything when it is absent, stay as they are.
    patrol_quotas: list[PatrolQuotaIn] | None = None

    def duplicates(self) -> list[tuple[str, str]]:
        """Every code given twice in the file, named at each repeat."""
        errors = []
        lists: list[tuple[str, list[str]]] = [
            ("people", [p.code for p in self.people]),
            ("compacts", [c.code for c in self.compacts]),
            ("rivers", [r.code for r in self.rivers]),
        ]
        for name, codes in lists:
            seen: set[str] = set()
            for i, code in enumerate(codes):
                if code in seen:
                    errors.append((f"{name}[{i}].code", f"{code} appears twice in the file"))
                seen.add(code)
        segments: set[str] = set()
        for i, river in enumerate(self.rivers):
            for j, segment in enumerate(river.segments):
                if segment.code in segments:
                    errors.append((f"rivers[{i}].segments[{j}].code", f"{segment.code} appears twice in the file"))
                segments.add(segment.code)
        return errors


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _NoAliasLoader(yaml.SafeLoader):
    """YAML within the edge's bounds: no aliases, at most MAX_DEPTH deep, no integer of more than MAX_DIGITS digits.

    Aliases: reference data never needs them, and nested ones expand exponentially. The depth is
    counted as the document is composed, before anything is built from it; a long integer is kept
    as a TooManyDigits marker, never converted, and named by its place afterwards.
    """

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        mark = cast(Any, self).peek_event().start_mark  # untyped in the stubs
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        if self.depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} deep", mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        """An integer, or a TooManyDigits marker when it is written with more than MAX_DIGITS digits."""
        digits = sum(c.isalnum() for c in str(self.construct_scalar(node)))
        return TooManyDigits(digits) if digits > MAX_DIGITS else super().construct_yaml_int(node)


_NoAliasLoader.add_constructor("tag:yaml.org,2002:int", _NoAliasLoader.construct_yaml_int)


def parse(path: Path) -> ReferenceData:
    """Read and check a YAML or JSON file; ValidationFailed names each bad field by its path."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(str(path), f"cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed(str(path), f"is not UTF-8 text: byte {exc.start}") from exc
    return parse_text(text, "json" if path.suffix == ".json" else "yaml", source=str(path))


def parse_text(text: str, fmt: Literal["json", "yaml"], source: str = "body") -> ReferenceData:
    """Check a YAML or JSON document given as text; ``source`` names the whole document in errors.

    Its depth, its numbers' digits and its text are checked before or while it is parsed
    (``workflow.core.payload``), so a hostile document is refused, never a crash.
    """
    try:
        if fmt == "json":
            raw = load_json(text, source)
        else:
            raw = yaml.load(text, Loader=_NoAliasLoader)
            check_parsed(raw, source)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(source, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationFailed(source, f"is not valid YAML: {problem}{where}") from exc
    except RecursionError as exc:
        raise ValidationFailed(source, "is nested too deeply to be reference data") from exc
    if not isinstance(raw, dict):
        raise ValidationFailed(source, "must hold a mapping with jurisdictions, people, compacts, rivers")
    try:
        data = ReferenceData.model_validate(_stringify_codes(raw))
    except ValidationError as exc:
        raise ValidationFailed.of([(_loc(e["loc"]) or source, e["msg"]) for e in exc.errors()]) from exc
    if duplicates := data.duplicates():
        raise ValidationFailed.of(duplicates)
    return data


def _stringify_codes(value: Any) -> Any:
    # YAML reads an unquoted division code (500152) as a number; codes are text.
    if isinstance(value, dict):
        return {
            k: (str(v) if k in {"code", "jurisdiction"} and isinstance(v, int) else _stringify_codes(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) else _stringify_codes(v) for v in value]
    return value


def _walk(
    nodes: list[JurisdictionIn], parent: str | None, where: str
) -> Iterator[tuple[JurisdictionIn, str | None, str]]:
    for i, node in enumerate(nodes):
        here = f"{where}[{i}]"
        yield node, parent, here
        yield from _walk(node.children, node.code, f"{here}.children")


def _upsert(session: Session, model: type[Any], key: dict[str, Any], values: dict[str, Any]) -> Any:
    row = session.execute(sa.select(model).filter_by(**key)).scalar_one_or_none()
    if row is None:
        row = model(**key, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    return row


class _Resolver:
    """Looks up codes in the file being loaded and then in the database, collecting errors."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.errors: list[tuple[str, str]] = []

    def id_of(self, model: type[Any], code: str | None, where: str) -> int | None:
        if code is None:
            return None
        found = self.session.execute(sa.select(model.id).where(model.code == code)).scalar()
        if found is None:
            self.errors.append((where, f"no {model.__name__.lower()} with code {code!r}"))
        return cast(int | None, found)


def _load_quotas(session: Session, quotas: list[PatrolQuotaIn], resolve: _Resolver) -> int:
    """Replace the quotas of each scope the file names with the file's: one per level and scope.

    Loading the same file again changes nothing; a scope the file does not
    name keeps its rows (``riverchief patrol quota clear`` removes one).
    """
    seen: set[tuple[str, int | None, int | None]] = set()
    rows = []
    for i, quota in enumerate(quotas):
        where = f"patrol_quotas[{i}]"
        if quota.jurisdiction is not None and quota.compact is not None:
            resolve.errors.append((f"{where}.compact", "a quota names a jurisdiction or a compact, not both"))
            continue
        jid = resolve.id_of(Jurisdiction, quota.jurisdiction, f"{where}.jurisdiction")
        cid = resolve.id_of(Compact, quota.compact, f"{where}.compact")
        if (quota.jurisdiction is not None and jid is None) or (quota.compact is not None and cid is None):
            continue
        key = (quota.level, jid, cid)
        if key in seen:
            resolve.errors.append((f"{where}.level", f"{quota.level} has a quota for this scope already in the file"))
        seen.add(key)
        rows.append(
            PatrolQuota(level=quota.level, count=quota.count, per=quota.per, jurisdiction_id=jid, compact_id=cid)
        )
    if resolve.errors:
        return len(quotas)  # the load rolls back
    for scope in {(jid, cid) for _, jid, cid in seen}:
        session.execute(
            sa.delete(PatrolQuota).where(
                col(PatrolQuota.jurisdiction_id).is_(None)
                if scope[0] is None
                else col(PatrolQuota.jurisdiction_id) == scope[0],
                col(PatrolQuota.compact_id).is_(None) if scope[1] is None else col(PatrolQuota.compact_id) == scope[1],
            )
        )
    session.flush()
    session.add_all(rows)
    session.flush()
    return len(quotas)


def load(uow: UnitOfWork, data: ReferenceData) -> dict[str, int]:
    """Write the reference data in one transaction; returns counts by kind."""
    counts = {"jurisdictions": 0, "people": 0, "compacts": 0, "rivers": 0, "segments": 0}
    with uow:
        session = uow.session
        resolve = _Resolver(session)
        seen: set[str] = set()
        for node, parent, where in _walk(data.jurisdictions, None, "jurisdictions"):
            if node.code in seen:
                resolve.errors.append((f"{where}.code", f"{node.code} appears twice in the file"))
            seen.add(node.code)
            existing = session.execute(
                sa.select(Jurisdiction).where(col(Jurisdiction.code) == node.code)
            ).scalar_one_or_none()
            parent_row = None
            if parent is not None:
                parent_row = session.execute(
                    sa.select(Jurisdiction).where(col(Jurisdiction.code) == parent)
                ).scalar_one()
            elif existing is not None and existing.parent_id is not None:
                # A document may list a subtree without its ancestors: it stays where it is.
                parent_row = session.get(Jurisdiction, existing.parent_id)
            path = f"{parent_row.path if parent_row else '/'}{node.code}/"
            if existing is not None and existing.path != path:
                # Moved: everything under it moves too, or "is under" (a path prefix) would lie.
                old = existing.path
                session.execute(
                    sa.update(Jurisdiction)
                    .where(col(Jurisdiction.path).startswith(old, autoescape=True), col(Jurisdiction.id) != existing.id)
                    .values(path=sa.literal(path) + sa.func.substr(col(Jurisdiction.path), len(old) + 1))
                    .execution_options(synchronize_session=False)
                )
            _upsert(
                session,
                Jurisdiction,
                {"code": node.code},
                {
                    "name": node.name,
                    "level": node.level,
                    "parent_id": parent_row.id if parent_row else None,
                    "path": path,
                },
            )
            counts["jurisdictions"] += 1
        for i, p in enumerate(data.people):
            jid = resolve.id_of(Jurisdiction, p.jurisdiction, f"people[{i}].jurisdiction")
            if p.role in ("chief", "office") and p.jurisdiction is None:
                resolve.errors.append((f"people[{i}].jurisdiction", f"a {p.role} needs a jurisdiction"))
            _upsert(
                session,
                Person,
                {"code": p.code},
                {
                    "name": p.name,
                    "role": p.role,
                    "jurisdiction_id": jid,
                    "organisation": p.organisation,
                    "title": p.title,
                    "email": p.email,
                    "phone": p.phone,
                    "channels": list(p.channels),
                    "contacts": p.contacts.model_dump(exclude_none=True),
                    "locale": p.locale,
                    "active": p.active,
                },
            )
            counts["people"] += 1
        for i, c in enumerate(data.compacts):
            compact = _upsert(session, Compact, {"code": c.code}, {"name": c.name})
            session.execute(sa.delete(CompactMember).where(col(CompactMember.compact_id) == compact.id))
            session.execute(sa.delete(CompactStaff).where(col(CompactStaff.compact_id) == compact.id))
            for j, code in enumerate(c.members):
                jid = resolve.id_of(Jurisdiction, code, f"compacts[{i}].members[{j}]")
                if jid is not None:
                    session.add(CompactMember(compact_id=compact.id, jurisdiction_id=jid))
            for role, codes in (("coordinator", c.coordinators), ("auditor", c.auditors)):
                for j, code in enumerate(codes):
                    pid = resolve.id_of(Person, code, f"compacts[{i}].{role}s[{j}]")
                    person = session.get(Person, pid) if pid is not None else None
                    if person is not None and person.role != role:
                        resolve.errors.append(
                            (f"compacts[{i}].{role}s[{j}]", f"{code} has role {person.role}, not {role}")
                        )
                    elif pid is not None:
                        session.add(CompactStaff(compact_id=compact.id, person_id=pid, role=role))
            session.flush()
            counts["compacts"] += 1
        pending_counterparts: list[tuple[Segment, str, str]] = []
        for i, r in enumerate(data.rivers):
            river = _upsert(session, River, {"code": r.code}, {"name": r.name})
            counts["rivers"] += 1
            for j, s in enumerate(r.segments):
                where = f"rivers[{i}].segments[{j}]"
                if (s.counterpart is None) != (s.relation is None):
                    resolve.errors.append(
                        (f"{where}.relation", "a boundary segment names both counterpart and relation")
                    )
                jid = resolve.id_of(Jurisdiction, s.jurisdiction, f"{where}.jurisdiction")
                chief_id = resolve.id_of(Person, s.chief, f"{where}.chief")
                if jid is None:
                    continue
                line = [list(point) for point in s.geometry] if s.geometry else None
                segment = _upsert(
                    session,
                    Segment,
                    {"code": s.code},
                    {
                        "name": s.name,
                        "river_id": river.id,
                        "jurisdiction_id": jid,
                        "chief_id": chief_id,
                        "relation": s.relation,
                        "length_km": s.length_km,
                        "geometry": line,
                        **line_box(line),
                        # What a map draws of it, worked out once here rather than on every map that shows it.
                        **drawn_columns(segment_line(line) if line else None),
                    },
                )
                if s.counterpart:
                    pending_counterparts.append((segment, s.counterpart, f"{where}.counterpart"))
                counts["segments"] += 1
        for segment, code, where in pending_counterparts:
            segment.counterpart_id = resolve.id_of(Segment, code, where)
        if data.patrol_quotas is not None:
            counts["patrol_quotas"] = _load_quotas(session, data.patrol_quotas, resolve)
        if resolve.errors:
            raise ValidationFailed.of(resolve.errors)
        uow.commit()
    return counts


PERSON_CHANGES = ("active", "role", "jurisdiction")


def _change_errors(changes: Mapping[str, Any]) -> list[tuple[str, str]]:
    errors = [
        (name, f"cannot be changed here; only {', '.join(PERSON_CHANGES)}")
        for name in changes
        if name not in PERSON_CHANGES
    ]
    if not changes:
        errors.append(("body", f"name at least one of {', '.join(PERSON_CHANGES)}"))
    if "active" in changes and not isinstance(changes["active"], bool):
        errors.append(("active", "must be true or false"))
    roles = get_args(Role)
    if "role" in changes and changes["role"] not in roles:
        errors.append(("role", f"{changes['role']!r} is not one of {', '.join(roles)}"))
    if "jurisdiction" in changes and not isinstance(changes["jurisdiction"], str | int | None):
        errors.append(("jurisdiction", "must be a division code or null"))
    return errors


def update_person(uow: UnitOfWork, code: str, changes: Mapping[str, Any]) -> None:
    """Activate or deactivate a person, or change their role or jurisdiction; ValidationFailed names each bad field."""
    with uow:
        session = uow.session
        person = session.execute(sa.select(Person).where(col(Person.code) == code)).scalar_one_or_none()
        if person is None:
            raise NotFound("person", code)
        errors = _change_errors(changes)
        if errors:
            raise ValidationFailed.of(errors)
        role: str = changes.get("role", person.role)
        active: bool = changes.get("active", person.active)
        jurisdiction_id = person.jurisdiction_id
        if "jurisdiction" in changes:
            wanted = changes["jurisdiction"]
            jurisdiction_id = None
            if wanted is not None:
                wanted = str(wanted).strip()
                jurisdiction_id = session.execute(
                    sa.select(col(Jurisdiction.id)).where(col(Jurisdiction.code) == wanted)
                ).scalar()
                if jurisdiction_id is None:
                    errors.append(("jurisdiction", f"no jurisdiction with code {wanted!r}"))
        if role in ("chief", "office") and jurisdiction_id is None and "jurisdiction" not in dict(errors):
            errors.append(("jurisdiction", f"a {role} needs a jurisdiction"))
        staff = session.execute(
            sa.select(col(CompactStaff.role), col(Compact.code))
            .join(Compact, col(Compact.id) == col(CompactStaff.compact_id))
            .where(col(CompactStaff.person_id) == person.id)
        ).all()
        for serves, compact in staff:
            if role != serves:
                errors.append(("role", f"{code} is {serves} of {compact}: take them off its {serves}s first"))
        if person.role == "admin" and person.active and (role != "admin" or not active):
            others = session.execute(
                sa.select(sa.func.count()).where(
                    col(Person.role) == "admin", col(Person.active) == sa.true(), col(Person.id) != person.id
                )
            ).scalar_one()
            if not others:
                errors.append(("role" if role != "admin" else "active", f"{code} is the last active admin"))
        if errors:
            raise ValidationFailed.of(errors)
        person.role, person.active, person.jurisdiction_id = role, active, jurisdiction_id
        uow.commit()
