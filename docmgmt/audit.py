"""The auditor's trail: the events of the agencies they hold a mandate for, read-only, and
every read recorded.

Scope: an admin grants an auditor an ``AuditMandate`` per agency, for a term. An audit read
is allowed only while a mandate for the agency is in force at the moment of the request:

- a document's trail (and an auditor's replay of another agency's document) outside the
  mandates is reported as not found (404), like every other cross-agency read; it is checked
  on the write side, against the mandate aggregate itself, so a revocation takes effect at
  once. An auditor's own agency is no exception for the trail; replay keeps the ordinary
  readers' rule (own agency), as ``GET /documents/{id}`` already allows.
- ``/audit/events`` returns only events attributed to agencies under a mandate in force
  (read from ``audit_scopes_view``), plus the auditor's own recorded queries (which belong
  to no agency); an explicit ``agency_id`` outside those mandates is refused (403), since
  the agency list is public and an empty page would only hide the reason.

Each audit read is itself an event: per-document reads go to the document's access log,
queries across the store to an ``AuditLog`` entry.

The cross-store queries read the event table directly (the state is the UTF-8 JSON of
eventsourcing's JSONTranscoder; the topic names the event class), paged and bounded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from docmgmt.domain.access import access_log_id
from docmgmt.domain.audit_log import AuditLog
from docmgmt.domain.common import Role
from docmgmt.domain.errors import DocumentNotFoundError, InvalidInputError, PermissionDeniedError
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt
from docmgmt.outgoing.context import DOCUMENT_READERS, OutgoingContext, load_document
from docmgmt.replay import describe, load_as_of

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
  AND ($6::text IS NULL OR j.qual = $6 OR split_part(j.qual, '.', 2) = $6)
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
        return {f.name: (v.isoformat() if isinstance(v, datetime) else v)
                for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def args(self) -> list[Any]:
        """The SQL parameters $1 to $8."""
        return [list(SKIPPED_TYPES), self.agency_id,
                None if self.user_id is None else str(self.user_id),
                self.start, self.end, self.type or None, self.limit, self.offset]


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


CSV_COLUMNS = ("position", "time", "type", "agency_id", "document_id", "aggregate_id",
               "version", "user_id", "username", "client_ip", "request_id", "purpose",
               "payload")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    # Client-supplied text (request ids, user agents) must not run as a spreadsheet formula.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(items: Sequence[dict[str, Any]]) -> str:
    """The events as CSV with a header row (UTF-8 text, payload as JSON); cells that a
    spreadsheet would run as a formula are prefixed with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        actor, payload = item["actor"], item["payload"]
        writer.writerow([_cell(v) for v in (
            item["position"], item["time"], item["type"], item["agency_id"] or "",
            item["document_id"] or "", item["aggregate_id"], item["version"],
            actor.get("user_id", ""), actor.get("username", ""), actor.get("client_ip", ""),
            actor.get("request_id", ""), payload.get("purpose", ""),
            json.dumps(payload, ensure_ascii=False, sort_keys=True),
        )])
    return out.getvalue()


@dataclass
class AuditService:
    """Audit use cases on the write side: authorisation, replay, and recording each read."""

    app: DocMgmt
    documents: OutgoingContext

    @staticmethod
    def require_auditor(who: Principal) -> None:
        """Only auditors (PermissionDeniedError otherwise)."""
        who.require(Role.AUDITOR)

    def in_scope(self, who: Principal, agency_id: UUID) -> bool:
        """Whether the caller is an auditor with a mandate in force for the agency now."""
        if Role.AUDITOR not in who.roles:
            return False
        mandate = self.app.find_audit_mandate(who.user_id, agency_id)
        return mandate is not None and mandate.in_force(datetime.now(UTC))

    def grant_mandate(self, who: Principal, auditor_id: UUID, agency_id: UUID, *,
                      valid_from: datetime | None, valid_to: datetime | None,
                      legal_basis: str) -> CommandResult:
        """An admin gives an auditor authority to read an agency (from now by default)."""
        who.require(Role.ADMIN)
        now = datetime.now(UTC)
        return self.app.grant_audit_mandate(
            auditor_id, agency_id, valid_from=valid_from or now, valid_to=valid_to,
            legal_basis=legal_basis, actor=who.actor, now=now)

    def revoke_mandate(self, who: Principal, auditor_id: UUID, agency_id: UUID,
                       reason: str) -> CommandResult:
        """An admin withdraws an auditor's authority to read an agency."""
        who.require(Role.ADMIN)
        return self.app.revoke_audit_mandate(auditor_id, agency_id, reason, who.actor)

    def record_trail_read(self, who: Principal, document_id: UUID, purpose: str) -> None:
        """Record an auditor's read of a document's trail in its access log (before it);
        outside the auditor's mandates the document is not found."""
        self.require_auditor(who)
        try:
            document = self.app.get_document(document_id)
            agency_id, revision = document.agency_id, document.current_revision.number
            sha256 = document.latest_file.sha256
        except DocumentNotFoundError:
            # A received copy (văn bản đến) has one file and its own trail.
            incoming = self.app.get_incoming(document_id)
            agency_id, revision, sha256 = incoming.agency_id, 1, str(incoming.file["sha256"])
        if not self.in_scope(who, agency_id):
            raise DocumentNotFoundError(f"document {document_id} not found")
        self.app.record_view(document_id, revision, sha256, purpose[:100], who.actor)

    def record_query(self, who: Principal, kind: str, query: dict[str, Any],
                     result_count: int) -> UUID:
        """Record an auditor's query across the store as an AuditLog entry."""
        self.require_auditor(who)
        entry = AuditLog.record(kind, query, result_count, who.actor)
        self.app.save(entry)
        return entry.id

    def replay(self, who: Principal, document_id: UUID, *, version: int | None,
               at: datetime | None) -> dict[str, Any]:
        """A document as of a version or moment: readers of its agency, or auditors with a
        mandate in force for it (an auditor's replay is recorded in the access log)."""
        who.require(*DOCUMENT_READERS)
        # Only an auditor's read costs the extra load of the document and the mandate.
        if not (Role.AUDITOR in who.roles
                and self.in_scope(who, self.app.get_document(document_id).agency_id)):
            load_document(self.documents, who, document_id)
        state = describe(load_as_of(self.app, document_id, version=version, at=at), at)
        if Role.AUDITOR in who.roles:
            revision = state["current_revision"]
            self.app.record_view(document_id, revision["number"], state["latest_sha256"],
                                 f"audit:replay:v{state['version']}", who.actor)
        return state
