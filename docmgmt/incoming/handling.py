"""The recipient's steps (Decree 30, Art. 21-24): register or return, assign, handle, confirm.

Each step authorises, loads the copy once, checks the version the caller saw (after
visibility and permission, so another agency's copy stays a 404), calls the aggregate and
saves once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO
from uuid import UUID

from docmgmt.domain.agency import Agency
from docmgmt.domain.calendar import (
    DEFAULT_CLOSING_TIME,
    VIETNAM_TZ,
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
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.domain.register import Series
from docmgmt.domain.user import User
from docmgmt.incoming.queries import Handler
from docmgmt.kernel.holidays import agency_calendar
from docmgmt.kernel.ports import BlobStore, RegisterLock
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import (
    CommandResult,
    DocMgmt,
    HistoryEntry,
    open_recorded,
    register_lock_key,
)

MAX_WORKING_DAYS = 366
# Who may read incoming copies of their agency: the first all of them, officials their own.
READERS = (Role.OFFICIAL, Role.LEADER, Role.CLERK, Role.AUDITOR)
WHOLE_AGENCY = frozenset({Role.LEADER, Role.CLERK, Role.AUDITOR})


@dataclass(frozen=True)
class IncomingContext:
    """What the recipient's steps need; built by the composition root."""

    store: DocMgmt
    blobs: BlobStore
    locks: RegisterLock
    holidays: HolidaySource
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(VIETNAM_TZ))


# --- seeing a copy -----------------------------------------------------------------------


def _is_handler(who: Principal, incoming: IncomingDocument, *, lead_only: bool = False,
                ) -> bool:
    if incoming.lead_user_id == who.user_id:
        return True
    if who.unit_id is None:
        return False
    if incoming.lead_unit_id == who.unit_id:
        return True
    return not lead_only and str(who.unit_id) in incoming.supporting_unit_ids


def _require_handler(who: Principal, incoming: IncomingDocument, *, lead_only: bool) -> None:
    if Role.LEADER in who.roles:
        return
    if not _is_handler(who, incoming, lead_only=lead_only):
        what = "the lead unit or person" if lead_only else "a handler"
        raise PermissionDeniedError(f"only {what} of this document may do this")


def get_incoming(ctx: IncomingContext, who: Principal, incoming_id: UUID) -> IncomingDocument:
    """A copy received by the caller's agency, if the caller may see it.

    Clerks, leaders and auditors of the agency see every copy; an official sees the
    copies assigned to them or to their unit (as lead or supporting unit).
    """
    who.require(*READERS)
    incoming = ctx.store.load(IncomingDocument, incoming_id, DocumentNotFoundError)
    if not may_read(who, incoming):
        raise DocumentNotFoundError(f"IncomingDocument {incoming_id} not found")
    return incoming


def may_read(who: Principal, incoming: IncomingDocument) -> bool:
    """Whether the caller may see the copy: clerks, leaders and auditors of the recipient
    agency; an official when the copy is led by them, or led or supported by their unit."""
    if incoming.agency_id != who.agency_id or not who.roles & set(READERS):
        return False
    return bool(who.roles & WHOLE_AGENCY) or _is_handler(who, incoming)


def reading_scope(who: Principal) -> Handler | None:
    """Which incoming documents of the agency a list or search may show the caller: all
    (None) to clerks, leaders and auditors; an official's own (as get_incoming lets them
    read: led by them, or led or supported by their unit)."""
    who.require(*READERS)
    if who.roles & WHOLE_AGENCY:
        return None
    return Handler(who.user_id, who.unit_id)


def _save(ctx: IncomingContext, incoming: IncomingDocument, expected_version: int | None,
          command: Callable[[], None]) -> CommandResult:
    """Check the version the caller saw, run the aggregate's command and save once."""
    ctx.store.check_version(incoming, expected_version)
    command()
    return ctx.store.commit(incoming)


# --- the clerk: register, return, confirm a withdrawal -----------------------------------


def register(ctx: IncomingContext, who: Principal, incoming_id: UUID,
             expected_version: int | None) -> CommandResult:
    """The clerk enters the copy in the incoming register with the next arrival number."""
    who.require(Role.CLERK)
    incoming = get_incoming(ctx, who, incoming_id)
    today = local_date(ctx.clock())
    # The lock serialises the year's register; the store's version check backs it up.
    with ctx.locks.hold(register_lock_key(incoming.agency_id, today.year, Series.INCOMING)):
        book = ctx.store.number_register(incoming.agency_id, today.year, Series.INCOMING)
        ctx.store.check_version(incoming, expected_version)
        number = book.issue(incoming_id, who.actor)
        incoming.register(number, today.year, today.isoformat(), who.actor)
        return ctx.store.commit(incoming, book)


def return_to_sender(ctx: IncomingContext, who: Principal, incoming_id: UUID, reason: str,
                     expected_version: int | None) -> CommandResult:
    """The clerk returns an invalid or misdirected copy with a reason."""
    who.require(Role.CLERK)
    incoming = get_incoming(ctx, who, incoming_id)
    return _save(ctx, incoming, expected_version,
                 lambda: incoming.return_to_sender(reason, who.actor))


def confirm_withdrawal(ctx: IncomingContext, who: Principal, incoming_id: UUID,
                       expected_version: int | None) -> CommandResult:
    """The clerk confirms to the sender that the recalled copy was withdrawn."""
    who.require(Role.CLERK)
    incoming = get_incoming(ctx, who, incoming_id)
    return _save(ctx, incoming, expected_version,
                 lambda: incoming.confirm_withdrawal(who.actor))


# --- the leader: assign, decide an extension ---------------------------------------------


def _deadline(ctx: IncomingContext, agency: Agency, now: datetime, deadline: datetime | None,
              working_days: int | None) -> datetime:
    if deadline is not None and working_days is None:
        if deadline.tzinfo is None:
            raise InvalidInputError("the deadline must carry a time zone", field="deadline")
        return deadline
    if working_days is None or deadline is not None:
        raise InvalidInputError("give either a deadline or a number of working days")
    if not 1 <= working_days <= MAX_WORKING_DAYS:
        raise InvalidInputError(f"working days run from 1 to {MAX_WORKING_DAYS}",
                                field="working_days")
    calendar = agency_calendar(agency, ctx.holidays)
    day = calendar.add_working_days(local_date(now), working_days)
    return datetime.combine(day, DEFAULT_CLOSING_TIME, tzinfo=VIETNAM_TZ)


def _check_lead_user(store: DocMgmt, incoming: IncomingDocument, user_id: UUID) -> None:
    try:
        user = store.load(User, user_id, UserNotFoundError)
    except UserNotFoundError:
        raise InvalidInputError("the lead person does not exist",
                                field="lead_user_id") from None
    if user.agency_id != incoming.agency_id or not user.active:
        raise InvalidInputError("the lead person is not an active member of the agency",
                                field="lead_user_id")


def assign(ctx: IncomingContext, who: Principal, incoming_id: UUID, *,
           lead_unit_id: UUID | None, lead_user_id: UUID | None,
           supporting_unit_ids: list[UUID], instructions: str, deadline: datetime | None,
           working_days: int | None, expected_version: int | None) -> CommandResult:
    """A leader assigns (or reassigns) the handling, with a deadline.

    The deadline is either a moment or a number of working days from today, due at the
    close of business (17:00, +07:00) of the last one, skipping weekends, public
    holidays and the agency's own days off.
    """
    who.require(Role.LEADER)
    incoming = get_incoming(ctx, who, incoming_id)
    agency = ctx.store.load(Agency, incoming.agency_id, AgencyNotFoundError)
    for unit in [u for u in (lead_unit_id, *supporting_unit_ids) if u is not None]:
        if unit not in agency.units:
            raise InvalidInputError(f"unit {unit} is not in agency {agency.code}",
                                    field="unit")
    if lead_user_id is not None:
        _check_lead_user(ctx.store, incoming, lead_user_id)
    now = ctx.clock()
    due = _deadline(ctx, agency, now, deadline, working_days)
    return _save(ctx, incoming, expected_version, lambda: incoming.assign(
        lead_unit_id=lead_unit_id, lead_user_id=lead_user_id,
        supporting_unit_ids=supporting_unit_ids, instructions=instructions, deadline=due,
        now=now, actor=who.actor))


def decide_extension(ctx: IncomingContext, who: Principal, incoming_id: UUID, granted: bool,
                     comment: str, expected_version: int | None) -> CommandResult:
    """A leader grants or refuses the open extension request."""
    who.require(Role.LEADER)
    incoming = get_incoming(ctx, who, incoming_id)
    return _save(ctx, incoming, expected_version,
                 lambda: incoming.decide_extension(granted, comment, who.actor))


# --- the handlers: progress, extension, completion ---------------------------------------


def record_progress(ctx: IncomingContext, who: Principal, incoming_id: UUID, note: str,
                    expected_version: int | None) -> CommandResult:
    """A handler reports progress."""
    incoming = get_incoming(ctx, who, incoming_id)
    _require_handler(who, incoming, lead_only=False)
    return _save(ctx, incoming, expected_version,
                 lambda: incoming.record_progress(note, who.actor))


def request_extension(ctx: IncomingContext, who: Principal, incoming_id: UUID,
                      proposed: datetime, reason: str,
                      expected_version: int | None) -> CommandResult:
    """The lead handler asks for a later deadline."""
    incoming = get_incoming(ctx, who, incoming_id)
    _require_handler(who, incoming, lead_only=True)
    return _save(ctx, incoming, expected_version,
                 lambda: incoming.request_extension(proposed, reason, who.actor))


def complete(ctx: IncomingContext, who: Principal, incoming_id: UUID, result: str,
             reply_document_id: UUID | None, expected_version: int | None) -> CommandResult:
    """The lead handler completes the handling, optionally naming the reply document."""
    incoming = get_incoming(ctx, who, incoming_id)
    _require_handler(who, incoming, lead_only=True)
    if reply_document_id is not None:
        reply = ctx.store.load(OutgoingDocument, reply_document_id, DocumentNotFoundError)
        if reply.agency_id != incoming.agency_id:
            raise DocumentNotFoundError(f"OutgoingDocument {reply_document_id} not found")
    now = ctx.clock()
    return _save(ctx, incoming, expected_version,
                 lambda: incoming.complete(result, reply_document_id, now, who.actor))


# --- reading: the file and the history ---------------------------------------------------


@contextlib.contextmanager
def download(ctx: IncomingContext, who: Principal, incoming_id: UUID,
             appendix: int | None = None) -> Iterator[tuple[int, FileRef, BinaryIO]]:
    """Open the received PDF (or an appendix), verified, and record the download.

    Yields the appendix number (0 for the document), the file and its stream.

    A withdrawn copy is never served again; its history stays.
    """
    incoming = get_incoming(ctx, who, incoming_id)
    if incoming.withdrawn:
        raise DocumentWithdrawnError(
            "the sender recalled this document; its content is no longer available",
            id=str(incoming_id))
    if appendix is None:
        wanted = FileRef.from_payload(incoming.file)
    elif 1 <= appendix <= len(incoming.appendices):
        wanted = FileRef.from_payload(incoming.appendices[appendix - 1]["file"])
    else:
        raise RevisionNotFoundError(f"appendix {appendix} does not exist", appendix=appendix)
    purpose = "download:incoming" if appendix is None else f"download:appendix:{appendix}"
    with open_recorded(ctx.store, ctx.blobs, incoming_id, 1, wanted, purpose,
                       who.actor) as fh:
        yield appendix or 0, wanted, fh


def history(ctx: IncomingContext, who: Principal, incoming_id: UUID) -> list[HistoryEntry]:
    """Every event of the copy (and its downloads), oldest first."""
    get_incoming(ctx, who, incoming_id)
    return ctx.store.history(incoming_id)


# --- the agency's working days -----------------------------------------------------------


def set_calendar(ctx: IncomingContext, who: Principal, agency_id: UUID,
                 extra_days_off: list[date], make_up_working_days: list[date],
                 expected_version: int | None) -> CommandResult:
    """An administrator records an agency's own days off and make-up working days."""
    who.require(Role.ADMIN)
    agency = ctx.store.load(Agency, agency_id, AgencyNotFoundError, expected_version)
    agency.set_calendar(extra_days_off, make_up_working_days, who.actor)
    return ctx.store.commit(agency)
