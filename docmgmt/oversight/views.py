"""The ``oversight`` projection: what waits where across the agency tree (exactly once).

One projection, one tracking position (``docmgmt.oversight_tracking``), for the tables of
migration 0017: the tree (agencies, units, people), the open documents with their step and
holder, the dispatched documents a recipient has not registered yet, the daily flows at
three levels, and the oversight mandates. Every statement is plain SQL that reads what
earlier statements of the batch wrote (attribution comes from the open row), so a batch
needs no round trip per event. A handler never raises on an odd event: a row it would
update that is missing is simply not there (UPDATE and DELETE touch nothing, flows select
nothing), and inserts are upserts.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection, ProjectionRunner

from docmgmt.domain.agency import Agency
from docmgmt.domain.calendar import AgencyCalendar, dispatch_due, local_date
from docmgmt.domain.errors import DomainError
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.domain.oversight_mandate import OversightMandate
from docmgmt.domain.user import User
from docmgmt.kernel.holidays import VietnamHolidays
from docmgmt.kernel.projections import ReadModelRecorder, Statement, start_projection
from docmgmt.kernel.store import DocMgmt
from docmgmt.oversight.model import Direction, HolderKind, Step

OPEN = "docmgmt.oversight_open"
UNACK = "docmgmt.oversight_unacknowledged"
DAILY = "docmgmt.oversight_daily"
NIL = "'00000000-0000-0000-0000-000000000000'::uuid"
# Public holidays for dispatch deadlines (the library is pinned, so a rebuild agrees).
HOLIDAYS = VietnamHolidays()
# Drafts whose agency and urgency are kept in memory (many batches' worth, see below).
DRAFTS_KEPT = 10 * ReadModelRecorder.batch_size
# Where a flow is attributed: the document's open row (before a step removes it).
FROM_OPEN = (f"SELECT agency_id, unit_id, person_id, assigned_at, due FROM {OPEN}"  # noqa: S608
             " WHERE document_id = %s")
# ... or the agency alone (an arrival: no unit or person yet).
AGENCY_ONLY = ("SELECT %s::uuid AS agency_id, NULL::uuid AS unit_id, NULL::uuid AS person_id,"
               " NULL::timestamptz AS assigned_at, NULL::timestamptz AS due")


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _uuid(text: object) -> UUID | None:
    try:
        return UUID(str(text)) if text else None
    except ValueError:
        return None


def _days(texts: Any) -> list[date]:
    days = []
    for text in texts or ():
        try:
            days.append(date.fromisoformat(str(text)))
        except ValueError:
            continue
    return days


def _sent_label(number_label: str, code: str) -> str:
    """The sender's number and code ("05/QĐ-STC"): a register's label carries the code
    already; a bare number ("05") gets it appended."""
    if not code or number_label.endswith(code):
        return number_label
    return "/".join(p for p in (number_label, code) if p)


def _arrival_label(e: Any) -> str:
    """As the register prints it ("05"), like IncomingDocument.arrival_label."""
    number = e.arrival_number
    return f"{number:02d}" if isinstance(number, int) else ""


def _by(actor: Any) -> UUID | None:
    return _uuid(actor.get("user_id")) if isinstance(actor, dict) else None


def _flow(moment: datetime, source: str, source_params: Sequence[Any],
          counts: dict[str, tuple[str, Sequence[Any]]]) -> Statement:
    """Add ``counts`` (column -> SQL expression over ``o``, its parameters) to the local day
    of ``moment`` at the three levels of the row ``source`` selects (none: no change)."""
    columns = ", ".join(counts)
    exprs = ", ".join(expr for expr, _ in counts.values())
    params = [p for _, ps in counts.values() for p in ps]
    updates = ", ".join(f"{c} = d.{c} + EXCLUDED.{c}" for c in counts)
    return (
        # Fragments come from this module's code only; values always go as parameters.
        f"INSERT INTO {DAILY} AS d (agency_id, level, unit_id, person_id, day, {columns})"  # noqa: S608
        " SELECT o.agency_id, l.level,"
        f" CASE WHEN l.level > 0 THEN coalesce(o.unit_id, {NIL}) ELSE {NIL} END,"
        f" CASE WHEN l.level = 2 THEN coalesce(o.person_id, {NIL}) ELSE {NIL} END,"
        f" %s::date, {exprs}"
        f" FROM ({source}) AS o"
        " CROSS JOIN (VALUES (0::smallint), (1::smallint), (2::smallint)) AS l(level)"
        " WHERE o.agency_id IS NOT NULL"
        f" ON CONFLICT (level, agency_id, unit_id, person_id, day) DO UPDATE SET {updates}",
        (local_date(moment), *params, *source_params),
    )


def _one(expr: str = "1", *params: Any) -> tuple[str, Sequence[Any]]:
    return expr, params


def _open(e: Any, assignments: str, params: Sequence[Any] = ()) -> Statement:
    return (f"UPDATE {OPEN} SET {assignments} WHERE document_id = %s",  # noqa: S608
            (*params, e.originator_id))


def _step(e: Any, step: Step, holder: HolderKind, holder_id: UUID | None = None,
          extra: str = "", params: Sequence[Any] = ()) -> Statement:
    """The document moved to ``step``, held by ``holder`` since the event."""
    return _open(e, f"step = %s, holder_kind = %s, holder_id = %s, since = %s{extra}",
                 (step.value, holder.value, holder_id, e.timestamp, *params))


def _close(e: Any) -> Statement:
    return f"DELETE FROM {OPEN} WHERE document_id = %s", (e.originator_id,)  # noqa: S608


class OversightViews(Projection[ReadModelRecorder]):
    """Maintains the oversight tables: the tree, open documents, flows and mandates."""

    name = "oversight"

    def __init__(self, view: ReadModelRecorder) -> None:
        super().__init__(view)
        # Agency calendars as of the tracking position (committed rows, then CalendarSet
        # events as they are processed).
        self._calendars: dict[UUID, AgencyCalendar] = {}
        # Agency and urgency of the latest drafts, until signed: a draft's open row may be in
        # the batch not committed yet. Batches hold at most ``batch_size`` events, so any
        # draft older than the last DRAFTS_KEPT is committed and read back from its row;
        # the bound keeps abandoned drafts from piling up in a long-running process.
        self._drafted_here: OrderedDict[UUID, tuple[UUID, str]] = OrderedDict()
        with view.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT id, extra_days_off, make_up_working_days"
                         " FROM docmgmt.oversight_agencies"
                         " WHERE extra_days_off <> '{}' OR make_up_working_days <> '{}'")
            for row in curs.fetchall():
                self._calendars[row["id"]] = AgencyCalendar(
                    HOLIDAYS, row["extra_days_off"], row["make_up_working_days"])

    def _drafted(self, document_id: UUID) -> tuple[UUID, str] | None:
        known = self._drafted_here.pop(document_id, None)
        if known is not None:
            return known
        with self.view.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT agency_id, urgency FROM {OPEN} WHERE document_id = %s",  # noqa: S608
                         (document_id,))
            row = curs.fetchone()
        return None if row is None else (row["agency_id"], row["urgency"])

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events that change no oversight row still advance the tracking position."""
        self.view.apply([], tracking)

    # --- the tree -----------------------------------------------------------------------

    @process_event.register
    def _(self, e: Agency.Registered, tracking: Tracking) -> None:
        self.view.apply([(
            "INSERT INTO docmgmt.oversight_agencies (id, code, name, parent_id)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code,"
            " name = EXCLUDED.name, parent_id = EXCLUDED.parent_id",
            (e.originator_id, e.code, e.name, e.parent_id))], tracking)

    @process_event.register
    def _(self, e: Agency.Renamed, tracking: Tracking) -> None:
        self.view.apply([("UPDATE docmgmt.oversight_agencies SET name = %s WHERE id = %s",
                          (e.name, e.originator_id))], tracking)

    @process_event.register
    def _(self, e: Agency.CalendarSet, tracking: Tracking) -> None:
        off, on = _days(e.extra_days_off), _days(e.make_up_working_days)
        self._calendars[e.originator_id] = AgencyCalendar(HOLIDAYS, off, on)
        self.view.apply([(
            "UPDATE docmgmt.oversight_agencies SET extra_days_off = %s,"
            " make_up_working_days = %s WHERE id = %s", (off, on, e.originator_id))], tracking)

    @process_event.register
    def _(self, e: Agency.UnitAdded, tracking: Tracking) -> None:
        self.view.apply([(
            "INSERT INTO docmgmt.oversight_units (id, agency_id, code, name)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code,"
            " name = EXCLUDED.name", (e.unit_id, e.originator_id, e.code, e.name))], tracking)

    @process_event.register
    def _(self, e: User.Registered, tracking: Tracking) -> None:
        self.view.apply([(
            "INSERT INTO docmgmt.oversight_people (id, agency_id, unit_id, full_name, title)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " agency_id = EXCLUDED.agency_id, unit_id = EXCLUDED.unit_id,"
            " full_name = EXCLUDED.full_name, title = EXCLUDED.title",
            (e.originator_id, e.agency_id, e.unit_id, e.full_name, e.title))], tracking)

    # --- mandates -----------------------------------------------------------------------

    @process_event.register
    def _(self, e: OversightMandate.Created, tracking: Tracking) -> None:
        # The row is written by the Granted event that always follows in the same commit.
        self.view.apply([], tracking)

    @process_event.register
    def _(self, e: OversightMandate.Granted, tracking: Tracking) -> None:
        self.view.apply([(
            "INSERT INTO docmgmt.oversight_mandates (id, user_id, agency_id, valid_from,"
            " valid_to, legal_basis, revoked, revoked_reason, granted_by, granted_at, version)"
            " VALUES (%s, %s, %s, %s, %s, %s, false, '', %s, %s, %s) ON CONFLICT (id) DO"
            " UPDATE SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,"
            " legal_basis = EXCLUDED.legal_basis, revoked = false, revoked_reason = '',"
            " granted_by = EXCLUDED.granted_by, granted_at = EXCLUDED.granted_at,"
            " version = EXCLUDED.version",
            (e.originator_id, e.user_id, e.agency_id, e.valid_from, e.valid_to,
             e.legal_basis, _by(e.actor), e.timestamp, e.originator_version))], tracking)

    @process_event.register
    def _(self, e: OversightMandate.Revoked, tracking: Tracking) -> None:
        self.view.apply([(
            "UPDATE docmgmt.oversight_mandates SET revoked = true, revoked_reason = %s,"
            " version = %s WHERE id = %s",
            (e.reason, e.originator_version, e.originator_id))], tracking)

    # --- incoming copies (agency: the recipient) ------------------------------------------

    @process_event.register
    def _(self, e: IncomingDocument.Arrived, tracking: Tracking) -> None:
        label = _sent_label(e.number_label, e.code)
        due = _moment(e.registration_due)
        self.view.apply([
            (f"INSERT INTO {OPEN} (document_id, direction, agency_id, label, summary,"  # noqa: S608
             " urgency, step, holder_kind, since, due) VALUES"
             " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (document_id) DO NOTHING",
             (e.originator_id, Direction.INCOMING.value, e.recipient_agency_id, label,
              e.summary, e.urgency, Step.REGISTRATION.value, HolderKind.CLERKS.value,
              e.timestamp, due)),
            _flow(e.timestamp, AGENCY_ONLY, (e.recipient_agency_id,), {"arrived": _one()}),
            # The sender's side: the recipient's copy is due to be registered by then.
            (f"UPDATE {UNACK} SET due = %s"  # noqa: S608
             " WHERE document_id = %s AND recipient_agency_id = %s",
             (due, e.outgoing_id, e.recipient_agency_id)),
        ], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Registered, tracking: Tracking) -> None:
        # Registration starts no legal deadline for the leaders' assignment: due stays NULL.
        self.view.apply([_step(e, Step.ASSIGNMENT, HolderKind.LEADERS, None,
                               ", due = NULL, label = %s", (_arrival_label(e),))],
                        tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ReturnedToSender | IncomingDocument.Withdrawn
          | IncomingDocument.WithdrawalConfirmed, tracking: Tracking) -> None:
        self.view.apply([_close(e)], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Assigned, tracking: Tracking) -> None:
        holder = HolderKind.UNIT if e.lead_user_id is None else HolderKind.PERSON
        self.view.apply([_open(
            e, "step = %s, holder_kind = %s, holder_id = %s, since = %s, due = %s,"
            " person_id = %s, unit_id = coalesce(%s::uuid,"
            " (SELECT p.unit_id FROM docmgmt.oversight_people p WHERE p.id = %s)),"
            " assigned_at = coalesce(assigned_at, %s), extension_pending = false",
            (Step.HANDLING.value, holder.value, e.lead_user_id or e.lead_unit_id,
             e.timestamp, _moment(e.deadline), e.lead_user_id, e.lead_unit_id,
             e.lead_user_id, e.timestamp))], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ExtensionRequested, tracking: Tracking) -> None:
        self.view.apply([
            _flow(e.timestamp, FROM_OPEN, (e.originator_id,),
                  {"extensions_requested": _one()}),
            _step(e, Step.EXTENSION, HolderKind.LEADERS, None, ", extension_pending = true"),
        ], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ExtensionDecided, tracking: Tracking) -> None:
        granted = bool(e.granted)
        statements: list[Statement] = []
        if granted:
            statements.append(_flow(e.timestamp, FROM_OPEN, (e.originator_id,),
                                    {"extensions_granted": _one()}))
        # Back to the lead person (else the lead unit), with the new deadline if granted.
        statements.append(_open(
            e, "step = %s, extension_pending = false, since = %s,"
            " holder_kind = CASE WHEN person_id IS NULL THEN %s ELSE %s END,"
            " holder_id = coalesce(person_id, unit_id),"
            " due = CASE WHEN %s THEN %s::timestamptz ELSE due END",
            (Step.HANDLING.value, e.timestamp, HolderKind.UNIT.value,
             HolderKind.PERSON.value, granted, _moment(e.deadline))))
        self.view.apply(statements, tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Completed, tracking: Tracking) -> None:
        column = "completed_on_time" if e.on_time else "completed_late"
        self.view.apply([
            _flow(e.timestamp, FROM_OPEN, (e.originator_id,), {
                column: _one(),
                "handling_seconds": _one(
                    "greatest(0, extract(epoch FROM %s::timestamptz"
                    " - coalesce(o.assigned_at, %s::timestamptz)))",
                    e.timestamp, e.timestamp)}),
            _close(e),
        ], tracking)

    # --- outgoing documents (agency: the drafter's) ---------------------------------------

    @process_event.register
    def _(self, e: OutgoingDocument.Drafted, tracking: Tracking) -> None:
        self._drafted_here[e.originator_id] = (e.agency_id, e.urgency)
        if len(self._drafted_here) > DRAFTS_KEPT:
            self._drafted_here.popitem(last=False)
        drafter = _by(e.actor)
        self.view.apply([(
            f"INSERT INTO {OPEN} (document_id, direction, agency_id, unit_id, person_id,"  # noqa: S608
            " summary, urgency, step, holder_kind, holder_id, since) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (document_id) DO NOTHING",
            (e.originator_id, Direction.OUTGOING.value, e.agency_id, e.unit_id, drafter,
             e.summary, e.urgency, Step.DRAFTING.value, HolderKind.PERSON.value, drafter,
             e.timestamp))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReturnedForRevision, tracking: Tracking) -> None:
        self.view.apply([_open(
            e, "step = %s, holder_kind = %s, holder_id = person_id, since = %s, due = NULL",
            (Step.DRAFTING.value, HolderKind.PERSON.value, e.timestamp))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.SubmittedForApproval, tracking: Tracking) -> None:
        self.view.apply([_step(e, Step.APPROVAL, HolderKind.LEADERS)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Approved, tracking: Tracking) -> None:
        # The approving leader is the one who signs, unless a signature request names another.
        self.view.apply([_step(e, Step.SIGNATURE, HolderKind.PERSON, _by(e.actor))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.SignatureRequested, tracking: Tracking) -> None:
        self.view.apply([_open(
            e, "holder_kind = %s, holder_id = %s",
            (HolderKind.PERSON.value, _by(e.actor)))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Signed, tracking: Tracking) -> None:
        # Dispatch is due the same or the next working day from signing, urgent at once
        # (Decree 30, Art. 16), on the drafting agency's calendar.
        drafted = self._drafted(e.originator_id)
        due = None
        if drafted is not None:
            agency_id, urgency = drafted
            # An urgency this release does not know gets no deadline rather than a stop.
            with contextlib.suppress(DomainError):
                due = dispatch_due(e.timestamp, urgency,
                                   self._calendars.get(agency_id) or AgencyCalendar(HOLIDAYS))
        self.view.apply([_step(e, Step.NUMBER, HolderKind.CLERKS, None, ", due = %s",
                               (due,))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Numbered, tracking: Tracking) -> None:
        label = Registration(e.number, e.code, e.date, e.year, e.series).label
        self.view.apply([_step(e, Step.SEAL, HolderKind.CLERKS, None, ", label = %s",
                               (label,))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Sealed, tracking: Tracking) -> None:
        self.view.apply([_step(e, Step.DISPATCH, HolderKind.CLERKS)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Dispatched, tracking: Tracking) -> None:
        recipients = [r for r in (_uuid(x.get("agency_id")) for x in e.recipients
                                  if isinstance(x, dict)) if r is not None]
        self.view.apply([
            _flow(e.timestamp, FROM_OPEN, (e.originator_id,), {
                "dispatched": _one(),
                "dispatched_late": _one(
                    "(o.due IS NOT NULL AND %s::timestamptz > o.due)::int", e.timestamp)}),
            (f"INSERT INTO {UNACK} (document_id, recipient_agency_id, agency_id, unit_id,"  # noqa: S608
             " person_id, dispatched_at, label, summary)"
             " SELECT o.document_id, r.id, o.agency_id, o.unit_id, o.person_id, %s,"
             " o.label, o.summary"
             f" FROM {OPEN} o CROSS JOIN unnest(%s::uuid[]) AS r(id)"
             " WHERE o.document_id = %s ON CONFLICT DO NOTHING",
             (e.timestamp, recipients, e.originator_id)),
            _close(e),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReceiptAcknowledged | OutgoingDocument.DeliveryReturned
          | OutgoingDocument.RecallConfirmed, tracking: Tracking) -> None:
        # The recipient registered its copy, returned it, or confirmed the recall.
        self.view.apply([(
            f"DELETE FROM {UNACK} WHERE document_id = %s AND recipient_agency_id = %s",  # noqa: S608
            (e.originator_id, e.agency_id))], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Recalled, tracking: Tracking) -> None:
        self.view.apply([
            (f"DELETE FROM {UNACK} WHERE document_id = %s", (e.originator_id,)),  # noqa: S608
            _close(e),
        ], tracking)


def start_oversight_views(es_env: dict[str, str]) -> ProjectionRunner[DocMgmt, ReadModelRecorder]:
    """Start the oversight projection in this process (exactly once via its tracking)."""
    return start_projection(OversightViews, ReadModelRecorder, es_env)
