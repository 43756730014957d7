"""The write side: one eventsourcing application for agencies, users and documents."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Recording

from docmgmt.domain.access import AccessLog, access_log_id
from docmgmt.domain.agency import Agency
from docmgmt.domain.common import (
    Actor,
    FileRef,
    agency_id_for,
    user_id_for,
)
from docmgmt.domain.errors import (
    AgencyNotFoundError,
    ConflictError,
    DocumentNotFoundError,
    NotFoundError,
    StaleVersionError,
    UserNotFoundError,
)
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.domain.register import NumberRegister, Series, register_id
from docmgmt.domain.user import User
from docmgmt.kernel.ports import BlobStore

APP_NAME = "docmgmt"
VIEW_RETRIES = 20

TAggregate = TypeVar("TAggregate", bound=Aggregate)
TState = TypeVar("TState")


def mutate_in_turn(aggregate: TState | None, events: Iterable[Any]) -> TState | None:
    """Apply ``events`` to ``aggregate`` in turn: what every load passes as ``projector_func``."""
    # The library's project_aggregate, without its isinstance check of a runtime-checkable
    # protocol on every event, a large share of a load's CPU (bench/README.md,
    # bench.events). A foreign object fails on ``mutate`` all the same.
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


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


def register_lock_key(agency_id: UUID, year: int, series: Series) -> str:
    """The name of the lock that serialises one number register (outgoing or incoming)."""
    return f"{agency_id}:{year}:{series.value}"


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
            aggregate: Aggregate = self.repository.get(aggregate_id,
                                                          projector_func=mutate_in_turn)
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

    def get_agency(self, agency_id: UUID) -> Agency:
        """The agency, or AgencyNotFoundError."""
        return self.load(Agency, agency_id, AgencyNotFoundError)

    def find_agency(self, code: str) -> Agency:
        """The agency with this code, or AgencyNotFoundError."""
        return self.get_agency(agency_id_for(code))

    # --- users -------------------------------------------------------------------------

    def get_user(self, user_id: UUID) -> User:
        """The user, or UserNotFoundError."""
        return self.load(User, user_id, UserNotFoundError)

    def find_user(self, username: str) -> User:
        """The user with this username, or UserNotFoundError."""
        return self.get_user(user_id_for(username))

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
        return self.number_register(agency_id, year, series).last_number + 1

    def number_register(self, agency_id: UUID, year: int, series: Series) -> NumberRegister:
        """The register of the agency's year and series (a new one before its first number),
        loaded once; the caller holds its lock."""
        try:
            return self.load(NumberRegister, register_id(agency_id, year, series),
                             NotFoundError)
        except NotFoundError:
            return NumberRegister(agency_id=agency_id, year=year, series=series.value)

    def get_incoming(self, incoming_id: UUID) -> IncomingDocument:
        """The incoming copy, or DocumentNotFoundError."""
        return self.load(IncomingDocument, incoming_id, DocumentNotFoundError)

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

    def exists(self, aggregate_id: UUID) -> bool:
        """Whether any event was ever recorded for the id."""
        return bool(self.recorder.select_events(aggregate_id, limit=1))


@contextlib.contextmanager
def open_recorded(store: DocMgmt, blobs: BlobStore, record_id: UUID, revision: int,
                  file: FileRef, purpose: str, actor: Actor) -> Iterator[BinaryIO]:
    """A stored file opened for a reader: only bytes that passed the digest check are
    served, and only once the view is on the record's access log."""
    with blobs.open_verified(file.key, file.sha256) as fh:
        store.record_view(record_id, revision, file.sha256, purpose, actor)
        yield fh
