"""The write side: one eventsourcing application for agencies, users and documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Recording

from docmgmt.domain.access import AccessLog, access_log_id
from docmgmt.domain.agency import Agency
from docmgmt.domain.audit_mandate import AuditMandate, NotAnAuditorError, audit_mandate_id
from docmgmt.domain.common import (
    Actor,
    Role,
    agency_id_for,
    user_id_for,
)
from docmgmt.domain.errors import (
    AgencyNotFoundError,
    AlreadyExistsError,
    ConflictError,
    DocumentNotFoundError,
    NotFoundError,
    StaleVersionError,
    UnitNotFoundError,
    UserNotFoundError,
)
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument, Relation
from docmgmt.domain.register import NumberRegister, Series, register_id
from docmgmt.domain.user import User

APP_NAME = "docmgmt"
VIEW_RETRIES = 20

TAggregate = TypeVar("TAggregate", bound=Aggregate)


class ConcurrentWriteError(ConflictError):
    """Another request changed the same aggregate at the same moment."""

    code = "concurrent_write"


@dataclass(frozen=True)
class CommandResult:
    """What a command changed: the aggregate, its new version, and the log position."""

    id: UUID
    version: int
    position: int | None


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded event of an aggregate, as shown to users and auditors."""

    stream: str
    version: int
    type: str
    time: datetime
    actor: dict[str, str]
    payload: dict[str, Any]


def _event_payload(event: DomainEventProtocol[UUID]) -> dict[str, Any]:
    skip = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
    return {k: v for k, v in event.__dict__.items() if k not in skip}


class DocMgmt(Application[UUID]):
    """Agencies, users and official documents, every change an event."""

    name = APP_NAME
    # Snapshots every 100 events keep loading cheap however long a history grows: an access
    # log grows with every download, a document with every comment and step.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        AccessLog: 100, OutgoingDocument: 100, IncomingDocument: 100}

    # --- saving and loading ------------------------------------------------------------

    def _save(self, *aggregates: Aggregate) -> CommandResult:
        try:
            recordings: list[Recording[UUID]] = self.save(*aggregates)
        except IntegrityError as exc:
            raise ConcurrentWriteError(
                "another change to this record was saved at the same moment; reload and retry"
            ) from exc
        head = aggregates[0]
        position = max((r.notification.id for r in recordings), default=None)
        return CommandResult(head.id, head.version, position)

    def commit(self, *aggregates: Aggregate) -> CommandResult:
        """Save the aggregates' new events in one transaction (a race is a 409)."""
        return self._save(*aggregates)

    def load(
        self, cls: type[TAggregate], aggregate_id: UUID, missing: type[NotFoundError],
        expected_version: int | None = None,
    ) -> TAggregate:
        """The aggregate, loaded once: ``missing`` if absent or of another kind, a stale
        version error if the caller saw another version."""
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(
                f"{cls.__name__} {aggregate_id} not found", id=str(aggregate_id)
            ) from None
        if not isinstance(aggregate, cls):
            raise missing(f"{cls.__name__} {aggregate_id} not found", id=str(aggregate_id))
        self.check_version(aggregate, expected_version)
        return aggregate

    @staticmethod
    def check_version(aggregate: Aggregate, expected: int | None) -> None:
        if expected is not None and aggregate.version != expected:
            raise StaleVersionError(
                f"the record is at version {aggregate.version}, not {expected}; reload it",
                current=aggregate.version,
                expected=expected,
            )

    # --- agencies ----------------------------------------------------------------------

    def register_agency(
        self, code: str, name: str, parent_id: UUID | None, actor: Actor
    ) -> CommandResult:
        """Register an agency under a unique code."""
        if parent_id is not None:
            self.get_agency(parent_id)
        agency = Agency.register(code, name, parent_id, actor)
        if self._exists(agency.id):
            raise AlreadyExistsError(f"agency {agency.code} already exists", code=agency.code)
        return self._save(agency)

    def add_unit(
        self, agency_id: UUID, code: str, name: str, actor: Actor, expected_version: int | None
    ) -> CommandResult:
        """Add an organisational unit to an agency."""
        agency = self.get_agency(agency_id)
        self.check_version(agency, expected_version)
        agency.add_unit(code, name, actor)
        return self._save(agency)

    def set_agency_calendar(
        self, agency_id: UUID, extra_days_off: list[date], make_up_working_days: list[date],
        actor: Actor, expected_version: int | None,
    ) -> CommandResult:
        """Replace an agency's own days off and make-up working days."""
        agency = self.get_agency(agency_id)
        self.check_version(agency, expected_version)
        agency.set_calendar(extra_days_off, make_up_working_days, actor)
        return self._save(agency)

    def get_agency(self, agency_id: UUID) -> Agency:
        """The agency, or AgencyNotFoundError."""
        return self.load(Agency, agency_id, AgencyNotFoundError)

    def find_agency(self, code: str) -> Agency:
        """The agency with this code, or AgencyNotFoundError."""
        return self.get_agency(agency_id_for(code))

    # --- users -------------------------------------------------------------------------

    def register_user(
        self,
        *,
        username: str,
        full_name: str,
        title: str,
        agency_id: UUID,
        unit_id: UUID | None,
        roles: Sequence[Role],
        actor: Actor,
    ) -> CommandResult:
        """Create a user account in an agency (and unit)."""
        agency = self.get_agency(agency_id)
        if unit_id is not None and unit_id not in agency.units:
            raise UnitNotFoundError(f"unit {unit_id} is not in agency {agency.code}")
        user = User.register(
            username=username,
            full_name=full_name,
            title=title,
            agency_id=agency_id,
            unit_id=unit_id,
            roles=list(roles),
            actor=actor,
        )
        if self._exists(user.id):
            raise AlreadyExistsError(f"user {user.username} already exists", username=username)
        return self._save(user)

    def change_roles(
        self, user_id: UUID, roles: Sequence[Role], actor: Actor, expected_version: int | None
    ) -> CommandResult:
        """Replace a user's roles."""
        user = self.get_user(user_id)
        self.check_version(user, expected_version)
        user.change_roles(list(roles), actor)
        return self._save(user)

    def record_password_change(self, user_id: UUID, actor: Actor) -> CommandResult:
        """Record that a user's password was set."""
        user = self.get_user(user_id)
        user.record_password_change(actor)
        return self._save(user)

    def deactivate_user(self, user_id: UUID, reason: str, actor: Actor) -> CommandResult:
        """Disable a user account."""
        user = self.get_user(user_id)
        user.deactivate(reason, actor)
        return self._save(user)

    def reactivate_user(self, user_id: UUID, reason: str, actor: Actor) -> CommandResult:
        """Enable a disabled user account again."""
        user = self.get_user(user_id)
        user.reactivate(reason, actor)
        return self._save(user)

    def get_user(self, user_id: UUID) -> User:
        """The user, or UserNotFoundError."""
        return self.load(User, user_id, UserNotFoundError)

    def find_user(self, username: str) -> User:
        """The user with this username, or UserNotFoundError."""
        return self.get_user(user_id_for(username))

    # --- audit mandates ---------------------------------------------------------------

    def grant_audit_mandate(
        self, auditor_id: UUID, agency_id: UUID, *, valid_from: datetime,
        valid_to: datetime | None, legal_basis: str, actor: Actor, now: datetime,
    ) -> CommandResult:
        """Give an active auditor authority to read one agency for a term; re-grants a
        revoked or expired mandate with the new terms."""
        auditor = self.get_user(auditor_id)
        if not auditor.has_role(Role.AUDITOR) or not auditor.active:
            raise NotAnAuditorError(f"user {auditor.username} is not an active auditor",
                                    user_id=str(auditor_id))
        self.get_agency(agency_id)
        mandate = self.find_audit_mandate(auditor_id, agency_id)
        if mandate is None:
            mandate = AuditMandate(auditor_id=auditor_id, agency_id=agency_id)
        mandate.grant(valid_from=valid_from, valid_to=valid_to, legal_basis=legal_basis,
                      actor=actor, now=now)
        return self._save(mandate)

    def revoke_audit_mandate(
        self, auditor_id: UUID, agency_id: UUID, reason: str, actor: Actor
    ) -> CommandResult:
        """Withdraw an auditor's authority to read one agency."""
        mandate = self.find_audit_mandate(auditor_id, agency_id)
        if mandate is None:
            raise NotFoundError(f"user {auditor_id} holds no audit mandate for agency "
                                f"{agency_id}", agency_id=str(agency_id))
        mandate.revoke(reason, actor)
        return self._save(mandate)

    def find_audit_mandate(self, auditor_id: UUID, agency_id: UUID) -> AuditMandate | None:
        """The auditor's mandate for the agency, if one was ever granted."""
        try:
            return self.load(AuditMandate, audit_mandate_id(auditor_id, agency_id),
                              NotFoundError)
        except NotFoundError:
            return None

    # --- shared by the stages: access logs, number registers ----------------------------

    def record_view(
        self, document_id: UUID, revision: int, sha256: str, purpose: str, actor: Actor
    ) -> CommandResult:
        """Record that a file of the document was opened or downloaded.

        Views go to the document's access log, never to the document itself; concurrent
        readers that race on the log simply retry.
        """
        for attempt in range(VIEW_RETRIES):
            try:
                log: AccessLog = self.load(AccessLog, access_log_id(document_id),
                                            NotFoundError)
            except NotFoundError:
                log = AccessLog(document_id=document_id)
            log.record(revision, sha256, purpose, actor)
            try:
                return self._save(log)
            except ConcurrentWriteError:
                if attempt == VIEW_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def next_number(self, agency_id: UUID, year: int, series: Series) -> int:
        """The number the register would issue next (the caller holds the register lock)."""
        register = self._find_register(agency_id, year, series)
        return 1 if register is None else register.last_number + 1

    def _find_register(self, agency_id: UUID, year: int, series: Series) -> NumberRegister | None:
        try:
            return self.load(NumberRegister, register_id(agency_id, year, series),
                              NotFoundError)
        except NotFoundError:
            return None

    # --- dispatch, recall, links (the sender's side) ---------------------------------------

    def link_document(
        self, document_id: UUID, relation: Relation, target_id: UUID, actor: Actor,
        expected_version: int | None,
    ) -> CommandResult:
        """Declare that a draft replaces or corrects an issued document."""
        document = self._for_update(document_id, expected_version)
        document.link(relation, self.get_document(target_id), actor)
        return self._save(document)

    def dispatch(
        self, document_id: UUID, recipients: list[dict[str, Any]], external: list[str],
        note: str, actor: Actor, expected_version: int | None,
    ) -> CommandResult:
        """Issue a sealed document; the dispatch process then delivers each agency's copy."""
        document = self._for_update(document_id, expected_version)
        document.dispatch(recipients, external, note, actor)
        return self._save(document)

    def recall(
        self, document_id: UUID, reason: str, actor: Actor, expected_version: int | None
    ) -> CommandResult:
        """Recall an issued document; the dispatch process withdraws every copy."""
        document = self._for_update(document_id, expected_version)
        document.recall(reason, actor)
        return self._save(document)

    # --- incoming documents (the recipient's side) --------------------------------------

    def get_incoming(self, incoming_id: UUID) -> IncomingDocument:
        """The incoming copy, or DocumentNotFoundError."""
        return self.load(IncomingDocument, incoming_id, DocumentNotFoundError)

    def register_incoming(
        self, incoming_id: UUID, *, arrival_number: int, year: int, registered_on: str,
        actor: Actor, expected_version: int | None,
    ) -> CommandResult:
        """Give the copy the incoming register's next number, both saved in one transaction."""
        incoming = self.get_incoming(incoming_id)
        self.check_version(incoming, expected_version)
        register = self._find_register(incoming.agency_id, year, Series.INCOMING)
        if register is None:
            register = NumberRegister(agency_id=incoming.agency_id, year=year,
                                      series=Series.INCOMING.value)
        issued = register.issue(incoming_id, actor)
        if issued != arrival_number:
            raise ConcurrentWriteError(
                f"arrival number {arrival_number} was taken; the register is at {issued - 1}")
        incoming.register(arrival_number, year, registered_on, actor)
        return self._save(incoming, register)

    def update_incoming(
        self, incoming_id: UUID, expected_version: int | None,
        command: Callable[[IncomingDocument], None],
    ) -> CommandResult:
        """Load the copy, check the version, run one command on it and save it."""
        incoming = self.get_incoming(incoming_id)
        self.check_version(incoming, expected_version)
        command(incoming)
        return self._save(incoming)

    def _for_update(self, document_id: UUID, expected_version: int | None) -> OutgoingDocument:
        document = self.get_document(document_id)
        self.check_version(document, expected_version)
        return document

    def get_document(self, document_id: UUID) -> OutgoingDocument:
        """The document, or DocumentNotFoundError."""
        return self.load(OutgoingDocument, document_id, DocumentNotFoundError)

    # --- history ----------------------------------------------------------------------

    def history(self, aggregate_id: UUID) -> list[HistoryEntry]:
        """Every recorded event of an aggregate and of its access log, oldest first."""
        events = [*self.events.get(aggregate_id), *self.events.get(access_log_id(aggregate_id))]
        entries = [
            HistoryEntry(
                stream="access_log" if isinstance(e, AccessLog.Viewed) else "document",
                version=e.originator_version,
                type=type(e).__qualname__,
                time=e.timestamp,  # type: ignore[attr-defined]
                actor=dict(getattr(e, "actor", {})),
                payload=_event_payload(e),
            )
            for e in events
            if not isinstance(e, AccessLog.Opened)
        ]
        return sorted(entries, key=lambda h: h.time)

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))
