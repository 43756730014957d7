"""Queries over the exchange views (inbox, outbox, registers, dashboard, search), asyncpg.

Every query is scoped by the caller's agency. Overdue / due soon are derived here from the
deadline and the current time (or a pinned ``now``), never stored. Names of units and
users come from the main read model (units_view, users_view) at query time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict, cast
from uuid import UUID

import asyncpg

from docmgmt.domain.textsearch import tokens
from docmgmt.incoming.registers import INCOMING_CSV, OUTGOING_CSV, registers_csv
from docmgmt.incoming.views import MAX_WORD_BYTES, search_tag

# SQL text here is put together from this module's fixed fragments and numbered
# placeholders only (hence the S608 waivers); every value goes as a parameter.
DUE_SOON = timedelta(days=2)
Cursor = tuple[datetime, UUID]
OPEN = ("assigned", "in_progress")
CLERK_QUEUE = ("received", "registered")

INCOMING_COLUMNS = (
    "i.id, i.agency_id, i.recipient_name, i.sender_agency_id, i.sender_code, i.sender_name,"
    " i.outgoing_id, i.number_label, i.code, i.issued_date, i.doc_type, i.summary, i.urgency,"
    " i.confidentiality, i.file, i.appendices, i.links, i.arrived_at, i.registration_due,"
    " i.authentic, i.authenticity, i.status, i.arrival_number, i.arrival_year,"
    " i.registered_on, i.registered_at, i.registered_by, i.return_reason, i.returned_at,"
    " i.returned_by, i.lead_unit_id, i.lead_user_id, i.supporting_unit_ids, i.instructions,"
    " i.assigned_at, i.last_assigned_at, i.assigned_by, i.deadline,"
    " i.pending_extension_deadline, i.pending_extension_reason, i.pending_extension_by,"
    " i.pending_extension_at, i.progress_count, i.last_progress_at, i.last_progress_note,"
    " i.completed_at, i.completed_on_time, i.completed_by, i.result, i.reply_document_id,"
    " i.withdrawn, i.withdrawal_reason, i.withdrawn_at, i.status_before_withdrawal,"
    " i.withdrawal_confirmed, i.withdrawal_confirmed_at, i.version, i.updated_at"
)
OUTBOX_COLUMNS = (
    "o.id, o.agency_id, o.unit_id, o.drafted_by, o.summary, o.doc_type, o.urgency,"
    " o.confidentiality, o.legal_normative, o.status, o.signed_by, o.signer_title,"
    " o.signing_capacity, o.signed_at, o.number, o.code, o.series, o.year, o.issued_date,"
    " o.number_label, o.numbered_at, o.sealed_at, o.dispatch_due, o.links, o.dispatched_at,"
    " o.dispatched_by,"
    " o.dispatch_note, o.external_recipients, o.recalled_at, o.recall_reason, o.created_at,"
    " o.updated_at"
)
RECIPIENT_COLUMNS = (
    "outgoing_id, position, agency_id, code, name, external, state, incoming_id,"
    " delivered_at, arrival_label, acknowledged_at, acknowledged_by, return_reason,"
    " returned_at, withdrawn_at, recall_confirmed_at"
)
# The deadline that matters now: registration for a received copy, handling while open.
DUE_AT = ("CASE i.status WHEN 'received' THEN i.registration_due"
          " WHEN 'assigned' THEN i.deadline WHEN 'in_progress' THEN i.deadline END")


def _deadline_status(now: str, window: str) -> str:
    return (f"CASE WHEN d.due_at IS NULL THEN 'none' WHEN d.due_at < {now} THEN 'overdue'"
            f" WHEN d.due_at <= {now} + {window} THEN 'due_soon' ELSE 'on_time' END")


class RecipientRow(TypedDict):
    """One recipient of an outgoing document (dispatch_recipients_view, RECIPIENT_COLUMNS)."""

    outgoing_id: UUID
    position: int
    agency_id: UUID | None
    code: str | None
    name: str
    external: bool
    state: str
    incoming_id: UUID | None
    delivered_at: datetime | None
    arrival_label: str | None
    acknowledged_at: datetime | None
    acknowledged_by: UUID | None
    return_reason: str | None
    returned_at: datetime | None
    withdrawn_at: datetime | None
    recall_confirmed_at: datetime | None


class CalendarRow(TypedDict):
    """An agency's own days off and make-up working days (agency_calendar_view)."""

    id: UUID
    code: str
    name: str
    extra_days_off: list[date]
    make_up_working_days: list[date]
    version: int


def _row(record: Any, *json_fields: str) -> dict[str, Any]:
    row = dict(record)
    for name in json_fields:
        if isinstance(row.get(name), str):
            row[name] = json.loads(row[name])
    return row


def _incoming(record: Any) -> dict[str, Any]:
    return _row(record, "file", "appendices", "links", "authenticity")


@dataclass(frozen=True)
class Page:
    """One keyset page: the rows and the cursor of the next page (None on the last)."""

    items: list[dict[str, Any]]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class Handler:
    """A person who handles incoming documents: the user, and the unit they belong to."""

    user_id: UUID
    unit_id: UUID | None


@dataclass(frozen=True)
class UnitLoad:
    """One unit's line of the dashboard (counts as defined in ExchangeQueries.dashboard)."""

    unit_id: UUID | None
    unit_code: str | None
    unit_name: str | None
    total_assigned: int
    completed_on_time: int
    completed_late: int
    open_overdue: int
    open_due_soon: int
    open_on_time: int
    avg_handling_hours: float | None


def _page(rows: Sequence[Any], limit: int, key: str, convert: Any) -> Page:
    items = [convert(r) for r in rows[:limit]]
    after = None
    if len(rows) > limit:
        last = rows[limit - 1]
        after = (last[key], UUID(str(last["id"])))
    return Page(items, after)


def _statuses(status: str | Sequence[str]) -> list[str]:
    return [status] if isinstance(status, str) else list(status)


def tsquery(text: str, agency_id: UUID) -> str | None:
    """The tsquery text for a search in the agency: every folded word as a prefix.

    Each word carries the agency's tag, as the projection stores it (see
    docmgmt.incoming.views). None if there is no word, or if a word is longer than any
    stored word can be (nothing can match).
    """
    parts = tokens(text)
    if not parts or any(len(p.encode()) > MAX_WORD_BYTES for p in parts):
        return None
    tag = search_tag(agency_id)
    # Tokens are letters and digits only, so quoting them needs no escaping.
    return " & ".join(f"'{tag}{p}':*" for p in parts)


class ExchangeQueries:
    """Inbox, outbox, registers, dashboard and search for one agency at a time."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def inbox(
        self, agency_id: UUID, *, user_id: UUID | None = None, unit_id: UUID | None = None,
        clerk_queue: bool = False, status: str | Sequence[str] | None = None, limit: int = 50,
        cursor: Cursor | None = None, now: datetime | None = None,
        due_soon: timedelta = DUE_SOON, deadline: str | None = None,
        withdrawal_confirmed: bool | None = None,
    ) -> Page:
        """Incoming documents of the agency, newest arrival first, keyset-paged.

        ``user_id``: documents whose lead person is the user; with ``clerk_queue`` also the
        agency's copies waiting for a clerk (received, or registered but unassigned).
        ``clerk_queue`` alone: only that queue. ``unit_id``: documents the unit leads or
        supports. ``status``: only these statuses. Each row carries ``due_at`` (the
        registration deadline while received, the handling deadline while assigned or in
        progress) and ``deadline_status`` (on_time, due_soon, overdue, none) as of ``now``
        (the database clock unless given), due soon within ``due_soon`` of ``due_at``.
        ``deadline`` ("due_soon" or "overdue"): only the rows of that deadline status;
        ``withdrawal_confirmed``: only withdrawn copies whose withdrawal is (not) confirmed.
        """
        args: list[Any] = [agency_id, now, due_soon]
        where = ["i.agency_id = $1"]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        queue = "i.status IN ('received', 'registered')"
        if user_id is not None:
            mine = f"i.lead_user_id = {arg(user_id)}"
            where.append(f"({mine} OR {queue})" if clerk_queue else mine)
        elif clerk_queue:
            where.append(queue)
        if unit_id is not None:
            u = arg(unit_id)
            where.append(f"(i.lead_unit_id = {u} OR i.supporting_unit_ids @> ARRAY[{u}::uuid])")
        if status:
            where.append(f"i.status = ANY({arg(_statuses(status))}::text[])")
        if deadline == "overdue":
            where.append("d.due_at < coalesce($2::timestamptz, now())")
        elif deadline == "due_soon":
            where.append("d.due_at >= coalesce($2::timestamptz, now())"
                         " AND d.due_at <= coalesce($2::timestamptz, now()) + $3::interval")
        if withdrawal_confirmed is not None:
            where.append(f"i.withdrawn AND i.withdrawal_confirmed = {arg(withdrawal_confirmed)}")
        if cursor is not None:
            where.append(f"(i.arrived_at, i.id) < ({arg(cursor[0])}, {arg(cursor[1])})")
        rows = await self.pool.fetch(
            f"SELECT {INCOMING_COLUMNS}, d.due_at,"  # noqa: S608
            f" {_deadline_status('coalesce($2::timestamptz, now())', '$3::interval')}"
            f" AS deadline_status FROM docmgmt.incoming_view i"
            f" CROSS JOIN LATERAL (SELECT {DUE_AT} AS due_at) d"
            f" WHERE {' AND '.join(where)} ORDER BY i.arrived_at DESC, i.id DESC"
            f" LIMIT {arg(limit + 1)}",
            *args,
        )
        return _page(rows, limit, "arrived_at", _incoming)

    async def work_counts(self, agency_id: UUID, user_id: UUID, *,
                          now: datetime | None = None, due_soon: timedelta = DUE_SOON,
                          cap: int = 1000) -> dict[str, int]:
        """What waits in the agency's incoming side, and for the user: copies to register
        (received), to assign (registered), withdrawals to confirm, open documents the user
        leads, and of those the ones due soon and overdue (as of ``now``). Each count
        stops at ``cap``; each reads only its own index's entries."""
        def capped(where: str) -> str:
            return (f"(SELECT count(*) FROM (SELECT 1 FROM docmgmt.incoming_view"  # noqa: S608
                    f" WHERE {where} LIMIT $6) s)")

        mine = "agency_id = $1 AND lead_user_id = $2 AND status = ANY($5::text[])"
        clock = "coalesce($3::timestamptz, now())"
        queues = {
            "to_register": "agency_id = $1 AND status = 'received'",
            "to_assign": "agency_id = $1 AND status = 'registered'",
            "withdrawals": "agency_id = $1 AND status = 'withdrawn' AND NOT withdrawal_confirmed",
            "assigned_to_me": mine,
            "due_soon": f"{mine} AND deadline >= {clock} AND deadline <= {clock} + $4::interval",
            "overdue": f"{mine} AND deadline < {clock}",
        }
        row = await self.pool.fetchrow(
            "SELECT " + ", ".join(f"{capped(where)} AS {name}" for name, where in queues.items()),
            agency_id, user_id, now, due_soon, list(OPEN), cap)
        return {k: int(v) for k, v in dict(row).items()} if row else {}

    async def get_incoming(self, agency_id: UUID, incoming_id: UUID) -> dict[str, Any] | None:
        """One incoming document of the agency (every column), or None."""
        row = await self.pool.fetchrow(
            f"SELECT {INCOMING_COLUMNS} FROM docmgmt.incoming_view i"  # noqa: S608
            " WHERE i.id = $1 AND i.agency_id = $2", incoming_id, agency_id)
        return None if row is None else _incoming(row)

    async def outbox(
        self, agency_id: UUID, *, unit_id: UUID | None = None, user_id: UUID | None = None,
        status: str | Sequence[str] | None = None, limit: int = 50,
        cursor: Cursor | None = None, now: datetime | None = None,
        due_soon: timedelta = DUE_SOON,
    ) -> Page:
        """Numbered outgoing documents of the agency, newest number first, keyset-paged.

        ``unit_id``: drafted in that unit; ``user_id``: drafted by that user. Each row has
        ``recipients`` (Nơi nhận in order, each with its delivery state, arrival number at
        the recipient, return reason and times) and ``delivery`` (count per state), and,
        while sealed but not yet dispatched, ``dispatch_status`` (on_time, due_soon,
        overdue as of ``now``, the database clock unless given; ``none`` otherwise)
        against ``dispatch_due`` (Decree 30, Art. 16: the same or next working day).
        """
        args: list[Any] = [agency_id, now, due_soon]
        where = ["o.agency_id = $1", "o.number IS NOT NULL"]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if unit_id is not None:
            where.append(f"o.unit_id = {arg(unit_id)}")
        if user_id is not None:
            where.append(f"o.drafted_by = {arg(user_id)}")
        if status:
            where.append(f"o.status = ANY({arg(_statuses(status))}::text[])")
        if cursor is not None:
            where.append(f"(o.numbered_at, o.id) < ({arg(cursor[0])}, {arg(cursor[1])})")
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {OUTBOX_COLUMNS},"  # noqa: S608
                f" {_deadline_status('coalesce($2::timestamptz, now())', '$3::interval')}"
                " AS dispatch_status FROM docmgmt.outbox_view o CROSS JOIN LATERAL"
                " (SELECT CASE WHEN o.status = 'sealed' THEN o.dispatch_due END AS due_at) d"
                f" WHERE {' AND '.join(where)} ORDER BY o.numbered_at DESC, o.id DESC"
                f" LIMIT {arg(limit + 1)}", *args)
            page = _page(rows, limit, "numbered_at", lambda r: _row(r, "links"))
            await self._attach_recipients(conn, page.items)
        return page

    async def get_outgoing(self, agency_id: UUID, outgoing_id: UUID) -> dict[str, Any] | None:
        """One outgoing document of the agency with its recipients, or None."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {OUTBOX_COLUMNS} FROM docmgmt.outbox_view o"  # noqa: S608
                " WHERE o.id = $1 AND o.agency_id = $2", outgoing_id, agency_id)
            if row is None:
                return None
            item = _row(row, "links")
            await self._attach_recipients(conn, [item])
        return item

    @staticmethod
    async def _attach_recipients(conn: Any, items: list[dict[str, Any]]) -> None:
        rows = await conn.fetch(
            f"SELECT {RECIPIENT_COLUMNS} FROM docmgmt.dispatch_recipients_view"  # noqa: S608
            " WHERE outgoing_id = ANY($1::uuid[]) ORDER BY outgoing_id, position",
            [i["id"] for i in items])
        by_doc: dict[UUID, list[RecipientRow]] = {}
        for r in rows:
            by_doc.setdefault(r["outgoing_id"], []).append(cast("RecipientRow", dict(r)))
        for item in items:
            item["recipients"] = by_doc.get(item["id"], [])
            delivery: dict[str, int] = {}
            for r in item["recipients"]:
                delivery[r["state"]] = delivery.get(r["state"], 0) + 1
            item["delivery"] = delivery

    async def incoming_register(self, agency_id: UUID, year: int, *,
                                start: int | None = None,
                                limit: int | None = None) -> list[dict[str, Any]]:
        """Sổ văn bản đến: every registered copy of ``year``, by arrival number.

        ``start``/``limit``: only the rows from that arrival number on, at most ``limit``
        of them (a page of the register, on its index).
        """
        rows = await self.pool.fetch(
            f"SELECT {INCOMING_COLUMNS}, lu.code AS lead_unit_code, lu.name AS lead_unit_name,"  # noqa: S608
            " lp.full_name AS lead_user_name, rb.full_name AS registered_by_name,"
            " (SELECT string_agg(s.name, '; ' ORDER BY s.code) FROM docmgmt.units_view s"
            "  WHERE s.id = ANY(i.supporting_unit_ids)) AS supporting_unit_names"
            " FROM docmgmt.incoming_view i"
            " LEFT JOIN docmgmt.units_view lu ON lu.id = i.lead_unit_id"
            " LEFT JOIN docmgmt.users_view lp ON lp.id = i.lead_user_id"
            " LEFT JOIN docmgmt.users_view rb ON rb.id = i.registered_by"
            " WHERE i.agency_id = $1 AND i.arrival_year = $2 AND i.arrival_number IS NOT NULL"
            " AND ($3::int IS NULL OR i.arrival_number >= $3)"
            " ORDER BY i.arrival_number, i.id LIMIT $4", agency_id, year, start, limit)
        return [_incoming(r) for r in rows]

    async def outgoing_register(self, agency_id: UUID, year: int,
                                series: str | None = None, *,
                                start: tuple[str, int] | None = None,
                                limit: int | None = None) -> list[dict[str, Any]]:
        """Sổ văn bản đi: every numbered document of ``year``, by series and number.

        ``start``/``limit``: only the rows from that (series, number) on, at most ``limit``
        of them (a page of the register, on its index).
        """
        rows = await self.pool.fetch(
            f"SELECT {OUTBOX_COLUMNS}, su.full_name AS signer_name, du.code AS unit_code,"  # noqa: S608
            " du.name AS unit_name,"
            " (SELECT string_agg(r.name, '; ' ORDER BY r.position)"
            "  FROM docmgmt.dispatch_recipients_view r WHERE r.outgoing_id = o.id)"
            " AS recipient_names"
            " FROM docmgmt.outbox_view o"
            " LEFT JOIN docmgmt.users_view su ON su.id = o.signed_by"
            " LEFT JOIN docmgmt.units_view du ON du.id = o.unit_id"
            " WHERE o.agency_id = $1 AND o.year = $2 AND o.number IS NOT NULL"
            " AND ($3::text IS NULL OR o.series = $3)"
            " AND ($4::text IS NULL OR (o.series, o.number) >= ($4::text, $5::int))"
            " ORDER BY o.series, o.number, o.id LIMIT $6",
            agency_id, year, series, None if start is None else start[0],
            None if start is None else start[1], limit)
        return [_row(r, "links") for r in rows]

    async def incoming_register_csv(self, agency_id: UUID, year: int) -> str:
        """The incoming register as CSV text (UTF-8 BOM first, bilingual header)."""
        return registers_csv(INCOMING_CSV, await self.incoming_register(agency_id, year))

    async def outgoing_register_csv(self, agency_id: UUID, year: int,
                                    series: str | None = None) -> str:
        """The outgoing register as CSV text (UTF-8 BOM first, bilingual header)."""
        return registers_csv(OUTGOING_CSV,
                             await self.outgoing_register(agency_id, year, series))

    async def dashboard(
        self, agency_id: UUID, period_start: datetime, period_end: datetime,
        now: datetime | None = None, due_soon: timedelta = DUE_SOON,
    ) -> list[UnitLoad]:
        """Handling performance per unit for a period [period_start, period_end).

        Counted: the agency's incoming documents that were ever assigned, are not withdrawn,
        and whose first assignment OR current deadline falls in the period. A document
        belongs to its lead unit, or (assigned to a person only) to that person's unit.
        total_assigned counts them all; completed_on_time / completed_late split the
        completed ones by the on-time verdict recorded at completion; open_overdue,
        open_due_soon and open_on_time split the open ones (assigned, in progress) by their
        deadline as of ``now`` (the database clock unless given): overdue strictly after
        it, due soon within ``due_soon`` of it. avg_handling_hours: mean hours from first
        assignment to completion over the completed ones (None if none).
        """
        rows = await self.pool.fetch(
            "WITH docs AS ("
            " SELECT coalesce(i.lead_unit_id, p.unit_id) AS unit_id, i.status, i.deadline,"
            "  i.assigned_at, i.completed_at, i.completed_on_time"
            " FROM docmgmt.incoming_view i"
            " LEFT JOIN docmgmt.users_view p ON i.lead_unit_id IS NULL AND p.id = i.lead_user_id"
            " WHERE i.agency_id = $1 AND i.assigned_at IS NOT NULL AND NOT i.withdrawn"
            "  AND ((i.assigned_at >= $2 AND i.assigned_at < $3)"
            "   OR (i.deadline >= $2 AND i.deadline < $3))),"
            " clock AS (SELECT coalesce($4::timestamptz, now()) AS now)"
            " SELECT d.unit_id, u.code AS unit_code, u.name AS unit_name,"
            "  count(*) AS total_assigned,"
            "  count(*) FILTER (WHERE d.status = 'completed' AND d.completed_on_time)"
            "   AS completed_on_time,"
            "  count(*) FILTER (WHERE d.status = 'completed' AND NOT d.completed_on_time)"
            "   AS completed_late,"
            "  count(*) FILTER (WHERE d.status IN ('assigned', 'in_progress')"
            "   AND d.deadline < c.now) AS open_overdue,"
            "  count(*) FILTER (WHERE d.status IN ('assigned', 'in_progress')"
            "   AND d.deadline >= c.now AND d.deadline <= c.now + $5::interval)"
            "   AS open_due_soon,"
            "  count(*) FILTER (WHERE d.status IN ('assigned', 'in_progress')"
            "   AND d.deadline > c.now + $5::interval) AS open_on_time,"
            "  avg(extract(epoch FROM d.completed_at - d.assigned_at) / 3600.0)"
            "   FILTER (WHERE d.status = 'completed') AS avg_handling_hours"
            " FROM docs d CROSS JOIN clock c LEFT JOIN docmgmt.units_view u ON u.id = d.unit_id"
            " GROUP BY d.unit_id, u.code, u.name ORDER BY u.code NULLS LAST, d.unit_id",
            agency_id, period_start, period_end, now, due_soon)
        return [UnitLoad(
            unit_id=None if r["unit_id"] is None else UUID(str(r["unit_id"])),
            unit_code=r["unit_code"], unit_name=r["unit_name"],
            total_assigned=r["total_assigned"], completed_on_time=r["completed_on_time"],
            completed_late=r["completed_late"], open_overdue=r["open_overdue"],
            open_due_soon=r["open_due_soon"], open_on_time=r["open_on_time"],
            avg_handling_hours=(None if r["avg_handling_hours"] is None
                                else float(r["avg_handling_hours"])),
        ) for r in rows]

    async def list_recent_for_lead(self, agency_id: UUID, user_id: UUID, since: datetime,
                                   limit: int = 30) -> list[dict[str, Any]]:
        """The incoming documents the user leads that changed since ``since``, newest change
        first, each with ``change``: what its last event was, read off the row.

        ``change`` is one of assigned, progress, extension_requested, extension_decided,
        completed, withdrawn (the row keeps each step's time, so the step whose time is the
        row's last change is the last event; an extension decision leaves no time of its
        own, so it is what remains).
        """
        rows = await self.pool.fetch(
            "SELECT i.id, i.summary, i.number_label, i.sender_name, i.status, i.deadline,"
            " i.updated_at,"
            " CASE WHEN i.withdrawn THEN 'withdrawn'"
            "  WHEN i.status = 'completed' THEN 'completed'"
            "  WHEN i.pending_extension_at IS NOT NULL THEN 'extension_requested'"
            "  WHEN i.updated_at = i.last_assigned_at THEN 'assigned'"
            "  WHEN i.updated_at = i.last_progress_at THEN 'progress'"
            "  ELSE 'extension_decided' END AS change"
            " FROM docmgmt.incoming_view i"
            " WHERE i.lead_user_id = $2 AND i.agency_id = $1 AND i.updated_at >= $3"
            " ORDER BY i.updated_at DESC, i.id DESC LIMIT $4",
            agency_id, user_id, since, limit)
        return [dict(r) for r in rows]

    async def search(self, agency_id: UUID, text: str, limit: int = 20, *,
                     cursor: Cursor | None = None, handler: Handler | None = None) -> Page:
        """Incoming and outgoing documents of the agency matching ``text``, newest first
        (by arrival or creation, then id), keyset-paged after ``cursor``.

        Diacritics and case are ignored ("quyet dinh" finds "Quyết định", "da nang" finds
        "Đà Nẵng"); every word of ``text`` must begin a word of the number, code, summary,
        sender or recipients, in any order. No word, no result. ``handler``: only the
        incoming documents that person leads or their unit leads or supports (what an
        official may read); the outgoing ones are the agency's all the same.
        """
        query = tsquery(text, agency_id)
        if query is None:
            return Page([], None)
        args: list[Any] = [agency_id, query, limit + 1]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        mine, after_in, after_out = "", "", ""
        if handler is not None:
            mine = f" AND (i.lead_user_id = {arg(handler.user_id)}"
            if handler.unit_id is not None:
                u = arg(handler.unit_id)
                mine += f" OR i.lead_unit_id = {u} OR i.supporting_unit_ids @> ARRAY[{u}::uuid]"
            mine += ")"
        if cursor is not None:
            at, ident = arg(cursor[0]), arg(cursor[1])
            after_in = f" AND (i.arrived_at, i.id) < ({at}, {ident})"
            after_out = f" AND (o.created_at, o.id) < ({at}, {ident})"
        rows = await self.pool.fetch(
            "SELECT * FROM ("  # noqa: S608
            " (SELECT 'incoming' AS kind, i.id, i.number_label, i.summary, i.doc_type,"
            "  i.sender_name AS party, i.arrived_at AS at, i.status, i.arrival_number"
            "  FROM docmgmt.incoming_view i WHERE i.agency_id = $1"
            f"  AND i.search_vector @@ $2::tsquery{mine}{after_in}"
            "  ORDER BY i.arrived_at DESC, i.id DESC LIMIT $3)"
            " UNION ALL"
            " (SELECT 'outgoing', o.id, o.number_label, o.summary, o.doc_type,"
            "  array_to_string(o.external_recipients, '; '), o.created_at, o.status, o.number"
            "  FROM docmgmt.outbox_view o WHERE o.agency_id = $1"
            f"  AND o.search_vector @@ $2::tsquery{after_out}"
            "  ORDER BY o.created_at DESC, o.id DESC LIMIT $3)"
            ") hits ORDER BY at DESC, id DESC LIMIT $3",
            *args)
        return _page(rows, limit, "at", dict)

    async def agency_calendar(self, agency_id: UUID) -> CalendarRow | None:
        """The agency's own days off and make-up working days, as last set."""
        row = await self.pool.fetchrow(
            "SELECT id, code, name, extra_days_off, make_up_working_days, version"
            " FROM docmgmt.agency_calendar_view WHERE id = $1", agency_id)
        return None if row is None else cast("CalendarRow", dict(row))
