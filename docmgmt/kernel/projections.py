"""The projection machinery: a tracking recorder that batches view writes exactly once, and
read-your-writes waits."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.utils import Environment
from psycopg import ClientCursor, Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier, Literal

from docmgmt.compat.eventsourcing import (
    insert_tracking,
    tracking_parameters,
    tracking_statement,
)
from docmgmt.kernel.pgtext import make_text_storable
from docmgmt.kernel.store import APP_NAME, DocMgmt

TView = TypeVar("TView", bound=TrackingRecorder)
log = logging.getLogger("docmgmt")

Statement = tuple[str, Sequence[Any]]
# A step that must read what earlier steps wrote (it runs on a cursor of its own).
Work = Callable[[Cursor[DictRow]], None]
S = "docmgmt"
# Up to this many statements a batch goes as one query (a live event's batch: one or a
# few). A larger one (catching up: up to ``batch_size`` events) goes pipelined, where its
# statements are prepared once and bound on the server: bench.projections' catch-up fell
# from 19,241 to 12,666 events/s when every batch went as one query.
ONE_QUERY_MAX_STATEMENTS = 16
# What a batch's query fails with when its tracking row did not move forward (a cast of
# this text to an integer: the statements after it, and the COMMIT, are not run).
STALE_TRACKING = "docmgmt: the tracking position did not move forward"
# Where a view's runner runs in another process than the requests that wait on it
# (``docmgmt serve --workers N`` beside ``docmgmt project``), each of its commits notifies
# this channel with "<tracking table>:<position>", in the same transaction, and the waiting
# processes hear it (:class:`ViewAnnouncements`) instead of polling the tracking table.
VIEWS_CHANNEL = "docmgmt_views"
# A wait that hears the announcements still asks the database this often, in case one was
# missed while the LISTEN connection was being opened again.
ANNOUNCED_POLL_SECONDS = 0.25


class ReadModelRecorder(PostgresTrackingRecorder):
    """Writes view rows and the tracking record together, in batches (exactly once).

    The runner hands over one event at a time. Consecutive events are buffered and
    committed in one transaction together with the tracking row of the LAST event of the
    batch, so a crash loses or redoes whole batches, never half of one. A batch is
    committed when it holds ``batch_size`` events, when an event arrives after a quiet
    spell (a lone event is committed at once), or by a flusher thread once no event has
    arrived for ``idle_flush_seconds``; a view no request waits for may instead set
    ``commit_delay_seconds`` to commit each batch that long after its first event.
    ``wait_for`` only reports committed positions.

    If a commit fails, nothing of that batch remains (one transaction), the recorder
    refuses every later event by raising the error again (so the runner stops and a
    restart resumes from tracking), and ``failure`` holds the error.
    """

    batch_size = 500
    idle_flush_seconds = 0.002
    # Above zero: no request waits for this view, so each batch collects events for this
    # long from its first one (the quiet-spell rules are off): fewer commits per event.
    commit_delay_seconds = 0.0
    # Above zero: a batch of tracking rows only (no event in it changes a row; waiters in
    # this process have gone already) is committed that long after its first event, unless
    # an event that changes rows comes first. Only where no other process waits on this
    # view: such a process reads the committed tracking.
    tracking_only_delay_seconds = 0.0
    # Per tracking table: commit each event alone up to this position, so that after a
    # failure the next attempt names the very event that fails (set by the supervisor).
    one_at_a_time_until: ClassVar[dict[str, int]] = {}
    # Read-model rows and their tracking commit together; if the server crashes before
    # the WAL reaches disk both are lost and redone from the events, so the batch need
    # not wait for a WAL flush (as the ledger worker does).
    synchronous_commit = False
    # True where the requests that wait on this view run in other processes: each commit
    # then announces its position on VIEWS_CHANNEL (set by ``docmgmt project``).
    announce = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The announcements this handle hears, if any (``ViewAnnouncements.hear``).
        self._announcements: ViewAnnouncements | None = None
        self._position_changed = threading.Condition()
        self._tracking_sql: str | None = None
        self._position: int = 0
        # Guards the buffer and serialises commits (processing thread and flusher).
        self._batch_changed = threading.Condition(threading.Lock())
        self._statements: list[Statement | Work] = []
        self._events = 0
        # Whether a statement of the buffered batch changes a row (else: tracking only).
        self._holds_rows = False
        self._last: Tracking | None = None
        self._first = 0
        self._started = 0.0
        self._last_apply = 0.0
        self._failed_batch: tuple[int, int] | None = None
        self._failure: BaseException | None = None
        self._flusher: threading.Thread | None = None
        # Set once a runner feeds this recorder: waiters are then woken by its commits.
        self._fed = False

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
            self._fed = True
            if self._failure is not None:
                raise self._failure
            now = time.monotonic()
            starts = self._last is None
            if self.commit_delay_seconds > 0:
                due = not starts and now - self._started >= self.commit_delay_seconds
            else:
                # Pending tracking rows alone do not hold back an event that changes rows.
                due = not self._holds_rows and now - self._last_apply > self.idle_flush_seconds
            if starts:
                self._first = tracking.notification_id
                self._started = now
            self._statements.extend(statements)
            self._events += 1
            self._last = tracking
            alone = tracking.notification_id <= self.one_at_a_time_until.get(
                self.tracking_table_name, 0)
            # The first event that changes rows after held tracking rows: the flusher,
            # asleep until the tracking-only delay ends, must re-read its due time.
            wake = bool(statements) and not self._holds_rows and not starts
            if statements:
                self._holds_rows = True
            elif not self._holds_rows and not alone and self.commit_delay_seconds == 0:
                # Neither this event nor any pending one changes a row: the views show
                # this position already. Waiters go now; the tracking row follows with the
                # batch (at the latest once the stream is idle).
                due = False
                self._publish(tracking.notification_id)
                self._announce_now(tracking)
            if due or alone or self._events >= self.batch_size:
                try:
                    self._flush_locked()
                finally:
                    self._last_apply = time.monotonic()
                return
            self._last_apply = now
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(
                    target=_flush_when_idle, args=(weakref.ref(self), self._batch_changed),
                    name="readmodel-flusher", daemon=True)
                self._flusher.start()
            if starts or wake:
                # A flusher waiting on an older due time re-reads it when it wakes; only
                # one waiting for a batch to start, or for a delay that no longer holds,
                # must be woken.
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
        self._holds_rows = False
        try:
            self._commit(statements, tracking)
        except BaseException as exc:
            self._failure = exc
            self._failed_batch = (self._first, tracking.notification_id)
            raise
        self._publish(tracking.notification_id)

    def _publish(self, position: int) -> None:
        """Tell waiters that the views show ``position``."""
        with self._position_changed:
            self._position = max(self._position, position)
            self._position_changed.notify_all()

    def _flush_if_idle_locked(self) -> float:
        """Commit the batch if the stream has gone quiet; the seconds until next look."""
        if self._last is None or self._failure is not None:
            return 1.0
        if self.commit_delay_seconds > 0:
            due = self._started + self.commit_delay_seconds - time.monotonic()
        elif not self._holds_rows and self.tracking_only_delay_seconds > 0:
            due = self._started + self.tracking_only_delay_seconds - time.monotonic()
        else:
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
        if (len(statements) > ONE_QUERY_MAX_STATEMENTS
                or any(callable(step) for step in statements)
                or not self._commit_in_one_query(
                    conn, statements, tracking)):  # type: ignore[arg-type]
            self._commit_pipelined(conn, statements, tracking)

    def _commit_in_one_query(self, conn: Connection[DictRow], statements: Sequence[Statement],
                             tracking: Tracking) -> bool:
        """The batch as one query, one round trip: BEGIN, the tracking row, the statements
        with their parameters bound by psycopg on the client, COMMIT. If the tracking did not
        move forward (another runner, or a replay, got there first) the query fails at once,
        nothing of it stays, and the library's IntegrityError is raised, as its own insert
        raises it. For a comment's batch, about a third of the pipelined transaction's client
        CPU. False if the tracking table has the legacy layout (nothing sent)."""
        recorded = self._tracking_query(conn)
        if recorded is None:
            return False
        curs = ClientCursor(conn)
        parts = ["BEGIN"]
        if not self.synchronous_commit:
            parts.append("SET LOCAL synchronous_commit = off")
        parts.append(curs.mogrify(recorded, tracking_parameters(tracking)))
        parts.extend(curs.mogrify(sql, params) for sql, params in statements)
        announcement = self._announcement(tracking)
        if announcement is not None:
            parts.append(curs.mogrify(*announcement))
        parts.append("COMMIT")
        try:
            curs.execute("; ".join(parts))
        except BaseException as exc:
            # PostgreSQL ran nothing after the failed statement: the transaction is open
            # and aborted until it is rolled back.
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            if isinstance(exc, psycopg.errors.InvalidTextRepresentation) and (
                    STALE_TRACKING in str(exc)):
                raise IntegrityError(
                    f"Failed to record tracking for {tracking.application_name} "
                    f"{tracking.notification_id}") from None
            raise
        return True

    def _tracking_query(self, conn: Connection[DictRow]) -> str | None:
        """The library's tracking insert, made to fail when it records nothing."""
        if self._tracking_sql is None:
            statement = tracking_statement(self)
            if statement is None:
                return None
            self._tracking_sql = SQL(
                # The cast applies to the CASE, not to the constant (which PostgreSQL
                # would fold, and fail on, whatever the count).
                "WITH moved AS ({}) SELECT (CASE WHEN count(*) = 0 THEN {} END)::int"
                " FROM moved"
            ).format(statement, Literal(STALE_TRACKING)).as_string(conn)
        return self._tracking_sql

    def _commit_pipelined(self, conn: Connection[DictRow],
                          statements: Sequence[Statement | Work], tracking: Tracking) -> None:
        """The batch in one pipelined transaction, its statements prepared and bound on the
        server: for a large batch (catching up), a step that reads what an earlier one wrote
        (a callable gets its own cursor), or a legacy tracking table."""
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
            insert_tracking(self, conn.cursor(), tracking)
            announcement = self._announcement(tracking)
            if announcement is not None:
                conn.cursor().execute(*announcement)

    def _announcement(self, tracking: Tracking) -> Statement | None:
        """The notification that tells other processes' waits this commit's position
        (delivered when, and only if, the transaction commits)."""
        if not self.announce or tracking.application_name != APP_NAME:
            return None
        return ("SELECT pg_catalog.pg_notify(%s, %s)",
                (VIEWS_CHANNEL, f"{self.tracking_table_name}:{tracking.notification_id}"))

    def _announce_now(self, tracking: Tracking) -> None:
        """Announce a position that changes no row before its tracking commits, as waiters
        in this process are released: every earlier row is committed, so the view already
        shows it. A failed announcement only leaves other processes' waits to the commit."""
        announcement = self._announcement(tracking)
        if announcement is None:
            return
        try:
            with self.datastore.get_connection() as conn:
                conn.execute(*announcement)
        except psycopg.Error as exc:
            log.debug("view announcement of %s failed: %s", tracking.notification_id, exc)

    def _heard(self) -> bool:
        """Whether this handle hears its view's commits announced right now."""
        return self._announcements is not None and self._announcements.listening

    def wait_for(self, position: int | None, timeout: float,
                 give_up: Callable[[], bool] | None = None) -> bool:
        """Block until the view has committed ``position``; False on timeout, or as soon
        as ``give_up()`` says so (the projection is stuck on an event).

        Wakes at once when this process's projection commits, and asks the database only
        after a short wait then (the projection may run in another process as well); a
        handle no runner feeds asks the database at once, then polls it, or, while it hears
        the view's commits announced, wakes when one is and asks again only now and then.
        """
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        heard = self._heard()
        poll = ANNOUNCED_POLL_SECONDS if heard else 0.003
        # Heard, the position is the last one announced (read afresh at each LISTEN): no
        # need to ask the database before the first wait.
        ask = not self._fed and not heard
        while True:
            if self._position >= position or (ask and self.has_tracking_id(APP_NAME, position)):
                return True
            ask = True
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
            # may run in another process), then back off; long ones while announced.
            if self._heard():
                poll = ANNOUNCED_POLL_SECONDS
            elif time.monotonic() > deadline - timeout + 0.1:
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


class ViewAnnouncements:
    """The positions that views' runners in another process commit, heard on one LISTEN
    connection, wake this process's waits on those views (handles registered with
    :meth:`hear`). While the connection is down the handles poll, as without it."""

    def __init__(self) -> None:
        self._handles: dict[str, list[ReadModelRecorder]] = {}
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up (announcements are being heard)."""
        return self._listening.is_set()

    def hear(self, handle: ReadModelRecorder) -> ReadModelRecorder:
        """Wake ``handle``'s waits when its view announces a commit (before ``start``)."""
        self._handles.setdefault(handle.tracking_table_name, []).append(handle)
        handle._announcements = self
        return handle

    def start(self, connection: Callable[[], contextlib.AbstractContextManager[Any]],
              ready_within: float = 10.0) -> None:
        """Listen on a connection from ``connection()``, in a thread; wait until it does."""
        self._thread = threading.Thread(target=self._listen, args=(connection,),
                                        name="view-announcements", daemon=True)
        self._thread.start()
        if not self._listening.wait(ready_within):
            log.warning("view announcements: not listening after %.0f s; waits poll",
                        ready_within)

    def stop(self) -> None:
        """Stop listening and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _listen(self, connection: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        while not self._stop.is_set():
            try:
                with connection() as conn:
                    conn.execute(SQL("LISTEN {}").format(Identifier(VIEWS_CHANNEL)))
                    # What committed before LISTEN took effect is read now; later commits
                    # are announced.
                    for handles in self._handles.values():
                        for handle in handles:
                            handle._publish(handle.max_tracking_id(APP_NAME) or 0)
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.1, stop_after=1):
                            self._announced(note.payload)
            except Exception as exc:
                self._listening.clear()
                if self._stop.is_set():
                    return
                log.error("view announcements lost their LISTEN connection: %s", exc)
                self._stop.wait(1.0)
        self._listening.clear()

    def _announced(self, payload: str) -> None:
        table, _, position = payload.rpartition(":")
        if not position.isdigit():
            log.warning("view announcements: ignored %r", payload[:100])
            return
        for handle in self._handles.get(table, ()):
            handle._publish(int(position))


def tracking_view(name: str, es_env: dict[str, str]) -> ReadModelRecorder:
    """A handle on projection ``name``'s tracking, for read-your-writes waits (wait_for)
    from a process that does not run that projection."""
    factory: Any = InfrastructureFactory.construct(env=Environment(name, es_env))
    recorder: ReadModelRecorder = factory.tracking_recorder(ReadModelRecorder)
    return recorder


def start_projection(
    projection: type[Projection[TView]], view: type[TView], es_env: dict[str, str],
    application: type[Application[Any]] | None = None,
) -> ProjectionRunner[Any, TView]:
    """A runner for ``projection`` over the event store (exactly once through its tracking);
    the caller enters and exits it."""
    return ProjectionRunner(application_class=application or DocMgmt,
                            projection_class=projection, view_class=view, env=es_env)
