"""Read side: one projection keeps the view tables, exactly once, with eventsourcing tracking."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, ClassVar

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import Environment
from psycopg import Connection, Cursor
from psycopg.rows import DictRow

from docmgmt.application import APP_NAME
from docmgmt.domain.access import AccessLog
from docmgmt.domain.agency import Agency
from docmgmt.domain.audit_mandate import AuditMandate
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.domain.user import User
from docmgmt.pgtext import make_text_storable

Statement = tuple[str, Sequence[Any]]
# A step that must read what earlier steps wrote (it runs on a cursor of its own).
Work = Callable[[Cursor[DictRow]], None]
S = "docmgmt"


class ReadModelRecorder(PostgresTrackingRecorder):
    """Writes view rows and the tracking record together, in batches (exactly once).

    The runner hands over one event at a time. Consecutive events are buffered and
    committed in one transaction together with the tracking row of the LAST event of the
    batch, so a crash loses or redoes whole batches, never half of one. A batch is
    committed when it holds ``batch_size`` events, when an event arrives after a quiet
    spell (a lone event is committed at once), or by a flusher thread once no event has
    arrived for ``idle_flush_seconds``. ``wait_for`` only reports committed positions.

    If a commit fails, nothing of that batch remains (one transaction), the recorder
    refuses every later event by raising the error again (so the runner stops and a
    restart resumes from tracking), and ``failure`` holds the error.
    """

    batch_size = 500
    idle_flush_seconds = 0.002
    # Per tracking table: commit each event alone up to this position, so that after a
    # failure the next attempt names the very event that fails (set by the supervisor).
    one_at_a_time_until: ClassVar[dict[str, int]] = {}
    # Read-model rows and their tracking commit together; if the server crashes before
    # the WAL reaches disk both are lost and redone from the events, so the batch need
    # not wait for a WAL flush (as the ledger worker does).
    synchronous_commit = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._position_changed = threading.Condition()
        self._position: int = 0
        # Guards the buffer and serialises commits (processing thread and flusher).
        self._batch_changed = threading.Condition(threading.Lock())
        self._statements: list[Statement | Work] = []
        self._events = 0
        self._last: Tracking | None = None
        self._first = 0
        self._last_apply = 0.0
        self._failed_batch: tuple[int, int] | None = None
        self._failure: BaseException | None = None
        self._flusher: threading.Thread | None = None

    @property
    def failure(self) -> BaseException | None:
        """The error of a batch that failed to commit (the recorder then refuses events)."""
        return self._failure

    @property
    def failed_batch(self) -> tuple[int, int] | None:
        """First and last position of the batch that failed to commit, if one did."""
        return self._failed_batch

    def apply(self, statements: Sequence[Statement | Work], tracking: Tracking) -> None:
        """Add one event's statements (maybe none) and its tracking to the current batch.

        Raises the commit error if this call commits the batch and that fails, or if an
        earlier batch failed.
        """
        with self._batch_changed:
            if self._failure is not None:
                raise self._failure
            quiet = (self._last is None
                     and time.monotonic() - self._last_apply > self.idle_flush_seconds)
            if self._last is None:
                self._first = tracking.notification_id
            self._statements.extend(statements)
            self._events += 1
            self._last = tracking
            alone = tracking.notification_id <= self.one_at_a_time_until.get(
                self.tracking_table_name, 0)
            if quiet or alone or self._events >= self.batch_size:
                try:
                    self._flush_locked()
                finally:
                    self._last_apply = time.monotonic()
                return
            self._last_apply = time.monotonic()
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(
                    target=_flush_when_idle, args=(weakref.ref(self), self._batch_changed),
                    name="readmodel-flusher", daemon=True)
                self._flusher.start()
            self._batch_changed.notify()

    def flush(self) -> None:
        """Commit the buffered batch now (raises the commit error if it fails)."""
        with self._batch_changed:
            if self._failure is not None:
                raise self._failure
            self._flush_locked()

    def _flush_locked(self) -> None:
        tracking = self._last
        if tracking is None:
            return
        statements = self._statements
        self._statements, self._events, self._last = [], 0, None
        try:
            self._commit(statements, tracking)
        except BaseException as exc:
            self._failure = exc
            self._failed_batch = (self._first, tracking.notification_id)
            raise
        with self._position_changed:
            self._position = max(self._position, tracking.notification_id)
            self._position_changed.notify_all()

    def _flush_if_idle_locked(self) -> float:
        """Commit the batch if the stream has gone quiet; the seconds until next look."""
        if self._last is None or self._failure is not None:
            return 1.0
        due = self._last_apply + self.idle_flush_seconds - time.monotonic()
        if due > 0:
            return due
        # A failure is kept in self._failure: the next apply() raises it in the runner.
        with contextlib.suppress(BaseException):
            self._flush_locked()
        return 1.0

    def _commit(self, statements: Sequence[Statement | Work], tracking: Tracking) -> None:
        """One transaction: the batch's statements, pipelined, then the tracking row."""
        with self.datastore.get_connection() as conn:
            make_text_storable(conn)
            self._commit_on(conn, statements, tracking)

    def _commit_on(self, conn: Connection[DictRow], statements: Sequence[Statement | Work],
                   tracking: Tracking) -> None:
        with conn.pipeline(), conn.transaction():
            curs = conn.cursor()
            if not self.synchronous_commit:
                curs.execute("SET LOCAL synchronous_commit = off", prepare=True)
            for step in statements:
                if callable(step):
                    step(conn.cursor())
                else:
                    curs.execute(step[0], step[1], prepare=True)
            # Its own cursor: in a pipeline the batch's cursor may already hold an earlier
            # statement's result when the server answered part of the batch, and the
            # tracking insert would read that ("the last operation didn't produce records").
            self._insert_tracking(conn.cursor(), tracking)

    def wait_for(self, position: int | None, timeout: float,
                 give_up: Callable[[], bool] | None = None) -> bool:
        """Block until the view has committed ``position``; False on timeout, or as soon
        as ``give_up()`` says so (the projection is stuck on an event).

        Wakes at once when this process's projection commits; polls the database
        otherwise (the projection may run in another process).
        """
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        poll = 0.003
        while True:
            if self._position >= position or self.has_tracking_id(APP_NAME, position):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (give_up is not None and give_up()):
                return False
            with self._position_changed:
                # Checked under the lock the projection notifies with: no lost wake-up.
                if self._position >= position:
                    return True
                self._position_changed.wait(min(poll, remaining))
                if self._position >= position:
                    return True
            # Short polls while a fresh event is normally milliseconds away (the projection
            # may run in another process), then back off.
            if time.monotonic() > deadline - timeout + 0.1:
                poll = min(poll * 2, 0.05)


def _flush_when_idle(
    ref: weakref.ReferenceType[ReadModelRecorder], batch_changed: threading.Condition
) -> None:
    """The flusher thread: commits a buffered batch once the stream goes quiet.

    Holds its recorder only weakly, so it ends within a second of the recorder being
    dropped (a restarted runner builds a new one).
    """
    with batch_changed:
        while True:
            recorder = ref()
            if recorder is None:
                return
            wait = recorder._flush_if_idle_locked()
            del recorder
            batch_changed.wait(wait)


def tracking_view(name: str, es_env: dict[str, str]) -> ReadModelRecorder:
    """A handle on projection ``name``'s tracking, for read-your-writes waits (wait_for)
    from a process that does not run that projection."""
    factory: Any = InfrastructureFactory.construct(env=Environment(name, es_env))
    recorder: ReadModelRecorder = factory.tracking_recorder(ReadModelRecorder)
    return recorder


def _actor_id(event: Any) -> str:
    return str(event.actor["user_id"])


class ReadModel(Projection[ReadModelRecorder]):
    """Maintains agencies, units, users, documents and revisions views."""

    name = "readmodel"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events that change no view still advance the tracking position."""
        self.view.apply([], tracking)

    @process_event.register
    def _(self, e: Agency.Registered, tracking: Tracking) -> None:
        self.view.apply([(
            f"INSERT INTO {S}.agencies_view (id, code, name, parent_id, created_at, version) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (e.originator_id, e.code, e.name, e.parent_id, e.timestamp, e.originator_version),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.Renamed, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.agencies_view SET name = %s, version = %s WHERE id = %s",
            (e.name, e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.CalendarSet, tracking: Tracking) -> None:
        # The calendar lives in the exchange views; the agency's version moves all the same.
        self.view.apply([(
            f"UPDATE {S}.agencies_view SET version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.UnitAdded, tracking: Tracking) -> None:
        self.view.apply([
            (f"INSERT INTO {S}.units_view (id, agency_id, code, name) VALUES (%s, %s, %s, %s)",
             (e.unit_id, e.originator_id, e.code, e.name)),
            (f"UPDATE {S}.agencies_view SET version = %s WHERE id = %s",
             (e.originator_version, e.originator_id)),
        ], tracking)

    @process_event.register
    def _(self, e: User.Registered, tracking: Tracking) -> None:
        self.view.apply([(
            f"INSERT INTO {S}.users_view (id, username, full_name, title, agency_id, unit_id,"
            " roles, active, created_at, version) VALUES (%s,%s,%s,%s,%s,%s,%s,true,%s,%s)",
            (e.originator_id, e.username, e.full_name, e.title, e.agency_id, e.unit_id,
             list(e.roles), e.timestamp, e.originator_version),
        )], tracking)

    @process_event.register
    def _(self, e: User.RolesChanged, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.users_view SET roles = %s, version = %s WHERE id = %s",
            (list(e.roles), e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: User.Deactivated, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.users_view SET active = false, version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: User.Reactivated, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.users_view SET active = true, version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: User.PasswordChanged, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.users_view SET version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Drafted, tracking: Tracking) -> None:
        f = e.file
        self.view.apply([
            (f"INSERT INTO {S}.documents_view (id, agency_id, unit_id, drafted_by, summary,"
             " doc_type, urgency, confidentiality, legal_normative, status, revision_count,"
             " current_sha256, current_file_name, current_size, current_page_count,"
             " comment_count, view_count, created_at, updated_at, version, latest_sha256)"
             " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,'draft',1,%s,%s,%s,%s,0,0,%s,%s,%s,%s)",
             (e.originator_id, e.agency_id, e.unit_id, _actor_id(e), e.summary, e.doc_type,
              e.urgency, e.confidentiality, e.legal_normative, f["sha256"], f["file_name"],
              f["size"], f["page_count"], e.timestamp, e.timestamp, e.originator_version,
              f["sha256"])),
            _revision_row(e.originator_id, 1, f, "", _actor_id(e), e.timestamp),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.RevisionUploaded, tracking: Tracking) -> None:
        f = e.file
        self.view.apply([
            (f"UPDATE {S}.documents_view SET revision_count = %s, current_sha256 = %s,"
             " current_file_name = %s, current_size = %s, current_page_count = %s,"
             " latest_sha256 = %s, updated_at = %s, version = %s WHERE id = %s",
             (e.revision, f["sha256"], f["file_name"], f["size"], f["page_count"],
              f["sha256"], e.timestamp, e.originator_version, e.originator_id)),
            _revision_row(e.originator_id, e.revision, f, e.note, _actor_id(e), e.timestamp),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Commented, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.documents_view SET comment_count = comment_count + 1,"
            " updated_at = %s, version = %s WHERE id = %s",
            (e.timestamp, e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.AppendixAttached, tracking: Tracking) -> None:
        f = e.file
        self.view.apply([
            (f"UPDATE {S}.documents_view SET updated_at = %s, version = %s WHERE id = %s",
             (e.timestamp, e.originator_version, e.originator_id)),
            (f"INSERT INTO {S}.appendices_view (document_id, number, title, blob_key, sha256,"
             " size, page_count, file_name) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
             (e.originator_id, e.appendix, e.title, f["key"], f["sha256"], f["size"],
              f["page_count"], f["file_name"])),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.SubmittedForApproval, tracking: Tracking) -> None:
        self.view.apply([_status(e, "submitted")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Approved, tracking: Tracking) -> None:
        self.view.apply([_status(e, "approved", ", approved_revision = %s", (e.revision,))],
                        tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReturnedForRevision, tracking: Tracking) -> None:
        self.view.apply([_status(e, "returned", ", approved_revision = NULL")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Signed, tracking: Tracking) -> None:
        self.view.apply([
            _status(e, "signed", ", signed_by = %s, signing_capacity = %s,"
                    " latest_sha256 = %s, validation = %s",
                    (_actor_id(e), e.capacity, e.file["sha256"],
                     _verdict(e.signature.get("validation", {})))),
            _output(e, "signed"),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Numbered, tracking: Tracking) -> None:
        label = Registration(e.number, e.code, e.date, e.year, e.series).label
        self.view.apply([
            _status(e, "numbered", ", number = %s, code = %s, number_label = %s,"
                    " issued_date = %s, series = %s, latest_sha256 = %s, validation = %s",
                    (e.number, e.code, label, date.fromisoformat(e.date), e.series,
                     e.file["sha256"], _verdict(e.validation))),
            _output(e, "numbered"),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Sealed, tracking: Tracking) -> None:
        self.view.apply([
            _status(e, "sealed", ", latest_sha256 = %s, validation = %s",
                    (e.file["sha256"], _verdict(e.signature.get("validation", {})))),
            _output(e, "sealed"),
            *[(f"UPDATE {S}.appendices_view SET sealed_blob_key = %s, sealed_sha256 = %s"
               " WHERE document_id = %s AND number = %s",
               (a["key"], a["sha256"], e.originator_id, n))
              for n, a in enumerate(e.appendices, start=1)],
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Dispatched, tracking: Tracking) -> None:
        self.view.apply([_status(e, "dispatched")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Recalled, tracking: Tracking) -> None:
        self.view.apply([_status(e, "recalled")], tracking)

    # Links, deliveries, acknowledgements, returns and recall confirmations change no column
    # of this view, but they are the document's events: its version (the ETag a client
    # sends back as If-Match) must move with them, or every later write is refused.

    @process_event.register
    def _(self, e: OutgoingDocument.Linked, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.DeliveredTo, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReceiptAcknowledged, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.DeliveryReturned, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.RecallConfirmed, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: AccessLog.Viewed, tracking: Tracking) -> None:
        # A view is not an edit: neither updated_at nor the document's version move.
        self.view.apply([(
            f"UPDATE {S}.documents_view SET view_count = view_count + 1 WHERE id = %s",
            (e.document_id,),
        )], tracking)

    @process_event.register
    def _(self, e: AuditMandate.Granted, tracking: Tracking) -> None:
        # A re-grant replaces the terms of a revoked or expired mandate.
        self.view.apply([(
            f"INSERT INTO {S}.audit_scopes_view (auditor_id, agency_id, valid_from, valid_to,"
            " revoked) VALUES (%s, %s, %s, %s, false) ON CONFLICT (auditor_id, agency_id)"
            " DO UPDATE SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,"
            " revoked = false",
            (e.auditor_id, e.agency_id, e.valid_from, e.valid_to),
        )], tracking)

    @process_event.register
    def _(self, e: AuditMandate.Revoked, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.audit_scopes_view SET revoked = true"
            " WHERE auditor_id = %s AND agency_id = %s",
            (e.auditor_id, e.agency_id),
        )], tracking)


def _status(e: Any, status: str, extra: str = "", params: tuple[Any, ...] = ()) -> Statement:
    return (
        f"UPDATE {S}.documents_view SET status = %s{extra}, updated_at = %s, version = %s"
        " WHERE id = %s",
        (status, *params, e.timestamp, e.originator_version, e.originator_id),
    )


def _touched(e: Any) -> Statement:
    return (
        f"UPDATE {S}.documents_view SET updated_at = %s, version = %s WHERE id = %s",
        (e.timestamp, e.originator_version, e.originator_id),
    )


def _output(e: Any, step: str) -> Statement:
    f = e.file
    return (
        f"INSERT INTO {S}.outputs_view (document_id, step, blob_key, sha256, size, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (e.originator_id, step, f["key"], f["sha256"], f["size"], e.timestamp),
    )


def _verdict(validation: dict[str, Any]) -> str:
    return json.dumps(validation, ensure_ascii=False, sort_keys=True)


def _revision_row(
    document_id: Any, revision: int, f: dict[str, Any], note: str, by: str, at: Any
) -> Statement:
    return (
        f"INSERT INTO {S}.revisions_view (document_id, revision, blob_key, sha256, size,"
        " page_count, file_name, note, uploaded_by, uploaded_at)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (document_id, revision, f["key"], f["sha256"], f["size"], f["page_count"],
         f["file_name"], note, by, at),
    )
