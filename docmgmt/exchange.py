"""Sending and receiving use cases (Decree 30, Art. 16 and 20-24), each authorised.

The sender's clerk dispatches and recalls; the dispatch process (``docmgmt.dispatch``)
delivers the copies. At the recipient the clerk registers or returns, a leader assigns,
handlers report progress, ask for time and complete, and the clerk confirms a withdrawal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO
from uuid import UUID

from docmgmt.domain.agency import Agency
from docmgmt.domain.calendar import (
    DEFAULT_CLOSING_TIME,
    VIETNAM_TZ,
    AgencyCalendar,
    HolidaySource,
    local_date,
)
from docmgmt.domain.common import FileRef, Role
from docmgmt.domain.errors import (
    AgencyNotFoundError,
    DocumentNotFoundError,
    DocumentWithdrawnError,
    InvalidInputError,
    PermissionDeniedError,
    RevisionNotFoundError,
    UserNotFoundError,
)
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import Relation
from docmgmt.domain.register import Series
from docmgmt.kernel.ports import BlobStore, RegisterLock
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt, HistoryEntry
from docmgmt.outgoing.context import OutgoingContext, load_document

MAX_RECIPIENTS = 500
MAX_WORKING_DAYS = 366


def agency_calendar(agency: Agency, holidays: HolidaySource) -> AgencyCalendar:
    """The agency's working days: national holidays plus its own recorded calendar."""
    return AgencyCalendar(
        holidays,
        extra_days_off=[date.fromisoformat(d) for d in agency.extra_days_off],
        make_up_working_days=[date.fromisoformat(d) for d in agency.make_up_working_days],
    )


@dataclass
class ExchangeService:
    """Dispatch, receipt, assignment, handling and recall, authorised per agency and role."""

    documents: OutgoingContext
    locks: RegisterLock
    holidays: HolidaySource
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(VIETNAM_TZ))

    @property
    def app(self) -> DocMgmt:
        """The write-side application."""
        return self.documents.store

    @property
    def blobs(self) -> BlobStore:
        """The object store."""
        return self.documents.blobs

    def calendar(self, agency_id: UUID) -> AgencyCalendar:
        """The working-day calendar of an agency."""
        return agency_calendar(self.app.get_agency(agency_id), self.holidays)

    def set_calendar(self, who: Principal, agency_id: UUID, extra_days_off: list[date],
                     make_up_working_days: list[date],
                     expected_version: int | None) -> CommandResult:
        """An administrator records an agency's own days off and make-up working days."""
        who.require(Role.ADMIN)
        return self.app.set_agency_calendar(agency_id, extra_days_off, make_up_working_days,
                                            who.actor, expected_version)

    # --- the sender's side ---------------------------------------------------------------

    def dispatch(self, who: Principal, document_id: UUID, recipient_codes: list[str],
                 external: list[str], note: str, expected_version: int | None,
                 ) -> CommandResult:
        """The clerk issues a sealed document to agencies (by code) and external recipients."""
        who.require(Role.CLERK)
        load_document(self.documents, who, document_id)
        if len(recipient_codes) + len(external) > MAX_RECIPIENTS:
            raise InvalidInputError(f"at most {MAX_RECIPIENTS} recipients")
        recipients: list[dict[str, Any]] = []
        for code in recipient_codes:
            try:
                agency = self.app.find_agency(code)
            except AgencyNotFoundError:
                raise InvalidInputError(f"no agency has the code {code!r}",
                                        field="recipients", code=code) from None
            recipients.append({"agency_id": agency.id, "code": agency.code,
                               "name": agency.name})
        return self.app.dispatch(document_id, recipients, external, note, who.actor,
                                 expected_version)

    def recall(self, who: Principal, document_id: UUID, reason: str,
               expected_version: int | None) -> CommandResult:
        """The clerk recalls an issued document from every recipient."""
        who.require(Role.CLERK)
        load_document(self.documents, who, document_id)
        return self.app.recall(document_id, reason, who.actor, expected_version)

    def link(self, who: Principal, document_id: UUID, relation: Relation, target_id: UUID,
             expected_version: int | None) -> CommandResult:
        """The drafter declares that the draft replaces or corrects an issued document."""
        who.require(Role.OFFICIAL, Role.LEADER)
        load_document(self.documents, who, document_id)
        load_document(self.documents, who, target_id)
        return self.app.link_document(document_id, Relation(relation), target_id, who.actor,
                                      expected_version)

    # --- the recipient's side ------------------------------------------------------------

    def get_incoming(self, who: Principal, incoming_id: UUID) -> IncomingDocument:
        """A copy received by the caller's agency, if the caller may see it.

        Clerks, leaders and auditors of the agency see every copy; an official sees the
        copies assigned to them or to their unit (as lead or supporting unit).
        """
        who.require(Role.OFFICIAL, Role.LEADER, Role.CLERK, Role.AUDITOR)
        incoming = self.app.get_incoming(incoming_id)
        if incoming.agency_id != who.agency_id:
            raise DocumentNotFoundError(f"IncomingDocument {incoming_id} not found")
        if who.roles & {Role.LEADER, Role.CLERK, Role.AUDITOR}:
            return incoming
        if not self._is_handler(who, incoming):
            raise DocumentNotFoundError(f"IncomingDocument {incoming_id} not found")
        return incoming

    @staticmethod
    def _is_handler(who: Principal, incoming: IncomingDocument, *, lead_only: bool = False,
                    ) -> bool:
        if incoming.lead_user_id == who.user_id:
            return True
        if who.unit_id is None:
            return False
        if incoming.lead_unit_id == who.unit_id:
            return True
        return not lead_only and str(who.unit_id) in incoming.supporting_unit_ids

    def _require_handler(self, who: Principal, incoming: IncomingDocument, *,
                         lead_only: bool) -> None:
        if Role.LEADER in who.roles:
            return
        if not self._is_handler(who, incoming, lead_only=lead_only):
            what = "the lead unit or person" if lead_only else "a handler"
            raise PermissionDeniedError(f"only {what} of this document may do this")

    def register(self, who: Principal, incoming_id: UUID,
                 expected_version: int | None) -> CommandResult:
        """The clerk enters the copy in the incoming register with the next arrival number."""
        who.require(Role.CLERK)
        incoming = self.get_incoming(who, incoming_id)
        today = local_date(self.clock())
        with self.locks.hold(f"register:{incoming.agency_id}:{today.year}:incoming"):
            number = self.app.next_number(incoming.agency_id, today.year, Series.INCOMING)
            return self.app.register_incoming(
                incoming_id, arrival_number=number, year=today.year,
                registered_on=today.isoformat(), actor=who.actor,
                expected_version=expected_version)

    def return_to_sender(self, who: Principal, incoming_id: UUID, reason: str,
                         expected_version: int | None) -> CommandResult:
        """The clerk returns an invalid or misdirected copy with a reason."""
        who.require(Role.CLERK)
        self.get_incoming(who, incoming_id)
        return self.app.update_incoming(
            incoming_id, expected_version, lambda d: d.return_to_sender(reason, who.actor))

    def assign(self, who: Principal, incoming_id: UUID, *, lead_unit_id: UUID | None,
               lead_user_id: UUID | None, supporting_unit_ids: list[UUID], instructions: str,
               deadline: datetime | None, working_days: int | None,
               expected_version: int | None) -> CommandResult:
        """A leader assigns (or reassigns) the handling, with a deadline.

        The deadline is either a moment or a number of working days from today, due at the
        close of business (17:00, +07:00) of the last one, skipping weekends, public
        holidays and the agency's own days off.
        """
        who.require(Role.LEADER)
        incoming = self.get_incoming(who, incoming_id)
        agency = self.app.get_agency(incoming.agency_id)
        for unit in [u for u in (lead_unit_id, *supporting_unit_ids) if u is not None]:
            if unit not in agency.units:
                raise InvalidInputError(f"unit {unit} is not in agency {agency.code}",
                                        field="unit")
        if lead_user_id is not None:
            try:
                user = self.app.get_user(lead_user_id)
            except UserNotFoundError:
                raise InvalidInputError("the lead person does not exist",
                                        field="lead_user_id") from None
            if user.agency_id != incoming.agency_id or not user.active:
                raise InvalidInputError("the lead person is not an active member of the "
                                        "agency", field="lead_user_id")
        now = self.clock()
        due = self._deadline(incoming.agency_id, now, deadline, working_days)
        return self.app.update_incoming(
            incoming_id, expected_version, lambda d: d.assign(
                lead_unit_id=lead_unit_id, lead_user_id=lead_user_id,
                supporting_unit_ids=supporting_unit_ids, instructions=instructions,
                deadline=due, now=now, actor=who.actor))

    def _deadline(self, agency_id: UUID, now: datetime, deadline: datetime | None,
                  working_days: int | None) -> datetime:
        if deadline is not None and working_days is None:
            if deadline.tzinfo is None:
                raise InvalidInputError("the deadline must carry a time zone",
                                        field="deadline")
            return deadline
        if working_days is None or deadline is not None:
            raise InvalidInputError("give either a deadline or a number of working days")
        if not 1 <= working_days <= MAX_WORKING_DAYS:
            raise InvalidInputError(f"working days run from 1 to {MAX_WORKING_DAYS}",
                                    field="working_days")
        day = self.calendar(agency_id).add_working_days(local_date(now), working_days)
        return datetime.combine(day, DEFAULT_CLOSING_TIME, tzinfo=VIETNAM_TZ)

    def record_progress(self, who: Principal, incoming_id: UUID, note: str,
                        expected_version: int | None) -> CommandResult:
        """A handler reports progress."""
        incoming = self.get_incoming(who, incoming_id)
        self._require_handler(who, incoming, lead_only=False)
        return self.app.update_incoming(
            incoming_id, expected_version, lambda d: d.record_progress(note, who.actor))

    def request_extension(self, who: Principal, incoming_id: UUID, proposed: datetime,
                          reason: str, expected_version: int | None) -> CommandResult:
        """The lead handler asks for a later deadline."""
        incoming = self.get_incoming(who, incoming_id)
        self._require_handler(who, incoming, lead_only=True)
        return self.app.update_incoming(
            incoming_id, expected_version,
            lambda d: d.request_extension(proposed, reason, who.actor))

    def decide_extension(self, who: Principal, incoming_id: UUID, granted: bool,
                         comment: str, expected_version: int | None) -> CommandResult:
        """A leader grants or refuses the open extension request."""
        who.require(Role.LEADER)
        self.get_incoming(who, incoming_id)
        return self.app.update_incoming(
            incoming_id, expected_version,
            lambda d: d.decide_extension(granted, comment, who.actor))

    def complete(self, who: Principal, incoming_id: UUID, result: str,
                 reply_document_id: UUID | None, expected_version: int | None,
                 ) -> CommandResult:
        """The lead handler completes the handling, optionally naming the reply document."""
        incoming = self.get_incoming(who, incoming_id)
        self._require_handler(who, incoming, lead_only=True)
        if reply_document_id is not None:
            reply = self.app.get_document(reply_document_id)
            if reply.agency_id != incoming.agency_id:
                raise DocumentNotFoundError(f"OutgoingDocument {reply_document_id} not found")
        now = self.clock()
        return self.app.update_incoming(
            incoming_id, expected_version,
            lambda d: d.complete(result, reply_document_id, now, who.actor))

    def confirm_withdrawal(self, who: Principal, incoming_id: UUID,
                           expected_version: int | None) -> CommandResult:
        """The clerk confirms to the sender that the recalled copy was withdrawn."""
        who.require(Role.CLERK)
        self.get_incoming(who, incoming_id)
        return self.app.update_incoming(
            incoming_id, expected_version, lambda d: d.confirm_withdrawal(who.actor))

    @contextlib.contextmanager
    def download(self, who: Principal, incoming_id: UUID, appendix: int | None = None,
                 ) -> Iterator[tuple[int, FileRef, BinaryIO]]:
        """Open the received PDF (or an appendix), verified, and record the download.

        Yields the appendix number (0 for the document), the file and its stream.

        A withdrawn copy is never served again; its history stays.
        """
        incoming = self.get_incoming(who, incoming_id)
        if incoming.withdrawn:
            raise DocumentWithdrawnError(
                "the sender recalled this document; its content is no longer available",
                id=str(incoming_id))
        if appendix is None:
            wanted = FileRef.from_payload(incoming.file)
        elif 1 <= appendix <= len(incoming.appendices):
            wanted = FileRef.from_payload(incoming.appendices[appendix - 1]["file"])
        else:
            raise RevisionNotFoundError(f"appendix {appendix} does not exist",
                                        appendix=appendix)
        purpose = "download:incoming" if appendix is None else f"download:appendix:{appendix}"
        with self.blobs.open_verified(wanted.key, wanted.sha256) as fh:
            self.app.record_view(incoming_id, 1, wanted.sha256, purpose, who.actor)
            yield appendix or 0, wanted, fh


    def history(self, who: Principal, incoming_id: UUID) -> list[HistoryEntry]:
        """Every event of the copy (and its downloads), oldest first."""
        self.get_incoming(who, incoming_id)
        return self.app.history(incoming_id)
