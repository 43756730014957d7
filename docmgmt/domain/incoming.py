"""Incoming official document (văn bản đến): arrival, registration, assignment, handling.

Decree 30/2020, Art. 21-24: the clerk checks authenticity and integrity, returns invalid or
misdirected documents, registers the rest with a consecutive arrival number; a leader
assigns a lead unit or person, supporting units, instructions and a deadline; handlers
report progress, may ask for more time, and complete. A recalled document is withdrawn
(its content no longer served) and the recipient confirms.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NotRequired, TypedDict
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import Actor, FilePayload, LinkRef, require_text
from docmgmt.domain.errors import InvalidInputError, InvalidStateError

MAX_TEXT = 4000


class IncomingAppendix(TypedDict):
    """An appendix of the issued document, as the recipient's copy records it."""

    number: int
    title: str
    file: FilePayload


class FileCheck(TypedDict):
    """The arrival check of one issued file (a failed check carries only what was learnt)."""

    file: str
    sha256: NotRequired[str]
    ok: bool
    digest_matches: NotRequired[bool]
    signatures: NotRequired[int]
    valid_signatures: NotRequired[int]
    signers: NotRequired[list[str]]
    detail: str


class Authenticity(TypedDict):
    """The recipient's check of every issued file (Decree 30, Art. 21)."""

    ok: bool
    checks: list[FileCheck]
    detail: NotRequired[str]
    checked_at: NotRequired[str]


class IncomingStatus(StrEnum):
    """Where a received document stands at the recipient."""

    RECEIVED = "received"
    REGISTERED = "registered"
    RETURNED = "returned"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


HANDLING = (IncomingStatus.ASSIGNED, IncomingStatus.IN_PROGRESS)
ASSIGNABLE = (IncomingStatus.REGISTERED, *HANDLING)


def incoming_id_for(outgoing_id: UUID, recipient_agency_id: UUID) -> UUID:
    """One copy per outgoing document and recipient agency: the id makes it exactly once."""
    return uuid5(outgoing_id, f"incoming:{recipient_agency_id}")


def _aware(name: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(f"{name} must carry a time zone", field=name)
    return moment


class IncomingDocument(Aggregate):
    """A recipient agency's copy of a document another agency issued."""

    class Arrived(Aggregate.Created):
        """The copy arrived, with the result of the authenticity and integrity check."""

        outgoing_id: UUID
        sender_agency_id: UUID
        sender_code: str
        sender_name: str
        recipient_agency_id: UUID
        number_label: str
        code: str
        issued_date: str
        doc_type: str
        summary: str
        urgency: str
        confidentiality: str
        file: FilePayload
        appendices: list[IncomingAppendix]
        links: list[LinkRef]
        authenticity: Authenticity
        registration_due: str

    class Registered(Aggregate.Event):
        """The clerk entered it in the incoming register with its arrival number."""

        arrival_number: int
        year: int
        registered_on: str
        actor: dict[str, str]

    class ReturnedToSender(Aggregate.Event):
        """The clerk returned it to the sender (invalid or misdirected) with a reason."""

        reason: str
        actor: dict[str, str]

    class Assigned(Aggregate.Event):
        """A leader assigned it for handling (or reassigned it)."""

        lead_unit_id: UUID | None
        lead_user_id: UUID | None
        supporting_unit_ids: list[str]
        instructions: str
        deadline: str
        reassignment: bool
        actor: dict[str, str]

    class ProgressRecorded(Aggregate.Event):
        """A handler reported progress."""

        note: str
        actor: dict[str, str]

    class ExtensionRequested(Aggregate.Event):
        """A handler asked for a later deadline."""

        proposed_deadline: str
        reason: str
        actor: dict[str, str]

    class ExtensionDecided(Aggregate.Event):
        """A leader granted or refused the requested extension."""

        granted: bool
        deadline: str
        comment: str
        actor: dict[str, str]

    class Completed(Aggregate.Event):
        """The handler completed it with a result (and, maybe, the reply document)."""

        result: str
        reply_document_id: UUID | None
        on_time: bool
        actor: dict[str, str]

    class Withdrawn(Aggregate.Event):
        """The sender recalled the document: its content is no longer served here."""

        reason: str
        recalled_by: dict[str, str]

    class WithdrawalConfirmed(Aggregate.Event):
        """The recipient's clerk confirmed the withdrawal to the sender."""

        actor: dict[str, str]

    @staticmethod
    def create_id(outgoing_id: UUID, recipient_agency_id: UUID) -> UUID:
        """The copy's id follows from the document and the recipient (exactly once)."""
        return incoming_id_for(outgoing_id, recipient_agency_id)

    @event(Arrived)
    def __init__(
        self, outgoing_id: UUID, sender_agency_id: UUID, sender_code: str, sender_name: str,
        recipient_agency_id: UUID, number_label: str, code: str, issued_date: str,
        doc_type: str, summary: str, urgency: str, confidentiality: str,
        file: FilePayload, appendices: list[IncomingAppendix], links: list[LinkRef],
        authenticity: Authenticity, registration_due: str,
    ) -> None:
        self.outgoing_id = outgoing_id
        self.sender_agency_id = sender_agency_id
        self.sender_code = sender_code
        self.sender_name = sender_name
        self.agency_id = recipient_agency_id
        self.number_label = number_label
        self.code = code
        self.issued_date = issued_date
        self.doc_type = doc_type
        self.summary = summary
        self.urgency = urgency
        self.confidentiality = confidentiality
        self.file = file.copy()
        self.appendices = [a.copy() for a in appendices]
        self.links = [link.copy() for link in links]
        self.authenticity = authenticity.copy()
        self.registration_due = registration_due
        self.status = IncomingStatus.RECEIVED
        self.arrival_number: int | None = None
        self.arrival_year: int | None = None
        self.lead_unit_id: UUID | None = None
        self.lead_user_id: UUID | None = None
        self.supporting_unit_ids: list[str] = []
        self.deadline: str | None = None
        self.pending_extension: dict[str, str] | None = None
        self.withdrawn = False
        self.withdrawal_confirmed = False
        self.return_reason: str | None = None
        self.status_before_withdrawal: str | None = None

    @property
    def authentic(self) -> bool:
        """Whether the arrival check found both signatures valid and every digest matching."""
        return bool(self.authenticity.get("ok"))

    @property
    def arrival_label(self) -> str:
        """The arrival number as printed in the register ("05"), or empty."""
        return "" if self.arrival_number is None else f"{self.arrival_number:02d}"

    def _require(self, allowed: tuple[IncomingStatus, ...], action: str) -> None:
        if self.withdrawn:
            raise InvalidStateError(f"cannot {action}: the sender recalled this document",
                                    status=IncomingStatus.WITHDRAWN.value)
        if self.status not in allowed:
            wanted = " or ".join(s.value for s in allowed)
            raise InvalidStateError(
                f"cannot {action}: the document is {self.status.value}, it must be {wanted}",
                status=self.status.value)

    # --- receipt ------------------------------------------------------------------------

    def register(self, arrival_number: int, year: int, registered_on: str,
                 actor: Actor) -> None:
        """Enter the document in the incoming register (it must have passed the check)."""
        self._require((IncomingStatus.RECEIVED,), "register")
        if not self.authentic:
            raise InvalidStateError("the document failed the authenticity and integrity "
                                    "check: return it to the sender instead")
        if arrival_number < 1:
            raise InvalidInputError("arrival numbers start at 1")
        self._registered(arrival_number, year, registered_on, actor.as_payload())

    @event(Registered)
    def _registered(self, arrival_number: int, year: int, registered_on: str,
                    actor: dict[str, str]) -> None:
        self.status = IncomingStatus.REGISTERED
        self.arrival_number = arrival_number
        self.arrival_year = year

    def return_to_sender(self, reason: str, actor: Actor) -> None:
        """Send the document back to its sender (invalid, misdirected) with a reason."""
        self._require((IncomingStatus.RECEIVED,), "return to the sender")
        self._returned(require_text("reason", reason, max_len=MAX_TEXT), actor.as_payload())

    @event(ReturnedToSender)
    def _returned(self, reason: str, actor: dict[str, str]) -> None:
        self.status = IncomingStatus.RETURNED
        self.return_reason = reason

    # --- assignment and handling --------------------------------------------------------

    def assign(self, *, lead_unit_id: UUID | None, lead_user_id: UUID | None,
               supporting_unit_ids: list[UUID], instructions: str, deadline: datetime,
               now: datetime, actor: Actor) -> None:
        """Assign a lead (unit or person), supporting units, instructions and a deadline."""
        self._require(ASSIGNABLE, "assign")
        if lead_unit_id is None and lead_user_id is None:
            raise InvalidInputError("name a lead unit or a lead person")
        if _aware("deadline", deadline) <= _aware("now", now):
            raise InvalidInputError("the deadline must be in the future")
        supporting = list(dict.fromkeys(str(u) for u in supporting_unit_ids))
        if lead_unit_id is not None and str(lead_unit_id) in supporting:
            raise InvalidInputError("the lead unit cannot also be a supporting unit")
        self._assigned(lead_unit_id, lead_user_id, supporting, instructions.strip()[:MAX_TEXT],
                       deadline.isoformat(), self.status is not IncomingStatus.REGISTERED,
                       actor.as_payload())

    @event(Assigned)
    def _assigned(self, lead_unit_id: UUID | None, lead_user_id: UUID | None,
                  supporting_unit_ids: list[str], instructions: str, deadline: str,
                  reassignment: bool, actor: dict[str, str]) -> None:
        self.status = IncomingStatus.ASSIGNED
        self.lead_unit_id = lead_unit_id
        self.lead_user_id = lead_user_id
        self.supporting_unit_ids = list(supporting_unit_ids)
        self.deadline = deadline
        self.pending_extension = None

    def record_progress(self, note: str, actor: Actor) -> None:
        """Report progress on the handling."""
        self._require(HANDLING, "record progress")
        self._progress(require_text("note", note, max_len=MAX_TEXT), actor.as_payload())

    @event(ProgressRecorded)
    def _progress(self, note: str, actor: dict[str, str]) -> None:
        self.status = IncomingStatus.IN_PROGRESS

    def request_extension(self, proposed: datetime, reason: str, actor: Actor) -> None:
        """Ask for a later deadline (one request open at a time)."""
        self._require(HANDLING, "ask for an extension")
        if self.pending_extension is not None:
            raise InvalidStateError("an extension request is already waiting for a decision")
        if self.deadline is None or _aware("deadline", proposed) <= datetime.fromisoformat(
                self.deadline):
            raise InvalidInputError("the proposed deadline must be later than the current one")
        self._extension_requested(proposed.isoformat(),
                                  require_text("reason", reason, max_len=MAX_TEXT),
                                  actor.as_payload())

    @event(ExtensionRequested)
    def _extension_requested(self, proposed_deadline: str, reason: str,
                             actor: dict[str, str]) -> None:
        self.pending_extension = {"proposed_deadline": proposed_deadline, "reason": reason,
                                  "by": actor["user_id"]}

    def decide_extension(self, granted: bool, comment: str, actor: Actor) -> None:
        """Grant (the deadline moves to the proposed one) or refuse the open request."""
        self._require(HANDLING, "decide on an extension")
        if self.pending_extension is None:
            raise InvalidStateError("no extension request is waiting for a decision")
        deadline = (self.pending_extension["proposed_deadline"] if granted
                    else str(self.deadline))
        self._extension_decided(bool(granted), deadline, comment.strip()[:MAX_TEXT],
                                actor.as_payload())

    @event(ExtensionDecided)
    def _extension_decided(self, granted: bool, deadline: str, comment: str,
                           actor: dict[str, str]) -> None:
        self.deadline = deadline
        self.pending_extension = None

    def complete(self, result: str, reply_document_id: UUID | None, now: datetime,
                 actor: Actor) -> None:
        """Finish the handling with a result, optionally naming the reply document."""
        self._require(HANDLING, "complete")
        on_time = self.deadline is None or _aware("now", now) <= datetime.fromisoformat(
            self.deadline)
        self._completed(require_text("result", result, max_len=MAX_TEXT), reply_document_id,
                        on_time, actor.as_payload())

    @event(Completed)
    def _completed(self, result: str, reply_document_id: UUID | None, on_time: bool,
                   actor: dict[str, str]) -> None:
        self.status = IncomingStatus.COMPLETED

    # --- recall -------------------------------------------------------------------------

    def withdraw(self, reason: str, recalled_by: dict[str, str]) -> bool:
        """Withdraw the copy because the sender recalled it; False if already withdrawn."""
        if self.withdrawn:
            return False
        self._withdrawn(reason, dict(recalled_by))
        return True

    @event(Withdrawn)
    def _withdrawn(self, reason: str, recalled_by: dict[str, str]) -> None:
        self.status_before_withdrawal = self.status.value
        self.status = IncomingStatus.WITHDRAWN
        self.withdrawn = True

    def confirm_withdrawal(self, actor: Actor) -> None:
        """The clerk confirms to the sender that the copy was withdrawn."""
        if not self.withdrawn:
            raise InvalidStateError("the sender has not recalled this document")
        if self.withdrawal_confirmed:
            raise InvalidStateError("the withdrawal was already confirmed")
        self._withdrawal_confirmed(actor.as_payload())

    @event(WithdrawalConfirmed)
    def _withdrawal_confirmed(self, actor: dict[str, str]) -> None:
        self.withdrawal_confirmed = True
