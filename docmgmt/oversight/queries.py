"""Oversight queries: roll-ups, open documents, trends and ranking across an agency subtree.

They read only the oversight_* tables (docmgmt.oversight.views writes them), never the
events. Flows come from ``oversight_daily`` over the period (level 0 for agencies, 1 for
units, 2 for people); the open state from ``oversight_open`` and
``oversight_unacknowledged`` as of ``now``: late and due soon are derived here.

Each call is a handful of grouped statements on one connection, whatever the number of
lines: the subtree goes as ``agency_id = ANY($1)`` and lines are summed in Python.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import asyncpg

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.errors import InvalidInputError, UnitNotFoundError
from docmgmt.kernel.principal import Principal
from docmgmt.oversight.access import AgencyTree, scope
from docmgmt.oversight.model import (
    NIL_UUID,
    Direction,
    Figures,
    HolderKind,
    Level,
    Line,
    OpenDocument,
    Period,
    RankedAgency,
    Rollup,
    Step,
    TrendPoint,
)

# SQL text here is put together from this module's fixed fragments and numbered
# placeholders only (hence the S608 waivers); every value goes as a parameter.
S = "docmgmt"
DUE_SOON = timedelta(days=2)
MAX_PERIOD_DAYS = 366
MAX_LIMIT = 500
Counts = dict[str, float]

FLOWS = ("arrived", "completed_on_time", "completed_late", "extensions_requested",
         "extensions_granted", "dispatched", "dispatched_late")
FLOW_SUMS = ", ".join(f"sum({f})::bigint AS {f}" for f in FLOWS) + \
    ", sum(handling_seconds) AS handling_seconds"
# Open-state figures from each step's counts: every open row, those past their due, and
# those due soon. Grouping by step and summing here costs the database three aggregates
# per row instead of one per figure, which dominated a city's roll-up.
HANDLING = (Step.HANDLING, Step.EXTENSION)
AWAITING = {Step.APPROVAL: "awaiting_approval", Step.SIGNATURE: "awaiting_signature",
            Step.NUMBER: "awaiting_number", Step.SEAL: "awaiting_seal",
            Step.DISPATCH: "awaiting_dispatch"}
DISPATCHING = (Step.NUMBER, Step.SEAL, Step.DISPATCH)
OPEN_NAMES = ("registration_overdue", "handling_open", "handling_due_soon", "handling_overdue",
              *AWAITING.values(), "dispatch_overdue", "open_total", "unacknowledged")


def _open_sql(where: str, *keys: str) -> str:
    """Per ``keys`` (``expr AS name``) and step: open rows, late ones ($2 now), due soon
    ones ($3); then the unacknowledged recipients as step ACKNOWLEDGEMENT. ``where``
    filters both tables."""
    cols = ", ".join(keys)
    by = ", ".join(str(i) for i in range(1, len(keys) + 1))
    return (f"SELECT {cols}, step, count(*) AS n,"  # noqa: S608
            " count(*) FILTER (WHERE due < $2) AS late,"
            " count(*) FILTER (WHERE due >= $2 AND due < $3) AS soon"
            f" FROM {S}.oversight_open WHERE {where} GROUP BY {by}, {len(keys) + 1}"
            f" UNION ALL SELECT {cols}, '{Step.ACKNOWLEDGEMENT}', count(*), 0, 0"
            f" FROM {S}.oversight_unacknowledged WHERE {where} GROUP BY {by}")


def _add_open(into: Counts, row: Any) -> None:
    """Add one (step, n, late, soon) row of _open_sql to the figures it feeds."""
    step, n, late, soon = row["step"], row["n"], row["late"], row["soon"]

    def add(name: str, value: int) -> None:
        into[name] = into.get(name, 0) + value

    if step == Step.ACKNOWLEDGEMENT:
        add("unacknowledged", n)
        return
    add("open_total", n)
    if step == Step.REGISTRATION:
        add("registration_overdue", late)
    elif step in HANDLING:
        add("handling_open", n)
        add("handling_overdue", late)
        add("handling_due_soon", soon)
    if step in AWAITING:
        add(AWAITING[step], n)
    if step in DISPATCHING:
        add("dispatch_overdue", late)


def _add(into: Counts, row: Any, names: tuple[str, ...]) -> None:
    for name in names:
        into[name] = into.get(name, 0) + float(row[name] or 0)


def _flow_names() -> tuple[str, ...]:
    return (*FLOWS, "handling_seconds")


def figures(counts: Counts) -> Figures:
    """Figures from summed counts (any missing count is zero)."""
    ints = {name: int(counts.get(name, 0)) for name in (*FLOWS, *OPEN_NAMES)}
    return Figures(**ints, handling_hours_total=counts.get("handling_seconds", 0.0) / 3600)


def _sum(parts: list[Counts]) -> Counts:
    total: Counts = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return total


def period_of(start: date | None, end: date | None, now: datetime) -> Period:
    """The period asked for: by default the current month to date (Vietnam time); refuses
    an end before the start or more than MAX_PERIOD_DAYS days."""
    today = now.astimezone(VIETNAM_TZ).date()
    end = end or (today if start is None or start <= today else start)
    start = start or min(end.replace(day=1), today.replace(day=1))
    if end < start:
        raise InvalidInputError("the period ends before it starts", field="to")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInputError(f"the period is longer than {MAX_PERIOD_DAYS} days",
                                field="from")
    return Period(start, end)


async def _own_figures(conn: asyncpg.Connection, ids: list[UUID], period: Period, now: datetime,
                       due_soon: timedelta, units_of: UUID | None,
                       ) -> tuple[dict[UUID, Counts], dict[UUID | None, Counts]]:
    """Each agency's own counts, and per unit those of ``units_of`` (None: no unit)."""
    own: dict[UUID, Counts] = defaultdict(dict)
    units: dict[UUID | None, Counts] = defaultdict(dict)
    # Two groupings, each hashed on its own key: sorting them together spills to disk.
    flows = await conn.fetch(
        f"SELECT 0 AS level, agency_id, NULL::uuid AS unit_id, {FLOW_SUMS}"  # noqa: S608
        f" FROM {S}.oversight_daily WHERE level = 0 AND agency_id = ANY($1)"
        " AND day BETWEEN $2 AND $3 GROUP BY agency_id"
        f" UNION ALL SELECT 1, agency_id, unit_id, {FLOW_SUMS} FROM {S}.oversight_daily"
        " WHERE level = 1 AND agency_id = $4 AND day BETWEEN $2 AND $3"
        " GROUP BY agency_id, unit_id", ids, period.start, period.end, units_of)
    for r in flows:
        if r["level"] == 0:
            _add(own[r["agency_id"]], r, _flow_names())
        else:
            _add(units[None if r["unit_id"] == NIL_UUID else r["unit_id"]], r, _flow_names())
    # Units only for ``units_of``: the others' would be lines nobody asked for.
    rows = await conn.fetch(_open_sql(
        "agency_id = ANY($1)", "agency_id",
        "CASE WHEN agency_id = $4::uuid THEN unit_id END AS unit_id"),
        ids, now, now + due_soon, units_of)
    for r in rows:
        _add_open(own[r["agency_id"]], r)
        if r["agency_id"] == units_of:
            _add_open(units[r["unit_id"]], r)
    return own, units


def _nonzero(counts: Counts) -> bool:
    return any(counts.values())


async def rollup(pool: asyncpg.Pool, who: Principal, agency_id: UUID, *,
                 unit_id: UUID | None = None, period: Period, now: datetime,
                 due_soon: timedelta = DUE_SOON) -> Rollup:
    """One screen of the drill-down (see docmgmt.oversight.model.Rollup).

    Without ``unit_id``: each child agency (its whole subtree) then the agency's own units
    (and "no unit" when it has figures); the total is the whole subtree. With ``unit_id``
    (NIL_UUID: no unit): the unit's people (and "no person"); the total is the unit.
    """
    tree, crumbs = await scope(pool, who, agency_id, now)
    name = tree.nodes[agency_id].name
    async with pool.acquire() as conn:
        if unit_id is not None:
            unit_crumb, total, lines = await _unit_lines(conn, agency_id, unit_id, period, now,
                                                         due_soon)
            return Rollup(agency_id, name, Level.PERSON, unit_id, period, now, total, lines,
                          [*crumbs, unit_crumb])
        ids = tree.subtree(agency_id)
        own, by_unit = await _own_figures(conn, ids, period, now, due_soon, agency_id)
        named = await conn.fetch(f"SELECT id, code, name FROM {S}.oversight_units"  # noqa: S608
                                 " WHERE agency_id = $1 ORDER BY code, name, id", agency_id)
    lines = [Line(Level.AGENCY, child, tree.nodes[child].code, tree.nodes[child].name,
                  figures(_sum([own[a] for a in tree.subtree(child)])))
             for child in tree.children.get(agency_id, [])]
    known = {r["id"] for r in named}
    lines += [Line(Level.UNIT, r["id"], r["code"], r["name"], figures(by_unit.get(r["id"], {})))
              for r in named]
    # A unit the view has no name for (odd data) still shows its figures.
    lines += [Line(Level.UNIT, u, "", "", figures(c)) for u, c in sorted(
        by_unit.items(), key=lambda kv: str(kv[0])) if u is not None and u not in known
        and _nonzero(c)]
    if _nonzero(by_unit.get(None, {})):
        lines.append(Line(Level.UNIT, None, "", "", figures(by_unit[None])))
    total = figures(_sum([own[a] for a in ids]))
    return Rollup(agency_id, name, Level.AGENCY, None, period, now, total, lines, crumbs)


async def _unit_lines(conn: asyncpg.Connection, agency_id: UUID, unit_id: UUID, period: Period,
                      now: datetime, due_soon: timedelta,
                      ) -> tuple[tuple[Level, UUID, str], Figures, list[Line]]:
    """A unit's people as lines, and the unit's total."""
    unit = None if unit_id == NIL_UUID else unit_id
    unit_name = ""
    if unit is not None:
        found = await conn.fetchrow(f"SELECT name FROM {S}.oversight_units"  # noqa: S608
                                    " WHERE id = $1 AND agency_id = $2", unit, agency_id)
        if found is None:
            raise UnitNotFoundError("no such unit in this agency", unit_id=str(unit_id))
        unit_name = found["name"]
    people: dict[UUID | None, Counts] = defaultdict(dict)
    flows = await conn.fetch(
        f"SELECT person_id, {FLOW_SUMS} FROM {S}.oversight_daily"  # noqa: S608
        " WHERE level = 2 AND agency_id = $1 AND unit_id = $2 AND day BETWEEN $3 AND $4"
        " GROUP BY person_id", agency_id, unit_id, period.start, period.end)
    for r in flows:
        _add(people[None if r["person_id"] == NIL_UUID else r["person_id"]], r, _flow_names())
    rows = await conn.fetch(
        _open_sql("agency_id = $1 AND unit_id IS NOT DISTINCT FROM $4::uuid",
                  "person_id"),
        agency_id, now, now + due_soon, unit)
    for r in rows:
        _add_open(people[r["person_id"]], r)
    seen = [p for p in people if p is not None]
    named = await conn.fetch(
        f"SELECT id, full_name, title FROM {S}.oversight_people WHERE (agency_id = $1"  # noqa: S608
        " AND unit_id IS NOT DISTINCT FROM $2::uuid) OR id = ANY($3::uuid[])"
        " ORDER BY full_name, id", agency_id, unit, seen)
    lines = [Line(Level.PERSON, r["id"], r["title"], r["full_name"],
                  figures(people.get(r["id"], {})), drill=_has_open(people.get(r["id"], {})))
             for r in named]
    known = {r["id"] for r in named}
    lines += [Line(Level.PERSON, p, "", "", figures(c), drill=_has_open(c))
              for p, c in sorted(people.items(), key=lambda kv: str(kv[0]))
              if p is not None and p not in known]
    if _nonzero(people.get(None, {})):
        lines.append(Line(Level.PERSON, None, "", "", figures(people[None]),
                          drill=_has_open(people[None])))
    return (Level.UNIT, unit_id, unit_name), figures(_sum(list(people.values()))), lines


def _has_open(counts: Counts) -> bool:
    return bool(counts.get("open_total", 0) or counts.get("unacknowledged", 0))


def encode_cursor(due: datetime | None, document_id: UUID, sub: UUID) -> str:
    """The opaque cursor after a row of open_documents."""
    key = f"{due.isoformat() if due else 'infinity'}|{document_id}|{sub}"
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, UUID, UUID]:
    """The key a cursor stands for; InvalidInputError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, document_id, sub = raw.split("|")
        if due != "infinity":
            datetime.fromisoformat(due)
        return due, UUID(document_id), UUID(sub)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError("the cursor is not one this server gave", field="cursor") from exc


_PAGE = (
    "SELECT * FROM ("  # noqa: S608
    f" SELECT document_id AS id, '{NIL_UUID}'::uuid AS sub, direction, agency_id, label,"
    " summary, step, holder_kind, holder_id, since, due"
    f" FROM {S}.oversight_open WHERE {{where}}"
    f" UNION ALL SELECT document_id, recipient_agency_id, '{Direction.OUTGOING}', agency_id,"
    f" label, summary, '{Step.ACKNOWLEDGEMENT}', '{HolderKind.AGENCY}', recipient_agency_id,"
    f" dispatched_at, due FROM {S}.oversight_unacknowledged WHERE {{where}}"
    ") d WHERE (COALESCE(due, 'infinity'), id, sub) > ($2::text::timestamptz, $3, $4)"
    " ORDER BY COALESCE(due, 'infinity'), id, sub LIMIT $5"
)


async def open_documents(
    pool: asyncpg.Pool, who: Principal, agency_id: UUID, *, unit_id: UUID | None = None,
    person_id: UUID | None = None, subtree: bool = True, late_only: bool = False,
    now: datetime, limit: int = 100, cursor: str | None = None,
) -> tuple[list[OpenDocument], str | None]:
    """Open documents of the agency (and, with ``subtree``, every agency below), most
    overdue first, then those due later, then those with no deadline; with the holder.

    ``unit_id`` / ``person_id`` (NIL_UUID: none): only the documents rolled up under that
    unit / person of the agency itself. Includes each recipient that has not registered
    a dispatched document (ACKNOWLEDGEMENT, held by that agency).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    after = decode_cursor(cursor) if cursor else ("-infinity", NIL_UUID, NIL_UUID)
    tree, _ = await scope(pool, who, agency_id, now)
    narrow = unit_id is not None or person_id is not None
    ids = tree.subtree(agency_id) if subtree and not narrow else [agency_id]
    where = ["agency_id = ANY($1::uuid[])"]
    args: list[Any] = [ids, *after, limit + 1]
    if late_only:
        args.append(now)
        where.append(f"due < ${len(args)}")
    for column, value in (("unit_id", unit_id), ("person_id", person_id)):
        if value is not None:
            args.append(None if value == NIL_UUID else value)
            where.append(f"{column} IS NOT DISTINCT FROM ${len(args)}::uuid")
    sql = (f"WITH page AS ({_PAGE.format(where=' AND '.join(where))})"  # noqa: S608
           " SELECT page.*, COALESCE(p.full_name, u.name, a.name, '') AS holder_name"
           f" FROM page LEFT JOIN {S}.oversight_people p"
           f" ON page.holder_kind = '{HolderKind.PERSON}' AND p.id = page.holder_id"
           f" LEFT JOIN {S}.oversight_units u"
           f" ON page.holder_kind = '{HolderKind.UNIT}' AND u.id = page.holder_id"
           f" LEFT JOIN {S}.oversight_agencies a"
           f" ON page.holder_kind = '{HolderKind.AGENCY}' AND a.id = page.holder_id"
           " ORDER BY COALESCE(page.due, 'infinity'), page.id, page.sub")
    rows = await pool.fetch(sql, *args)
    items = [_open_document(r, tree, now) for r in rows[:limit]]
    more = None
    if len(rows) > limit:
        last = rows[limit - 1]
        more = encode_cursor(last["due"], last["id"], last["sub"])
    return items, more


async def all_documents(pool: asyncpg.Pool, who: Principal, agency_id: UUID, *,
                        now: datetime, cap: int = 5000, **only: Any) -> list[OpenDocument]:
    """Every page of open_documents (``only``: its filters), at most ``cap`` documents."""
    out: list[OpenDocument] = []
    cursor: str | None = None
    while len(out) < cap:
        page, cursor = await open_documents(pool, who, agency_id, now=now, cursor=cursor,
                                            limit=min(MAX_LIMIT, cap - len(out)), **only)
        out += page
        if cursor is None:
            break
    return out


def _open_document(r: Any, tree: AgencyTree, now: datetime) -> OpenDocument:
    agency = tree.nodes.get(r["agency_id"])
    due = r["due"]
    return OpenDocument(
        id=r["id"], direction=Direction(r["direction"]), agency_id=r["agency_id"],
        agency_name=agency.name if agency else "", label=r["label"], summary=r["summary"],
        step=Step(r["step"]), holder_kind=HolderKind(r["holder_kind"]),
        holder_id=r["holder_id"], holder_name=r["holder_name"], since=r["since"], due=due,
        late=due is not None and due < now)


def _buckets(period: Period, by: Literal["week", "month"]) -> list[date]:
    first = (period.start.replace(day=1) if by == "month"
             else period.start - timedelta(days=period.start.weekday()))
    out = []
    while first <= period.end:
        out.append(first)
        first = ((first.replace(day=28) + timedelta(days=4)).replace(day=1) if by == "month"
                 else first + timedelta(days=7))
    return out


async def trends(pool: asyncpg.Pool, who: Principal, agency_id: UUID, *, period: Period,
                 by: Literal["week", "month"], now: datetime | None = None,
                 ) -> list[TrendPoint]:
    """The subtree's flows per week (from Monday) or month over the period, every week or
    month included (zeros too); open-state figures are not history and stay zero."""
    if by not in ("week", "month"):
        raise InvalidInputError("by must be week or month", field="by")
    tree, _ = await scope(pool, who, agency_id, now or datetime.now(VIETNAM_TZ))
    rows = await pool.fetch(
        f"SELECT date_trunc($4, day::timestamp)::date AS start, {FLOW_SUMS}"  # noqa: S608
        f" FROM {S}.oversight_daily WHERE level = 0 AND agency_id = ANY($1)"
        " AND day BETWEEN $2 AND $3 GROUP BY 1",
        tree.subtree(agency_id), period.start, period.end, by)
    found: dict[date, Counts] = {}
    for r in rows:
        _add(found.setdefault(r["start"], {}), r, _flow_names())
    return [TrendPoint(start, figures(found.get(start, {}))) for start in _buckets(period, by)]


def _rank_key(item: RankedAgency) -> tuple[bool, float, int, str]:
    rate = item.figures.late_rate
    return (rate is None, -(rate or 0.0), -item.figures.late, item.code)


async def ranking(pool: asyncpg.Pool, who: Principal, agency_id: UUID, *, period: Period,
                  now: datetime, due_soon: timedelta = DUE_SOON) -> list[RankedAgency]:
    """Every agency of the subtree with its own figures (not its children's), the highest
    late rate first (then the most late, then by code); those with nothing to rate last."""
    tree, _ = await scope(pool, who, agency_id, now)
    ids = tree.subtree(agency_id)
    async with pool.acquire() as conn:
        own, _ = await _own_figures(conn, ids, period, now, due_soon, None)
    ranked = [RankedAgency(a, tree.nodes[a].code, tree.nodes[a].name, figures(own.get(a, {})))
              for a in ids]
    return sorted(ranked, key=_rank_key)
