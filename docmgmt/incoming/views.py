"""The ``exchange`` projection: the read side of sending and receiving (exactly once).

One projection, one tracking position (``docmgmt.exchange_tracking``, apart from the main
read model's), for ``incoming_view`` (one row per copy), ``outbox_view`` (one row per
outgoing document; the outgoing register is the rows that got a number),
``dispatch_recipients_view`` (each recipient's delivery state as the sender sees it) and
``agency_calendar_view`` (agency names for search, and calendars). No ``topics`` filter: a
filtered subscription records tracking only for the events it receives, so a
read-your-writes wait for any other event's position would block.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection, ProjectionRunner

from docmgmt.domain.agency import Agency
from docmgmt.domain.calendar import AgencyCalendar, dispatch_due
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.domain.textsearch import search_key, tokens
from docmgmt.kernel.holidays import VietnamHolidays
from docmgmt.kernel.projections import ReadModelRecorder, start_projection
from docmgmt.kernel.store import DocMgmt

Statement = tuple[str, Sequence[Any]]
IN = "docmgmt.incoming_view"
OUT = "docmgmt.outbox_view"
# Public holidays for dispatch deadlines (the library is pinned, so a rebuild agrees).
HOLIDAYS = VietnamHolidays()
RCPT = "docmgmt.dispatch_recipients_view"


# A tsquery operand may not exceed 2047 bytes (to_tsvector skipped longer words too).
MAX_WORD_BYTES = 2047 - len("a12345678")


def words(*fields: str | None) -> str:
    """The folded words of ``fields``, space-separated: what ``search_vector`` indexes."""
    return " ".join(w for f in fields if f and f.strip() for w in tokens(f)
                    if len(w.encode()) <= MAX_WORD_BYTES)


def search_tag(agency_id: UUID) -> str:
    """The fixed-length prefix of the agency's lexemes in ``search_vector``.

    ``search_key`` is the folded text (docmgmt.domain.textsearch) and ``search_vector``
    the same words as lexemes, each behind the row's agency tag: "a" and the first 8 hex
    digits of the agency id, so "quyet" of agency 1b2c3d4e-… is "a1b2c3d4equyet". Words
    are split in Python and stored as they are (``array_to_tsvector``), because
    PostgreSQL's parser keeps "05/qd-ubnd" as one file-path token. The tag keeps a prefix
    query ("quyet:*") within the agency's own lexemes, where GIN would otherwise gather
    the postings of the whole city before filtering (figures in bench/README.md). Its
    length is fixed, so one agency's prefix never reaches another tag; queries still
    filter on ``agency_id`` (two agencies may share a tag). Names are recorded as they were
    when the event happened, as a register records them.
    """
    return "a" + str(agency_id)[:8]


def _scoped(agency: str, text: str) -> str:
    """SQL: a tsvector of the space-separated words ``text``, tagged as ``search_tag`` does.

    ``agency`` and ``text`` are SQL expressions (a uuid and a text).
    """
    return (f"array_to_tsvector(ARRAY(SELECT 'a' || left({agency}::text, 8) || w"  # noqa: S608
            f" FROM unnest(string_to_array({text}, ' ')) AS w WHERE w <> ''))")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _by(actor: dict[str, str]) -> str | None:
    return actor.get("user_id") or None


def _incoming(e: Any, assignments: str, params: Sequence[Any]) -> Statement:
    return (
        # Fragments come from this module's code only; values always go as parameters.
        f"UPDATE {IN} SET {assignments}, version = %s, updated_at = %s WHERE id = %s",  # noqa: S608
        (*params, e.originator_version, e.timestamp, e.originator_id),
    )


def _outgoing(e: Any, assignments: str, params: Sequence[Any] = ()) -> Statement:
    return (
        f"UPDATE {OUT} SET {assignments}, updated_at = %s WHERE id = %s",  # noqa: S608
        (*params, e.timestamp, e.originator_id),
    )


def _append_search(e: Any, *fields: str) -> Statement:
    return _outgoing(
        e, "search_key = concat_ws(E'\\n', nullif(search_key, ''), nullif(%s::text, '')),"
        f" search_vector = search_vector || {_scoped('agency_id', '%s::text')}",
        (search_key(*fields), words(*fields)))


# The row's own words (a parameter) and its agency's name (joined as ``a``).
_OWN_AND_AGENCY_WORDS = "concat_ws(' ', %s::text, a.search_name)"


def _recipient(e: Any, assignments: str, params: Sequence[Any] = ()) -> Statement:
    return (
        f"UPDATE {RCPT} SET {assignments} WHERE outgoing_id = %s AND agency_id = %s",  # noqa: S608
        (*params, e.originator_id, e.agency_id),
    )


class ExchangeViews(Projection[ReadModelRecorder]):
    """Maintains the incoming, outbox, dispatch-recipient and agency-calendar views."""

    name = "exchange"

    def __init__(self, view: ReadModelRecorder) -> None:
        super().__init__(view)
        # Agency calendars as of the tracking position: what is committed now, then every
        # CalendarSet as it is processed (batches commit rows and tracking together).
        self._calendars: dict[UUID, AgencyCalendar] = {}
        # Agencies of documents drafted since this instance started, until they are
        # sealed; older ones are committed rows (the tracking position is past them).
        self._drafted_here: dict[UUID, UUID] = {}
        with view.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT id, extra_days_off, make_up_working_days"
                         " FROM docmgmt.agency_calendar_view")
            for row in curs.fetchall():
                self._calendars[row["id"]] = AgencyCalendar(
                    HOLIDAYS, row["extra_days_off"] or [], row["make_up_working_days"] or [])

    def _calendar(self, agency_id: UUID) -> AgencyCalendar:
        return self._calendars.get(agency_id) or AgencyCalendar(HOLIDAYS)

    def _sealed_agency(self, e: Any) -> UUID:
        known = self._drafted_here.pop(e.originator_id, None)
        if known is not None:
            return known
        with self.view.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT agency_id FROM {OUT} WHERE id = %s",  # noqa: S608
                         (e.originator_id,))
            row = curs.fetchone()
        if row is None:
            raise LookupError(f"no outbox row for sealed document {e.originator_id}")
        agency_id: UUID = row["agency_id"]
        return agency_id

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events that change no view still advance the tracking position."""
        self.view.apply([], tracking)

    # --- agencies -----------------------------------------------------------------------

    @process_event.register
    def _(self, e: Agency.Registered, tracking: Tracking) -> None:
        self.view.apply([(
            "INSERT INTO docmgmt.agency_calendar_view (id, code, name, search_name, version,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (e.originator_id, e.code, e.name, words(e.name), e.originator_version,
             e.timestamp),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.Renamed, tracking: Tracking) -> None:
        self.view.apply([(
            "UPDATE docmgmt.agency_calendar_view SET name = %s, search_name = %s,"
            " version = %s, updated_at = %s WHERE id = %s",
            (e.name, words(e.name), e.originator_version, e.timestamp, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.CalendarSet, tracking: Tracking) -> None:
        self._calendars[e.originator_id] = AgencyCalendar(
            HOLIDAYS, [date.fromisoformat(d) for d in e.extra_days_off],
            [date.fromisoformat(d) for d in e.make_up_working_days])
        self.view.apply([(
            "UPDATE docmgmt.agency_calendar_view SET extra_days_off = %s,"
            " make_up_working_days = %s, version = %s, updated_at = %s WHERE id = %s",
            ([date.fromisoformat(d) for d in e.extra_days_off],
             [date.fromisoformat(d) for d in e.make_up_working_days],
             e.originator_version, e.timestamp, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.PlaceNameSet, tracking: Tracking) -> None:
        self.view.apply([(
            "UPDATE docmgmt.agency_calendar_view SET version = %s, updated_at = %s"
            " WHERE id = %s",
            (e.originator_version, e.timestamp, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.UnitAdded, tracking: Tracking) -> None:
        # No column here names units, but the row's version is the agency's.
        self.view.apply([(
            "UPDATE docmgmt.agency_calendar_view SET version = %s, updated_at = %s"
            " WHERE id = %s",
            (e.originator_version, e.timestamp, e.originator_id),
        )], tracking)

    # --- incoming documents -------------------------------------------------------------

    @process_event.register
    def _(self, e: IncomingDocument.Arrived, tracking: Tracking) -> None:
        own = (e.number_label, e.code, e.summary, e.sender_name)
        self.view.apply([(
            "INSERT INTO docmgmt.incoming_view (id, agency_id, recipient_name, sender_agency_id,"  # noqa: S608
            " sender_code,"
            " sender_name, outgoing_id, number_label, code, issued_date, doc_type, summary,"
            " urgency, confidentiality, file, appendices, links, arrived_at, registration_due,"
            " authentic, authenticity, status, search_key, search_vector, version, updated_at)"
            " SELECT %s, %s, coalesce(a.name, ''), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s::jsonb, %s::jsonb, %s::jsonb, %s, %s, %s, %s::jsonb, 'received',"
            " concat_ws(E'\\n', nullif(%s::text, ''), nullif(a.search_name, '')),"
            f" {_scoped('%s::uuid', _OWN_AND_AGENCY_WORDS)}, %s, %s"
            " FROM (SELECT 1) AS one LEFT JOIN docmgmt.agency_calendar_view a ON a.id = %s",
            (e.originator_id, e.recipient_agency_id, e.sender_agency_id, e.sender_code,
             e.sender_name, e.outgoing_id, e.number_label, e.code, _day(e.issued_date),
             e.doc_type, e.summary, e.urgency, e.confidentiality, _json(e.file),
             _json(e.appendices), _json(e.links), e.timestamp,
             _moment(e.registration_due), bool(e.authenticity.get("ok")),
             _json(e.authenticity), search_key(*own), e.recipient_agency_id, words(*own),
             e.originator_version, e.timestamp, e.recipient_agency_id),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Registered, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "status = 'registered', arrival_number = %s, arrival_year = %s,"
            " registered_on = %s, registered_at = %s, registered_by = %s",
            (e.arrival_number, e.year, _day(e.registered_on), e.timestamp, _by(e.actor)),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ReturnedToSender, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "status = 'returned', return_reason = %s, returned_at = %s, returned_by = %s",
            (e.reason, e.timestamp, _by(e.actor)),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Assigned, tracking: Tracking) -> None:
        # assigned_at keeps the first assignment: handling time counts from it.
        self.view.apply([_incoming(
            e, "status = 'assigned', lead_unit_id = %s, lead_user_id = %s,"
            " supporting_unit_ids = %s::uuid[], instructions = %s, deadline = %s,"
            " assigned_at = coalesce(assigned_at, %s), last_assigned_at = %s,"
            " assigned_by = %s, pending_extension_deadline = NULL,"
            " pending_extension_reason = NULL, pending_extension_by = NULL,"
            " pending_extension_at = NULL",
            (e.lead_unit_id, e.lead_user_id, [UUID(u) for u in e.supporting_unit_ids],
             e.instructions, _moment(e.deadline), e.timestamp, e.timestamp, _by(e.actor)),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ProgressRecorded, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "status = 'in_progress', progress_count = progress_count + 1,"
            " last_progress_at = %s, last_progress_note = %s",
            (e.timestamp, e.note),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ExtensionRequested, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "pending_extension_deadline = %s, pending_extension_reason = %s,"
            " pending_extension_by = %s, pending_extension_at = %s",
            (_moment(e.proposed_deadline), e.reason, _by(e.actor), e.timestamp),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ExtensionDecided, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "deadline = %s, pending_extension_deadline = NULL,"
            " pending_extension_reason = NULL, pending_extension_by = NULL,"
            " pending_extension_at = NULL",
            (_moment(e.deadline),),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Completed, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "status = 'completed', completed_at = %s, completed_on_time = %s,"
            " completed_by = %s, result = %s, reply_document_id = %s",
            (e.timestamp, e.on_time, _by(e.actor), e.result, e.reply_document_id),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Withdrawn, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "status_before_withdrawal = status, status = 'withdrawn', withdrawn = true,"
            " withdrawal_reason = %s, withdrawn_at = %s",
            (e.reason, e.timestamp),
        )], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.WithdrawalConfirmed, tracking: Tracking) -> None:
        self.view.apply([_incoming(
            e, "withdrawal_confirmed = true, withdrawal_confirmed_at = %s", (e.timestamp,),
        )], tracking)

    # --- outgoing documents -------------------------------------------------------------

    @process_event.register
    def _(self, e: OutgoingDocument.Drafted, tracking: Tracking) -> None:
        self._drafted_here[e.originator_id] = e.agency_id
        self.view.apply([(
            "INSERT INTO docmgmt.outbox_view (id, agency_id, unit_id, drafted_by, summary,"  # noqa: S608
            " doc_type,"
            " urgency, confidentiality, legal_normative, status, search_key, search_vector,"
            " created_at, updated_at)"
            " SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, 'draft',"
            " concat_ws(E'\\n', nullif(%s::text, ''), nullif(a.search_name, '')),"
            f" {_scoped('%s::uuid', _OWN_AND_AGENCY_WORDS)}, %s, %s"
            " FROM (SELECT 1) AS one LEFT JOIN docmgmt.agency_calendar_view a ON a.id = %s",
            (e.originator_id, e.agency_id, e.unit_id, _by(e.actor), e.summary, e.doc_type,
             e.urgency, e.confidentiality, e.legal_normative, search_key(e.summary),
             e.agency_id, words(e.summary), e.timestamp, e.timestamp, e.agency_id),
        )], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.SubmittedForApproval, tracking: Tracking) -> None:
        self.view.apply([_outgoing(e, "status = 'submitted'")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Approved, tracking: Tracking) -> None:
        self.view.apply([_outgoing(e, "status = 'approved'")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReturnedForRevision, tracking: Tracking) -> None:
        self.view.apply([_outgoing(e, "status = 'returned'")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Signed, tracking: Tracking) -> None:
        self.view.apply([_outgoing(
            e, "status = 'signed', signed_by = %s, signer_title = %s, signing_capacity = %s,"
            " signed_at = %s",
            (_by(e.actor), e.signer_title, e.capacity, e.timestamp),
        )], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Numbered, tracking: Tracking) -> None:
        label = Registration(e.number, e.code, e.date, e.year, e.series).label
        self.view.apply([
            _outgoing(e, "status = 'numbered', number = %s, code = %s, series = %s,"
                      " year = %s, issued_date = %s, number_label = %s, numbered_at = %s",
                      (e.number, e.code, e.series, e.year, _day(e.date), label, e.timestamp)),
            _append_search(e, label, e.code),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Sealed, tracking: Tracking) -> None:
        # Dispatch is due the same or the next working day, urgent levels at once
        # (Decree 30, Art. 16); the urgency is on the row, so SQL picks which.
        agency = self._sealed_agency(e)
        normal = dispatch_due(e.timestamp, "normal", self._calendar(agency))
        self.view.apply([_outgoing(
            e, "status = 'sealed', sealed_at = %s, dispatch_due = CASE urgency"
            " WHEN 'normal' THEN %s::timestamptz ELSE %s::timestamptz END",
            (e.timestamp, normal, e.timestamp))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Linked, tracking: Tracking) -> None:
        link = {"relation": e.relation, "target_id": str(e.target_id),
                "target_label": e.target_label}
        self.view.apply([_outgoing(e, "links = links || %s::jsonb", (_json([link]),))],
                        tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Dispatched, tracking: Tracking) -> None:
        rows: list[Statement] = [
            ("INSERT INTO docmgmt.dispatch_recipients_view (outgoing_id, position, agency_id,"
             " code, name, external,"
             " state) VALUES (%s, %s, %s, %s, %s, false, 'pending')",
             (e.originator_id, n, UUID(str(r["agency_id"])), r["code"], r["name"]))
            for n, r in enumerate(e.recipients, start=1)
        ]
        rows += [
            ("INSERT INTO docmgmt.dispatch_recipients_view (outgoing_id, position, name,"
             " external, state)"
             " VALUES (%s, %s, %s, true, 'external')",
             (e.originator_id, n, name))
            for n, name in enumerate(e.external, start=len(e.recipients) + 1)
        ]
        names = [str(r["name"]) for r in e.recipients] + list(e.external)
        self.view.apply([
            _outgoing(e, "status = 'dispatched', dispatched_at = %s, dispatched_by = %s,"
                      " dispatch_note = %s, external_recipients = %s::text[]",
                      (e.timestamp, _by(e.actor), e.note, list(e.external))),
            *rows,
            _append_search(e, *names),
        ], tracking)

    # "status = status" below only moves the document's updated_at: its recipients changed.

    @process_event.register
    def _(self, e: OutgoingDocument.DeliveredTo, tracking: Tracking) -> None:
        self.view.apply([
            _recipient(e, "incoming_id = %s, delivered_at = %s, state = CASE WHEN"
                       " state = 'pending' THEN 'delivered' ELSE state END",
                       (e.incoming_id, e.timestamp)),
            _outgoing(e, "status = status"),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReceiptAcknowledged, tracking: Tracking) -> None:
        self.view.apply([
            _recipient(e, "arrival_label = %s, acknowledged_at = %s, acknowledged_by = %s,"
                       " state = CASE WHEN state IN ('pending', 'delivered')"
                       " THEN 'registered' ELSE state END",
                       (e.arrival_label, e.timestamp, _by(e.by))),
            _outgoing(e, "status = status"),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.DeliveryReturned, tracking: Tracking) -> None:
        self.view.apply([
            _recipient(e, "return_reason = %s, returned_at = %s, state = CASE WHEN state IN"
                       " ('pending', 'delivered') THEN 'returned' ELSE state END",
                       (e.reason, e.timestamp)),
            _outgoing(e, "status = status"),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Recalled, tracking: Tracking) -> None:
        self.view.apply([
            _outgoing(e, "status = 'recalled', recalled_at = %s, recall_reason = %s",
                      (e.timestamp, e.reason)),
            ("UPDATE docmgmt.dispatch_recipients_view SET state = 'withdrawn', withdrawn_at = %s"
             " WHERE outgoing_id = %s AND NOT external AND state <> 'returned'",
             (e.timestamp, e.originator_id)),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.RecallConfirmed, tracking: Tracking) -> None:
        self.view.apply([
            _recipient(e, "state = 'recall_confirmed', recall_confirmed_at = %s",
                       (e.timestamp,)),
            _outgoing(e, "status = status"),
        ], tracking)


def start_exchange_views(es_env: dict[str, str]) -> ProjectionRunner[DocMgmt, ReadModelRecorder]:
    """Start the exchange projection in this process (exactly once via its tracking)."""
    return start_projection(ExchangeViews, ReadModelRecorder, es_env)
