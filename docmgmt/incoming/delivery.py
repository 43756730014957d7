"""The dispatch process: delivers issued documents to recipient agencies, exactly once.

An eventsourcing event-sourced projection (a process application) that follows the
document log. For each event it reacts to, it writes the resulting events *and* its
tracking position in one transaction into the same event store, so a crash or a restart
resumes after the last event it finished: no delivery is lost or made twice. Each copy's
id is derived from the document and the recipient as well, so even a second process could
not create one twice (the store's unique version constraint refuses it).

It reacts to:

* ``OutgoingDocument.Dispatched`` — checks authenticity and integrity of the sealed PDF
  and its appendices once (digests re-checked against the sender's events; both
  signatures validated) and creates one ``IncomingDocument`` per recipient agency, with
  its registration deadline on the recipient's calendar; records ``DeliveredTo`` on the
  sender's document.
* ``OutgoingDocument.Recalled`` — withdraws every delivered copy.
* ``IncomingDocument.Registered`` / ``ReturnedToSender`` / ``WithdrawalConfirmed`` — tells
  the sender (acknowledgement, return with reason, recall confirmation).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import IntegrityError, ProcessRecorder, StoredEvent, Tracking
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.projection import EventSourcedProjection, EventSourcedProjectionRunner
from eventsourcing.utils import get_topic

from docmgmt.compat.eventsourcing import insert_tracking, record_processing
from docmgmt.domain.calendar import VIETNAM_TZ, HolidaySource, registration_due
from docmgmt.domain.common import FilePayload, FileRef
from docmgmt.domain.incoming import Authenticity, FileCheck, IncomingDocument, incoming_id_for
from docmgmt.domain.outgoing import OutgoingDocument, Status
from docmgmt.kernel.holidays import agency_calendar
from docmgmt.kernel.ports import BlobStore
from docmgmt.kernel.store import APP_NAME, DocMgmt, mutate_in_turn
from signing.port import ReportDict, Verdict

log = logging.getLogger("docmgmt.dispatch")
EVENTS_TABLE = f"{APP_NAME}_events"
MAX_RACE_RETRIES = 10


class ArrivalCheck(Protocol):
    """Port: checks an issued document's files as the recipient receives them."""

    def check(self, document: OutgoingDocument) -> Authenticity:
        """``{"ok": bool, "checks": [...]}`` — a failed check is a result, not an error."""
        ...


class PdfArrivalCheck:
    """Authenticity and integrity of the sealed PDF and its appendices (Decree 30, Art. 21).

    Every file is read back through the store's digest check against the SHA-256 the
    sender's ``Sealed`` event names, then its signatures are validated: the document must
    carry the competent person's signature and the agency's, both valid; each appendix the
    agency's. Storage outages raise (the process retries later); corrupt or missing bytes
    (``unreadable``: the blob store's own error types, named by the composition root so
    that this module never imports an adapter) are recorded as a failed check for the
    clerk to return.
    """

    def __init__(self, blobs: BlobStore, validate: Callable[[Path], ReportDict],
                 work_dir: Path, unreadable: tuple[type[Exception], ...]) -> None:
        self._blobs = blobs
        self._validate = validate
        self._work_dir = work_dir
        self._unreadable = unreadable

    def check(self, document: OutgoingDocument) -> Authenticity:
        """Check every issued file of the document."""
        files: list[tuple[str, FileRef | None, int]] = [("document", document.sealed_file, 2)]
        files += [(f"appendix {a.number}", a.sealed_file, 1) for a in document.appendices]
        checks = [self._check_file(name, ref, needed) for name, ref, needed in files]
        return {"ok": all(c["ok"] for c in checks), "checks": checks}

    def _check_file(self, name: str, ref: FileRef | None, needed: int) -> FileCheck:
        if ref is None:
            return {"file": name, "ok": False, "detail": "the file was never sealed"}
        self._work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._work_dir) as tmp:
            path = Path(tmp) / "received.pdf"
            try:
                with self._blobs.open_verified(ref.key, ref.sha256) as fh, \
                        path.open("wb") as out:
                    shutil.copyfileobj(fh, out, 1024 * 1024)
            except self._unreadable as exc:
                return {"file": name, "sha256": ref.sha256, "ok": False,
                        "digest_matches": False,
                        "detail": f"the stored bytes do not match the sender's record: {exc}"}
            report = self._validate(path)
        signatures = report.get("signatures", [])
        valid = [s for s in signatures if s.get("bottom_line") == Verdict.VALID]
        ok = len(signatures) >= needed and len(valid) == len(signatures)
        return {
            "file": name, "sha256": ref.sha256, "ok": ok, "digest_matches": True,
            "signatures": len(signatures), "valid_signatures": len(valid),
            "signers": [str(s.get("signer_subject", "")) for s in signatures],
            "detail": ("every signature is intact, valid and trusted" if ok else
                       f"{len(valid)} of {len(signatures)} signatures valid; "
                       f"{needed} needed"),
        }


class DispatchRecorder(PostgresProcessRecorder):
    """Writes the process's new events and its tracking row in one transaction.

    The event store is written through the database's own insert function (it takes the
    table lock so notification ids commit in order); the library's function path ignores
    tracking, hence this override.
    """

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """Insert the events and (if given) the tracking record atomically."""
        tracking: Tracking | None = kwargs.get("tracking")
        pg_events = [
            self.construct_pg_stored_event(
                originator_id=e.originator_id, originator_version=e.originator_version,
                topic=e.topic, state=e.state)
            for e in stored_events
        ]
        with self.datastore.transaction(commit=True) as curs:
            if tracking is not None:
                insert_tracking(self, curs, tracking)
            if not pg_events:
                return []
            curs.execute(self.sql_invoke_pg_function_insert_events, (pg_events,),
                         prepare=True)
            return [r[self.pg_function_name_insert_events] for r in curs.fetchall()]


@dataclass(frozen=True)
class DispatchPorts:
    """What the dispatcher needs besides the event store."""

    arrival_check: ArrivalCheck
    holidays: HolidaySource
    clock: Callable[[], datetime]


_TOPICS = [get_topic(cls) for cls in (
    OutgoingDocument.Dispatched, OutgoingDocument.Recalled, IncomingDocument.Registered,
    IncomingDocument.ReturnedToSender, IncomingDocument.WithdrawalConfirmed)]


class Dispatcher(EventSourcedProjection[UUID]):
    """Delivers, withdraws and acknowledges copies (see the module docstring)."""

    name = "dispatch"
    topics: Sequence[str] = _TOPICS
    # Bound by ``dispatcher_class`` before the runner constructs the process.
    ports: ClassVar[DispatchPorts | None] = None

    def construct_recorder(self) -> ProcessRecorder:
        """The docmgmt event store itself, with this process's own tracking table."""
        datastore = self.factory.datastore  # type: ignore[attr-defined]
        return DispatchRecorder(datastore, events_table_name=EVENTS_TABLE,
                                tracking_table_name=f"{self.name}_tracking")

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Run the policy and record its events with the tracking, retrying on a race.

        A clerk may save the same outgoing document at the same moment (a recall, say):
        the losing side reloads and tries again; nothing partial is ever recorded.
        """
        for attempt in range(MAX_RACE_RETRIES):
            processing = ProcessingEvent[UUID](tracking=tracking)
            self.policy(domain_event, processing)
            try:
                record_processing(self, processing)
                return
            except IntegrityError:
                if (self.recorder.max_tracking_id(tracking.application_name) or 0) >= \
                        tracking.notification_id:
                    return  # another dispatcher already handled this event
                if attempt == MAX_RACE_RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _ports(self) -> DispatchPorts:
        if self.ports is None:
            raise RuntimeError("the dispatcher was not bound to its ports (dispatcher_class)")
        return self.ports

    def _now(self) -> datetime:
        return self._ports().clock()

    def _get(self, aggregate_id: UUID) -> Any:
        return self.repository.get(aggregate_id, projector_func=mutate_in_turn)

    def _find(self, aggregate_id: UUID) -> Any:
        """The aggregate, or None if it was never created."""
        try:
            return self.repository.get(aggregate_id, projector_func=mutate_in_turn)
        except AggregateNotFoundError:
            return None

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: ProcessingEvent[UUID]) -> None:
        """Other events need nothing (the topic filter keeps most of them away)."""

    @policy.register
    def _(self, e: OutgoingDocument.Dispatched, processing: ProcessingEvent[UUID]) -> None:
        document: OutgoingDocument = self._get(e.originator_id)
        # The files checked are the sealed ones; they never change after sealing.
        check = self._check(document)
        sender = self._get(document.agency_id)
        registration = document.registration
        now = self._now()
        for recipient in e.recipients:
            agency_id = UUID(str(recipient["agency_id"]))
            incoming_id = incoming_id_for(document.id, agency_id)
            if self._find(incoming_id) is not None:
                continue  # delivered by an earlier run that recorded no tracking
            calendar = agency_calendar(self._get(agency_id), self._ports().holidays)
            due = registration_due(now, document.urgency.value, calendar)
            incoming = IncomingDocument(
                outgoing_id=document.id, sender_agency_id=document.agency_id,
                sender_code=sender.code, sender_name=sender.name,
                recipient_agency_id=agency_id,
                number_label=registration.label if registration else "",
                code=registration.code if registration else "",
                issued_date=registration.date if registration else "",
                doc_type=document.doc_type.value, summary=document.summary,
                urgency=document.urgency.value,
                confidentiality=document.confidentiality.value,
                file=_file(document.sealed_file),
                appendices=[{"number": a.number, "title": a.title,
                             "file": _file(a.sealed_file)} for a in document.appendices],
                links=list(document.links), authenticity=check,
                registration_due=due.isoformat(),
            )
            document.record_delivery(agency_id, incoming.id)
            processing.collect_events(incoming)
        processing.collect_events(document)

    def _check(self, document: OutgoingDocument) -> Authenticity:
        if document.status not in (Status.DISPATCHED, Status.RECALLED):
            return {"ok": False, "checks": [], "detail": "the document was not issued"}
        result = self._ports().arrival_check.check(document)
        return {**result, "checked_at": self._now().isoformat()}

    @policy.register
    def _(self, e: OutgoingDocument.Recalled, processing: ProcessingEvent[UUID]) -> None:
        document: OutgoingDocument = self._get(e.originator_id)
        for agency_id in list(document.recipients):
            incoming_id = incoming_id_for(document.id, UUID(agency_id))
            incoming: IncomingDocument | None = self._find(incoming_id)
            if incoming is None:
                continue
            if incoming.withdraw(e.reason, dict(e.actor)):
                processing.collect_events(incoming)

    @policy.register
    def _(self, e: IncomingDocument.Registered, processing: ProcessingEvent[UUID]) -> None:
        incoming: IncomingDocument = self._get(e.originator_id)
        document: OutgoingDocument = self._get(incoming.outgoing_id)
        if document.record_acknowledgement(incoming.agency_id, f"{e.arrival_number:02d}",
                                           dict(e.actor)):
            processing.collect_events(document)

    @policy.register
    def _(self, e: IncomingDocument.ReturnedToSender,
          processing: ProcessingEvent[UUID]) -> None:
        incoming: IncomingDocument = self._get(e.originator_id)
        document: OutgoingDocument = self._get(incoming.outgoing_id)
        if document.record_return(incoming.agency_id, e.reason, dict(e.actor)):
            processing.collect_events(document)

    @policy.register
    def _(self, e: IncomingDocument.WithdrawalConfirmed,
          processing: ProcessingEvent[UUID]) -> None:
        incoming: IncomingDocument = self._get(e.originator_id)
        document: OutgoingDocument = self._get(incoming.outgoing_id)
        if document.record_recall_confirmation(incoming.agency_id, dict(e.actor)):
            processing.collect_events(document)


def _file(ref: FileRef | None) -> FilePayload:
    if ref is None:
        raise ValueError("an issued document always has sealed files")
    return ref.as_payload()


def dispatcher_class(arrival_check: ArrivalCheck, holidays: HolidaySource,
                     clock: Callable[[], datetime] | None = None) -> type[Dispatcher]:
    """The dispatcher bound to its ports (the runner constructs it from a class)."""
    ports = DispatchPorts(arrival_check, holidays, clock or (lambda: datetime.now(VIETNAM_TZ)))
    return type("BoundDispatcher", (Dispatcher,), {"ports": ports, "name": Dispatcher.name})


def start_dispatcher(
    es_env: dict[str, str], dispatcher: type[Dispatcher],
) -> EventSourcedProjectionRunner[DocMgmt, Dispatcher]:
    """Start the dispatch process (the caller enters and exits the runner)."""
    return EventSourcedProjectionRunner(application_class=DocMgmt,
                                        projection_class=dispatcher, env=es_env)
