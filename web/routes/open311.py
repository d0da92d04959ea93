"""Open311 GeoReport v2: public and NGO reporting apps file river problems and follow them.

Mounted under ``/open311/v2/`` beside the versioned API. Field names are the
spec's; errors come in its format, ``[{"code": 400, "description": "..."}]``,
as JSON or XML after the resource's extension. Filing needs an ``api_key``
(a personal access token of a chief's or office's account); reading is public
and shows only what a public notice board (河长公示牌) would.

What a public read shows (``PUBLIC_FIELDS``, GeoReport's names), and nothing else:

- the issue's code, its category (code and name), open or closed, and its state in
  words (``status_notes``: the phase and state, when it was closed; never a step's
  reason, plan, note or finding);
- the jurisdiction now responsible, by name (``agency_responsible``), what it must
  do next and its deadline (``service_notice``, ``expected_datetime``);
- when it was reported and last changed;
- where: the point as reported (``lat``, ``long``), the place as written or the
  segment's name (``address``), the segment's code (``address_id``);
- the description as reported, cut before the intake block, and the media URL the
  reporting app sent (stored as text, never fetched).

Never shown: who reported it, their contact details, device or app account and the
filing account; the intake block (routing notes, contacts); the title; any step's
payload, actor or party; evidence, sign-offs, checks and meetings; and issues still
being drafted or flagged for quiet watching (``HIDDEN_STATES``): those are 404 and
left out of lists.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query, Request, Response

from states import CHART, INITIAL, TABLE, chart
from states.chart import PHASES, phase_of
from states.policy import CATEGORIES, DEADLINES, PLANNED_STATES
from web.access import Access
from workflow.accounts.tokens import actor_for_token
from workflow.core.actors import Actor, parties
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed, WorkflowError
from workflow.core.models import Compact, CompactMember, Issue, Jurisdiction, Segment, table_of
from workflow.core.payload import DAY_MAX, DAY_MIN, day_problem
from workflow.core.services import IssueDraft, report_issue
from workflow.core.uow import UnitOfWork
from workflow.maps.router import CachedRouter

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When the services list (the categories) last changed: clients refresh cached service lists after it.
CHANGESET = "2026-11-29T00:00:00+08:00"
BORDER_M = 200.0  # a point this close to another jurisdiction is a cross-border point
SEGMENT_MAX_M = 2000.0  # the nearest segment within this distance is the request's segment
DEFAULT_DAYS = 90  # the spec's default window for GET requests
MAX_REQUESTS = 1000  # the spec's ceiling on one GET requests answer

# How the spec's services group the categories (a category has no group of its own yet).
_GROUPS = {
    "domestic_sewage": "水污染",
    "livestock": "水污染",
    "industrial_discharge": "水污染",
    "solid_waste": "河湖环境",
    "sand_mining": "河湖资源",
    "illegal_fishing": "河湖资源",
    "shoreline": "岸线管理",
}
_OTHER_GROUP = "其他"

# States a public reader sees as closed: the chart's closed ones (closed, looked at again while closed,
# archived) and every other end (dismissed, merged as a duplicate).
CLOSED_STATES = chart.CLOSED_STATES | chart.TERMINAL_STATES
# Never shown publicly: a flagged point is watched quietly (publishing it would warn whoever is watched).
HIDDEN_STATES = frozenset({INITIAL, "kan.flagged"})

# The intake block appended to an Open311 issue's description: readers of the issue inside the compact see
# it (they call the reporter back); the public view cuts the description at the mark.
MARK = "【Open311 公众上报】"
_MEDIA_LINE = "媒体链接（未下载，仅存文本）："
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{3,30}$")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The shape of an issue code and of a compact code: anything else names nothing, and is not sent to the database.
_ISSUE_CODE = re.compile(r"^[A-Za-z0-9._-]{1,30}$")
_COMPACT_CODE = re.compile(r"^[A-Z]{2,6}$")

_issue = table_of(Issue)
_compact = table_of(Compact)
_member = table_of(CompactMember)
_place = table_of(Jurisdiction)
_reporting = table_of(Jurisdiction).alias("o311_reporting")
_receiving = table_of(Jurisdiction).alias("o311_receiving")
_segment = table_of(Segment)

_ERRORS_DOC: dict[int | str, dict[str, Any]] = {
    400: {"description": 'Open311 error: `[{"code": 400, "description": "..."}]`, naming the field'},
    403: {"description": "Open311 error: api_key missing or invalid, or the account may not file"},
    404: {"description": "Open311 error: unknown request, service, jurisdiction_id or format"},
}


class Refused(Exception):
    """An Open311 error: the HTTP status and a description that names the field and the reason."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True, slots=True)
class Filed:
    """A checked POST requests body."""

    service_code: str
    lat: float | None
    lon: float | None
    address: str
    description: str
    media_url: str | None
    contact: tuple[tuple[str, str], ...]  # (label, value) lines for the intake block


@dataclass(frozen=True, slots=True)
class Place:
    """A jurisdiction as routing needs it."""

    id: int
    code: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a request goes: the compact, the reporting side and, at a border, the proposed receiving side."""

    compact_id: int
    compact_code: str
    compact_name: str
    reporting: Place
    proposed: Place | None
    segment: str | None
    sensitive: tuple[str, ...] = ()  # sensitive areas (看) near the point, by code


# -- rendering ---------------------------------------------------------------------------------------------------


def _fill(element: ET.Element, value: Any, tag: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item, key)
    elif isinstance(value, list):
        singular = tag[:-1] if tag.endswith("s") else tag
        for item in value:
            _fill(ET.SubElement(element, singular), item, singular)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _XML_INVALID.sub("", str(value))


def render(fmt: str, root: str, item: str, body: Any, status: int = 200) -> Response:
    """A list of objects (or one object) as JSON or as the spec's XML (``<root><item>…</item></root>``)."""
    if fmt == "xml":
        top = ET.Element(root)
        for entry in body if isinstance(body, list) else [body]:
            _fill(top if not isinstance(body, list) else ET.SubElement(top, item), entry, item)
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding="unicode")
        return Response(text, status_code=status, media_type="text/xml; charset=utf-8")
    return Response(_json(body), status_code=status, media_type="application/json; charset=utf-8")


def _json(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _refusal(fmt: str, exc: Refused) -> Response:
    return render(fmt, "errors", "error", [{"code": exc.status, "description": exc.description}], exc.status)


_OPEN311_FIELDS = {"category": "service_code", "lon": "long", "place": "address_string"}


def _from_workflow(exc: WorkflowError) -> Refused:
    """A workflow refusal in Open311 terms: fields renamed to the spec's, statuses to 400/403/404."""
    if isinstance(exc, ValidationFailed):
        named = "; ".join(f"{_OPEN311_FIELDS.get(f, f)}: {r}" for f, r in exc.errors)
        return Refused(400, named)
    status = exc.http_status if exc.http_status in (403, 404) else 400
    return Refused(403 if exc.http_status == 401 else status, str(exc))


def answer(fmt: str, root: str, item: str, produce: Callable[[], Any], status: int = 200) -> Response:
    """Run ``produce`` and render its result, or the Open311 error it was refused with."""
    if fmt not in ("json", "xml"):
        return _refusal("json", Refused(404, f"format {fmt!r} is not served: use .json or .xml"))
    try:
        return render(fmt, root, item, produce(), status)
    except Refused as exc:
        return _refusal(fmt, exc)
    except WorkflowError as exc:
        return _refusal(fmt, _from_workflow(exc))


def w3(value: datetime | None) -> str | None:
    """A time as the spec's W3C/ISO 8601 with its offset, in Asia/Shanghai."""
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds") if value is not None else None


def _day(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).date().isoformat() if value is not None else ""


# -- services ----------------------------------------------------------------------------------------------------


def services() -> list[dict[str, Any]]:
    """One service per issue category."""
    listed = []
    for category in CATEGORIES.values():
        checks = "、".join(label for _, label in category.checklist)
        listed.append(
            {
                "service_code": category.code,
                "service_name": category.label_zh,
                "description": f"{category.label_zh}（{category.label_en}）。销号须确认：{checks}。",
                "metadata": False,
                "type": "realtime",
                "keywords": f"{category.label_zh}, {category.label_en}",
                "group": _GROUPS.get(category.code, _OTHER_GROUP),
            }
        )
    return listed


# -- filing ------------------------------------------------------------------------------------------------------


def _line(value: str | None) -> str:
    """A single-line text: whitespace collapsed, the intake mark neutralised."""
    return " ".join((value or "").split()).replace(MARK, "[Open311]")


def _text(name: str, value: str | None, limit: int) -> str:
    text = _line(value)
    if len(text) > limit:
        raise Refused(400, f"{name}: is longer than {limit} characters")
    return text


def _coordinate(name: str, value: str | None, bound: float) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise Refused(400, f"{name}: {value[:40]!r} is not a number (WGS 84 decimal degrees)") from None
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise Refused(400, f"{name}: must be between -{bound:g} and {bound:g}")
    return number


def check_request(form: dict[str, str | None]) -> Filed:
    """The POST body checked field by field; Refused(400) naming the first bad field."""
    for name, value in form.items():
        # Line breaks and tabs are text; other control characters are not (nor can every database store them).
        if value and _CONTROL.search(value):
            raise Refused(400, f"{name}: contains control characters")
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Refused(400, "service_code: is required (GET services.json lists them)")
    if code not in CATEGORIES:
        raise Refused(400, f"service_code: {code[:60]!r} not found; one of {', '.join(CATEGORIES)}")
    lat = _coordinate("lat", form.get("lat"), 90)
    lon = _coordinate("long", form.get("long"), 180)
    if (lat is None) != (lon is None):
        raise Refused(400, f"{'long' if lon is None else 'lat'}: a position needs both lat and long")
    address = _text("address_string", form.get("address_string"), 300)
    if lat is None and not address:
        raise Refused(400, "lat/long or address_string: a request needs a position or an address")
    media = _text("media_url", form.get("media_url"), 500) or None
    if media is not None and not re.match(r"^https?://[^\s]+$", media, re.IGNORECASE):
        raise Refused(400, "media_url: must be an http:// or https:// URL")
    email = _text("email", form.get("email"), 200)
    if email and not _EMAIL.match(email):
        raise Refused(400, "email: is not an email address")
    phone = _text("phone", form.get("phone"), 30)
    if phone and not _PHONE.match(phone):
        raise Refused(400, "phone: is not a phone number (digits, spaces, +, -, parentheses)")
    name = " ".join(
        n for n in (_text("first_name", form.get("first_name"), 50), _text("last_name", form.get("last_name"), 50)) if n
    )
    contact = (
        ("上报人", name),
        ("联系电话", phone),
        ("电子邮箱", email),
        ("设备标识", _text("device_id", form.get("device_id"), 100)),
        ("应用账户", _text("account_id", form.get("account_id"), 100)),
    )
    description = (form.get("description") or "").strip().replace(MARK, "[Open311]")
    return Filed(code, lat, lon, address, description, media, tuple((k, v) for k, v in contact if v))


def _place_of(conn: sa.Connection, code: str) -> Place | None:
    row = conn.execute(
        sa.select(_place.c.id, _place.c.code, _place.c.name, _place.c.path).where(_place.c.code == code)
    ).first()
    return Place(row.id, row.code, row.name, row.path) if row is not None else None


def _compacts_over(conn: sa.Connection, place: Place) -> list[tuple[int, str, str]]:
    """The compacts one of whose members contains ``place``: (id, code, name), by id."""
    rows = conn.execute(
        sa.select(_compact.c.id, _compact.c.code, _compact.c.name, _place.c.path)
        .select_from(_member.join(_compact, _compact.c.id == _member.c.compact_id))
        .join(_place, _place.c.id == _member.c.jurisdiction_id)
        .order_by(_compact.c.id)
    ).all()
    seen: dict[int, tuple[int, str, str]] = {}
    for r in rows:
        if place.path.startswith(r.path):
            seen.setdefault(r.id, (r.id, r.code, r.name))
    return list(seen.values())


def _may_report(actor: Actor, compact_id: int) -> bool:
    """Whether the chart lets the actor report a new issue in the compact (a member's chief or office)."""
    return bool(parties(actor, compact_id, None, None) & TABLE[(INITIAL, "report")].parties)


def _pick(
    actor: Actor, candidates: list[tuple[int, str, str]], compact_code: str | None, field: str
) -> tuple[int, str, str]:
    """The compact the request is filed in: the named one, else the first the account may report in."""
    if compact_code:
        candidates = [c for c in candidates if c[1] == compact_code]
        if not candidates:
            raise Refused(400, f"jurisdiction_id: {compact_code[:20]!r} is not a compact that covers the {field}")
    allowed = [c for c in candidates if _may_report(actor, c[0])]
    if not allowed:
        where = f" in {', '.join(c[1] for c in candidates)}" if candidates else ""
        raise Refused(
            403,
            f"the api_key's account ({actor.code}, {actor.role}) may not file requests{where}: "
            "only a chief or office (河长/河长办) of a member jurisdiction of the compact files them",
        )
    return allowed[0]


def destination(
    conn: sa.Connection, actor: Actor, filed: Filed, compact_code: str | None, routers: CachedRouter
) -> Destination:
    """Where the request goes: routed by its position, or to the account's own side when only an address came."""
    if filed.lat is None or filed.lon is None:
        own = _compacts_over_actor(conn, actor)
        if compact_code is None and len([c for c in own if _may_report(actor, c[0])]) > 1:
            codes = ", ".join(c[1] for c in own)
            raise Refused(
                400, f"jurisdiction_id: the account serves several compacts ({codes}); name one or send lat/long"
            )
        compact_id, code, name = _pick(actor, own, compact_code, "account's jurisdiction")
        row = conn.execute(
            sa.select(_place.c.id, _place.c.code, _place.c.name, _place.c.path).where(
                _place.c.id == actor.jurisdiction_id
            )
        ).one()
        return Destination(compact_id, code, name, Place(row.id, row.code, row.name, row.path), None, None)
    routing = routers.get(conn).route(filed.lon, filed.lat)
    found = _place_of(conn, routing.jurisdiction) if routing.jurisdiction else None
    if found is None:
        raise Refused(400, "lat/long: the position is outside every jurisdiction riverchief knows")
    candidates = _compacts_over(conn, found)
    if not candidates:
        raise Refused(400, f"lat/long: the position is in {found.name}, which takes part in no compact")
    others = [p for p in (_place_of(conn, code) for code in routing.sides if code != found.code) if p is not None]
    segment_place = None
    if routing.segment:
        segment_place = conn.execute(
            sa.select(_place.c.code)
            .select_from(_segment.join(_place, _place.c.id == _segment.c.jurisdiction_id))
            .where(_segment.c.code == routing.segment)
        ).scalar()
    # A compact that also covers the other side can take the hand-off: prefer it.
    covering = [c for c in candidates if any(c in _compacts_over(conn, o) for o in others)]
    compact_id, code, name = _pick(
        actor, covering + [c for c in candidates if c not in covering], compact_code, "position"
    )
    in_compact = [o for o in others if any(c[0] == compact_id for c in _compacts_over(conn, o))]
    # The side whose segment is nearest is the likelier source; otherwise the nearest other side.
    in_compact.sort(key=lambda o: o.code != segment_place)
    proposed = in_compact[0] if in_compact else None
    return Destination(compact_id, code, name, found, proposed, routing.segment, routing.sensitive)


def _compacts_over_actor(conn: sa.Connection, actor: Actor) -> list[tuple[int, str, str]]:
    if actor.jurisdiction_id is None or actor.jurisdiction_path is None:
        return []
    return _compacts_over(conn, Place(actor.jurisdiction_id, "", "", actor.jurisdiction_path))


def stored_description(filed: Filed, actor: Actor, where: Destination) -> str:
    """The description as filed, then the intake block the compact's readers need (and the public never sees)."""
    lines = [MARK, f"上报应用：{actor.name}（{actor.code}）"]
    if filed.lat is not None:
        lines.append(f"上报位置：纬度 {filed.lat}，经度 {filed.lon}；{where.reporting.name}（{where.reporting.code}）")
    if where.proposed is not None:
        lines.append(
            f"跨界：位于与{where.proposed.name}交界 {BORDER_M:g} 米内，"
            f"建议交办接收方：{where.proposed.name}（{where.proposed.code}）"
        )
    if where.sensitive:
        lines.append(f"邻近敏感区域：{'、'.join(where.sensitive)}")
    if filed.media_url:
        lines.append(f"{_MEDIA_LINE}{filed.media_url}")
    lines.extend(f"{label}：{value}" for label, value in filed.contact)
    block = "\n".join(lines)
    limit = 5000 - len(block) - 2
    if len(filed.description) > limit:
        raise Refused(400, f"description: is longer than {limit} characters")
    return f"{filed.description}\n\n{block}" if filed.description else block


def public_description(stored: str) -> str:
    """The description as the reporter filed it, without the intake block."""
    return stored.partition(MARK)[0].rstrip()


def media_url_of(stored: str) -> str | None:
    """The media URL recorded in the intake block (stored as text, never fetched)."""
    _, mark, block = stored.partition(MARK)
    for line in block.splitlines() if mark else ():
        if line.startswith(_MEDIA_LINE):
            return line[len(_MEDIA_LINE) :]
    return None


# -- reading -----------------------------------------------------------------------------------------------------


def status_notes(state: str, closed_at: datetime | None, updated_at: datetime, rebounds: int) -> str:
    """The state in words; once closed, that the problem was rectified and verified, and when."""
    label = CHART.state(state).label_zh
    closed = f"（{_day(closed_at)}销号）" if closed_at is not None else ""
    if state == "du.closed":
        return f"{label}：问题已整改到位，并经双方联合复核验收{closed}"
    if state == "du.revisiting":
        return f"已销号：问题已整改到位，并经双方联合复核验收{closed}；第三方回头看进行中"
    if state == "archived":
        return f"{label}：问题已整改到位，并经双方联合复核验收{closed}；回头看未发现反弹"
    if state in ("dismissed", "duplicate"):
        return f"{label}（{_day(updated_at)}）"
    phase = phase_of(state)
    phase_label = next((p.label_zh for p in PHASES if p.name == phase), "")
    again = "；回头看发现反弹，重新整改" if rebounds and phase == "ban" else ""
    return f"{phase_label}·{label}{again}" if phase_label else label


def service_notice(state: str, due_at: datetime | None) -> str | None:
    """What is expected next and by when, while the request is open."""
    if state in CLOSED_STATES:
        return None
    by = f"，期限 {_day(due_at)}" if due_at is not None else ""
    if state in PLANNED_STATES:
        return f"按整改方案整改{by}"
    policy = DEADLINES.get(state)
    return f"{policy.label_zh}{by}" if policy else None


_SELECT = (
    sa.select(
        _issue.c.code,
        _issue.c.category,
        _issue.c.state,
        _issue.c.description,
        _issue.c.place,
        _issue.c.lon,
        _issue.c.lat,
        _issue.c.due_at,
        _issue.c.created_at,
        _issue.c.updated_at,
        _issue.c.closed_at,
        _issue.c.rebound_count,
        _reporting.c.name.label("reporting"),
        _receiving.c.name.label("receiving"),
        _segment.c.code.label("segment_code"),
        _segment.c.name.label("segment_name"),
    )
    .select_from(
        _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id)
        .outerjoin(_receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id)
        .outerjoin(_segment, _segment.c.id == _issue.c.segment_id)
    )
    .where(_issue.c.state.not_in(sorted(HIDDEN_STATES)))
)


# The fields a public read carries, in GeoReport v2's order; the module's docstring says what each shows.
PUBLIC_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)


def public_request(row: Any) -> dict[str, Any]:
    """One issue as a GeoReport v2 service request: ``PUBLIC_FIELDS`` only."""
    category = CATEGORIES.get(row.category)
    public = {
        "service_request_id": row.code,
        "status": "closed" if row.state in CLOSED_STATES else "open",
        "status_notes": status_notes(row.state, row.closed_at, row.updated_at, row.rebound_count),
        "service_name": category.label_zh if category else row.category,
        "service_code": row.category,
        "description": public_description(row.description),
        "agency_responsible": row.receiving or row.reporting,
        "service_notice": service_notice(row.state, row.due_at),
        "requested_datetime": w3(row.created_at),
        "updated_datetime": w3(row.updated_at),
        "expected_datetime": w3(row.due_at) if row.state not in CLOSED_STATES else None,
        "address": row.place or row.segment_name,
        "address_id": row.segment_code,
        "zipcode": None,
        "lat": row.lat,
        "long": row.lon,
        "media_url": media_url_of(row.description),
    }
    # A field added above without deciding it is public fails here, in every test that reads a request.
    assert tuple(public) == PUBLIC_FIELDS, sorted(set(public) ^ set(PUBLIC_FIELDS))
    return public


def _when(name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Refused(400, f"{name}: {value[:40]!r} is not a W3C date-time such as 2026-03-01T00:00:00+08:00") from None
    if day_problem(parsed.date()):
        raise Refused(400, f"{name}: must be between the years {DAY_MIN.year} and {DAY_MAX.year}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=SHANGHAI)


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def find_requests(
    conn: sa.Connection,
    now: datetime,
    *,
    ids: str | None,
    codes: str | None,
    start: str | None,
    end: str | None,
    status: str | None,
    compact: str | None,
) -> list[dict[str, Any]]:
    """GET requests: the ids asked for (they override every other filter), else the filtered window, newest first."""
    query = _SELECT.order_by(_issue.c.created_at.desc(), _issue.c.id.desc()).limit(MAX_REQUESTS)
    asked = _listed(ids)
    if asked:
        if len(asked) > MAX_REQUESTS:
            raise Refused(400, f"service_request_id: at most {MAX_REQUESTS} ids at once")
        wanted = [code for code in asked if _ISSUE_CODE.match(code)]
        return [public_request(r) for r in conn.execute(query.where(_issue.c.code.in_(wanted)))]
    categories = _listed(codes)
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise Refused(400, f"service_code: {unknown[0][:60]!r} not found; one of {', '.join(CATEGORIES)}")
    statuses = set(_listed(status))
    if statuses - {"open", "closed"}:
        raise Refused(400, "status: must be open or closed (comma-separated for both)")
    first, last = _when("start_date", start), _when("end_date", end)
    if last is None:
        last = first + timedelta(days=DEFAULT_DAYS) if first is not None else now
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS)
    if last < first:
        raise Refused(400, "end_date: is before start_date")
    query = query.where(_issue.c.created_at >= first, _issue.c.created_at <= last)
    if categories:
        query = query.where(_issue.c.category.in_(categories))
    if statuses == {"open"}:
        query = query.where(_issue.c.state.not_in(sorted(CLOSED_STATES)))
    elif statuses == {"closed"}:
        query = query.where(_issue.c.state.in_(sorted(CLOSED_STATES)))
    if compact:
        compact_id = (
            None
            if not _COMPACT_CODE.match(compact)
            else conn.execute(sa.select(_compact.c.id).where(_compact.c.code == compact)).scalar()
        )
        if compact_id is None:
            raise Refused(404, f"jurisdiction_id: {compact[:20]!r} not found (a compact code, e.g. QJ)")
        query = query.where(_issue.c.compact_id == compact_id)
    return [public_request(r) for r in conn.execute(query)]


# -- the routes --------------------------------------------------------------------------------------------------


def router(access: Access) -> APIRouter:
    """The Open311 GeoReport v2 routes."""
    wired = access.wired
    api = APIRouter(prefix="/open311/v2", tags=["open311"], responses=_ERRORS_DOC)
    # The map is loaded once and again only when it changes, not on every request.
    routers = CachedRouter(border_m=BORDER_M, segment_max_m=SEGMENT_MAX_M)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806 (a type alias, named as one)

    @api.get("/discovery.{fmt}")
    def discovery(fmt: str, request: Request) -> Response:
        """Service discovery: where the GeoReport v2 endpoint is and which formats it serves."""
        base = str(request.base_url).rstrip("/") + "/open311/v2"
        body = {
            "changeset": CHANGESET,
            "contact": "河长办（river chief office）",
            "key_service": "api_key 为河长或河长办账户的个人访问令牌：riverchief token create PERSON",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        }
        return answer(fmt, "discovery", "discovery", lambda: body)

    @api.get("/services.{fmt}")
    def service_list(fmt: str) -> Response:
        """The services: one per issue category."""
        return answer(fmt, "services", "service", services)

    @api.get("/services/{service_code}.{fmt}")
    def service_definition(service_code: str, fmt: str) -> Response:
        """A service definition: no service has extra attributes (metadata is false for all)."""

        def produce() -> dict[str, Any]:
            if service_code not in CATEGORIES:
                raise Refused(404, f"service_code: {service_code[:60]!r} not found")
            return {"service_code": service_code, "attributes": []}

        return answer(fmt, "service_definition", "service_definition", produce)

    @api.post("/requests.{fmt}", status_code=201)
    def file_request(
        uow: Unit,
        fmt: str,
        api_key: Annotated[
            str | None, Form(description="a personal access token of a chief's or office's account")
        ] = None,
        jurisdiction_id: Annotated[str | None, Form(description="a compact code (e.g. QJ), when ambiguous")] = None,
        service_code: Annotated[str | None, Form()] = None,
        lat: Annotated[str | None, Form(description="WGS 84 latitude")] = None,
        long: Annotated[str | None, Form(description="WGS 84 longitude")] = None,
        address_string: Annotated[str | None, Form()] = None,
        address_id: Annotated[str | None, Form(description="accepted and ignored")] = None,  # noqa: ARG001
        email: Annotated[str | None, Form()] = None,
        device_id: Annotated[str | None, Form()] = None,
        account_id: Annotated[str | None, Form()] = None,
        first_name: Annotated[str | None, Form()] = None,
        last_name: Annotated[str | None, Form()] = None,
        phone: Annotated[str | None, Form()] = None,
        description: Annotated[str | None, Form()] = None,
        media_url: Annotated[str | None, Form(description="kept as text; never fetched")] = None,
    ) -> Response:
        """File a service request: routed by its position to the jurisdiction there, it enters 巡 as reported."""
        form = {
            "service_code": service_code,
            "lat": lat,
            "long": long,
            "address_string": address_string,
            "email": email,
            "device_id": device_id,
            "account_id": account_id,
            "first_name": first_name,
            "last_name": last_name,
            "phone": phone,
            "description": description,
            "media_url": media_url,
        }

        def produce() -> list[dict[str, Any]]:
            actor = _key_holder(uow, api_key)
            filed = check_request(form)
            compact = (jurisdiction_id or "").strip() or None
            with uow:
                where = destination(uow.connection, actor, filed, compact, routers)
            category = CATEGORIES[filed.service_code]
            spot = filed.address or where.reporting.name
            draft = IssueDraft(
                compact=where.compact_code,
                title=f"[公众上报] {category.label_zh} · {spot}"[:200],
                category=filed.service_code,
                description=stored_description(filed, actor, where),
                place=filed.address,
                lon=filed.lon,
                lat=filed.lat,
                segment=where.segment,
            )
            # The issue is the routed jurisdiction's to investigate or hand off: its side reports it, filed by the
            # account (whose code the ledger keeps), which _pick checked may report in this compact.
            filer = replace(actor, jurisdiction_id=where.reporting.id, jurisdiction_path=where.reporting.path)
            result = report_issue(uow, filer, draft)
            notice = (
                f"已转{where.reporting.name}处理（{where.compact_name}）：{service_notice(result.state, result.due_at)}"
            )
            if where.proposed is not None:
                notice += f"；位于与{where.proposed.name}交界处，建议交办{where.proposed.name}"
            return [{"service_request_id": result.issue_code, "service_notice": notice, "account_id": None}]

        return answer(fmt, "service_requests", "request", produce, status=201)

    def _key_holder(uow: UnitOfWork, api_key: str | None) -> Actor:
        if not api_key or not api_key.strip():
            raise Refused(403, "api_key: was not provided")
        try:
            return actor_for_token(uow, api_key.strip(), wired.clock.now(), stamp=wired.uow)
        except WorkflowError:
            raise Refused(403, "api_key: is invalid or revoked") from None

    @api.get("/requests.{fmt}")
    def request_list(
        uow: Unit,
        fmt: str,
        service_request_id: Annotated[str | None, Query(description="comma-separated; overrides every filter")] = None,
        service_code: Annotated[str | None, Query(description="comma-separated")] = None,
        start_date: Annotated[str | None, Query(description="W3C date-time; default 90 days before end_date")] = None,
        end_date: Annotated[str | None, Query(description="W3C date-time; default now")] = None,
        status: Annotated[str | None, Query(description="open, closed or open,closed")] = None,
        jurisdiction_id: Annotated[str | None, Query(description="a compact code, e.g. QJ")] = None,
    ) -> Response:
        """Service requests, newest first (at most 1000): public fields only, every compact."""

        def produce() -> list[dict[str, Any]]:
            with uow:
                return find_requests(
                    uow.connection,
                    wired.clock.now(),
                    ids=service_request_id,
                    codes=service_code,
                    start=start_date,
                    end=end_date,
                    status=status,
                    compact=jurisdiction_id,
                )

        return answer(fmt, "service_requests", "request", produce)

    @api.get("/requests/{request_id}.{fmt}")
    def request_one(uow: Unit, request_id: str, fmt: str) -> Response:
        """One service request, as a list of one."""

        def produce() -> list[dict[str, Any]]:
            with uow:
                known = _ISSUE_CODE.match(request_id)
                row = uow.connection.execute(_SELECT.where(_issue.c.code == request_id)).first() if known else None
            if row is None:
                raise Refused(404, f"service_request_id: {request_id[:40]!r} not found")
            return [public_request(row)]

        return answer(fmt, "service_requests", "request", produce)

    return api
