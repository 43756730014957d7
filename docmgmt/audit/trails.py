"""The auditor's trail: read-only queries over the event table for the agencies under the
auditor's mandates in force, and the steps that record each read before it is answered.

A document's trail outside the mandates is not found (404), checked against the mandate
aggregate so a revocation takes effect at once; ``/audit/events`` shows only agencies
under a mandate in force (from ``audit_scopes_view``) plus the auditor's own recorded
queries, and an explicit agency outside them is refused (403).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from docmgmt.audit.mandates import in_scope
from docmgmt.domain.access import access_log_id
from docmgmt.domain.audit_log import AuditLog
from docmgmt.domain.common import Role
from docmgmt.domain.errors import DocumentNotFoundError, InvalidInputError, PermissionDeniedError
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt

MAX_LIMIT = 1000
SKIPPED_TYPES = ("AccessLog.Opened",)
_NOT_PAYLOAD = {"originator_id", "originator_version", "originator_topic", "timestamp", "actor"}

# Values always go as parameters; only the two fixed scope clauses below vary the text.
_SELECT = """
SELECT e.notification_id, e.originator_id, e.originator_version, j.qual, j.state,
       k.at, k.document_id, a.agency_id
FROM docmgmt.docmgmt_events e
CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8') AS state,
                           convert_from(e.state, 'UTF8')::jsonb AS js,
                           split_part(e.topic, ':', 2) AS qual) j
CROSS JOIN LATERAL (
    SELECT (j.js->'timestamp'->>'_data_')::timestamptz AS at,
           CASE WHEN j.qual LIKE 'AccessLog.%' THEN (j.js->'document_id'->>'_data_')::uuid
                WHEN j.qual LIKE 'OutgoingDocument.%' OR j.qual LIKE 'IncomingDocument.%'
                THEN e.originator_id END AS document_id
) k
LEFT JOIN docmgmt.documents_view d ON d.id = k.document_id
LEFT JOIN docmgmt.incoming_view iv ON iv.id = k.document_id
LEFT JOIN docmgmt.users_view u ON j.qual LIKE 'User.%' AND u.id = e.originator_id
CROSS JOIN LATERAL (
    SELECT COALESCE(d.agency_id, iv.agency_id, u.agency_id,
                    CASE WHEN j.qual LIKE 'Agency.%' THEN e.originator_id END,
                    CASE WHEN jsonb_typeof(j.js->'agency_id') = 'object'
                         THEN (j.js->'agency_id'->>'_data_')::uuid END) AS agency_id
) a
WHERE {scope}
  AND NOT (j.qual = ANY($1::text[]))
  AND ($2::uuid IS NULL OR a.agency_id = $2)
  AND ($3::text IS NULL OR j.js->'actor'->>'user_id' = $3)
  AND ($4::timestamptz IS NULL OR k.at >= $4)
  AND ($5::timestamptz IS NULL OR k.at < $5)
  AND (cardinality($6::text[]) = 0 OR j.qual = ANY($6::text[])
       OR split_part(j.qual, '.', 2) = ANY($6::text[]))
ORDER BY e.notification_id
LIMIT $7 OFFSET $8
"""
# $9: the agencies under the auditor's mandates; $10: the auditor, whose own recorded
# queries (attributed to no agency) stay visible to them.
STORE_SQL = _SELECT.format(
    scope="(a.agency_id = ANY($9::uuid[])"
          " OR (j.qual LIKE 'AuditLog.%' AND j.js->'actor'->>'user_id' = $10))")
SCOPES_SQL = """
SELECT agency_id FROM docmgmt.audit_scopes_view
WHERE auditor_id = $1 AND NOT revoked AND valid_from <= $2 AND (valid_to IS NULL OR $2 < valid_to)
"""
MANDATES_SQL = """
SELECT agency_id, valid_from, valid_to, revoked,
       (NOT revoked AND valid_from <= $2 AND (valid_to IS NULL OR $2 < valid_to)) AS in_force
FROM docmgmt.audit_scopes_view WHERE auditor_id = $1 ORDER BY agency_id
"""
STREAMS_SQL = _SELECT.format(scope="e.originator_id = ANY($9::uuid[])")


@dataclass(frozen=True)
class EventFilter:
    """What an auditor asks of the event store; every field optional but the page."""

    agency_id: UUID | None = None
    user_id: UUID | None = None
    start: datetime | None = None
    end: datetime | None = None
    type: str | None = None
    types: tuple[str, ...] = ()  # any of these (the pages' checkboxes), as well as ``type``
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be 1 to {MAX_LIMIT}", limit=self.limit)
        if self.offset < 0:
            raise InvalidInputError("offset must not be negative", offset=self.offset)
        for moment in (self.start, self.end):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInputError("from and to must carry a time zone, e.g. +07:00")

    def as_query(self) -> dict[str, Any]:
        """The parameters as recorded in the audit log."""
        return {f.name: (v.isoformat() if isinstance(v, datetime) else
                         list(v) if isinstance(v, tuple) else v)
                for f in fields(self) if (v := getattr(self, f.name)) not in (None, ())}

    def args(self) -> list[Any]:
        """The SQL parameters $1 to $8."""
        return [list(SKIPPED_TYPES), self.agency_id,
                None if self.user_id is None else str(self.user_id),
                self.start, self.end, [*([self.type] if self.type else []), *self.types],
                self.limit, self.offset]


def plain(value: Any) -> Any:
    """A stored JSON value with eventsourcing's ``{"_type_", "_data_"}`` wrappers undone."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            data = value["_data_"]
            return str(UUID(data)) if value["_type_"] == "uuid_hex" else plain(data)
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _item(row: Any) -> dict[str, Any]:
    state = plain(json.loads(row["state"]))
    return {
        "position": row["notification_id"],
        "time": row["at"].isoformat(),
        "type": row["qual"],
        "aggregate_id": str(row["originator_id"]),
        "version": row["originator_version"],
        "document_id": None if row["document_id"] is None else str(row["document_id"]),
        "agency_id": None if row["agency_id"] is None else str(row["agency_id"]),
        "actor": state.get("actor") or {},
        "payload": {k: v for k, v in state.items() if k not in _NOT_PAYLOAD},
    }


class AuditQueries:
    """Read-only queries over the event store for auditors (asyncpg)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def agencies_in_scope(self, auditor_id: UUID, now: datetime) -> list[UUID]:
        """The agencies the auditor holds a mandate in force for at ``now``."""
        rows = await self.pool.fetch(SCOPES_SQL, auditor_id, now)
        return [r["agency_id"] for r in rows]

    async def find_events(self, auditor_id: UUID, f: EventFilter,
                          now: datetime | None = None) -> list[dict[str, Any]]:
        """One page of events of the auditor's agencies, oldest first (PermissionDeniedError
        for an agency filter outside the mandates)."""
        agencies = await self.agencies_in_scope(auditor_id, now or datetime.now(UTC))
        if f.agency_id is not None and f.agency_id not in agencies:
            raise PermissionDeniedError("you hold no audit mandate in force for this agency",
                                        agency_id=str(f.agency_id))
        rows = await self.pool.fetch(STORE_SQL, *f.args(), agencies, str(auditor_id))
        return [_item(r) for r in rows]

    async def list_mandates(self, auditor_id: UUID,
                            now: datetime | None = None) -> list[dict[str, Any]]:
        """Every mandate ever granted to the auditor, and whether it is in force now."""
        rows = await self.pool.fetch(MANDATES_SQL, auditor_id, now or datetime.now(UTC))
        return [{"agency_id": str(r["agency_id"]), "valid_from": r["valid_from"].isoformat(),
                 "valid_to": None if r["valid_to"] is None else r["valid_to"].isoformat(),
                 "revoked": r["revoked"], "in_force": r["in_force"]} for r in rows]

    async def document_trail(self, document_id: UUID, f: EventFilter) -> list[dict[str, Any]]:
        """One page of a document's events and of its access log, oldest first."""
        streams = [document_id, access_log_id(document_id)]
        rows = await self.pool.fetch(STREAMS_SQL, *f.args(), streams)
        return [_item(r) for r in rows]


def record_trail_read(store: DocMgmt, who: Principal, document_id: UUID, purpose: str) -> None:
    """Record an auditor's read of a document's trail in its access log (before it);
    outside the auditor's mandates the document is not found."""
    who.require(Role.AUDITOR)
    try:
        document = store.load(OutgoingDocument, document_id, DocumentNotFoundError)
        agency_id, revision = document.agency_id, document.current_revision.number
        sha256 = document.latest_file.sha256
    except DocumentNotFoundError:
        # A received copy (văn bản đến) has one file and its own trail.
        incoming = store.load(IncomingDocument, document_id, DocumentNotFoundError)
        agency_id, revision, sha256 = incoming.agency_id, 1, str(incoming.file["sha256"])
    if not in_scope(store, who, agency_id):
        raise DocumentNotFoundError(f"document {document_id} not found")
    store.record_view(document_id, revision, sha256, purpose[:100], who.actor)


def record_query(store: DocMgmt, who: Principal, kind: str, query: dict[str, Any],
                 result_count: int) -> UUID:
    """Record an auditor's query across the store as an AuditLog entry."""
    who.require(Role.AUDITOR)
    entry = AuditLog.record(kind, query, result_count, who.actor)
    store.commit(entry)
    return entry.id
