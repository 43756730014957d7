"""One reader of the event log for the projections of a process.

Left to the library, each projection runner listens on its own connection and reads every
new event itself: six runners woke, queried and decoded the log six times over for each
event. The runners started by ``docmgmt.bootstrap`` subscribe here instead: one LISTEN
connection, one thread that reads each new stretch of the log once and hands every member
the events it has not seen yet (those of its topics, if it names any).

A member may also name the events its projection handles (``pass_unhandled``): it is then
handed only those, and where a stretch ends with events it does not handle, one ``Passed``
marker in their place, so that its tracking, and every answer waiting on it, moves on
without the runner decoding events it would only step over.

Each member keeps its own position, so runners stay independent. The members at the head
share one read of what is new; one that is behind (it joined at an older tracking
position, or took so long that its queue filled) gets reads of its own until it is back at
the head, so a slow or rebuilding projection never holds back the views answers wait for.
Events commit in notification order (the insert function locks the table), so reading up
to the head never passes a gap that fills in later. If the reader fails (the database went
away), every member is stopped with that error; their supervisors restart the runners,
which join again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    Notification,
    Subscription,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment, get_topic, resolve_topic
from psycopg.sql import SQL, Identifier

from docmgmt.compat.eventsourcing import runner_parts
from docmgmt.kernel.store import APP_NAME

log = logging.getLogger("docmgmt")

# Events read per query; a member holds at most this many unread batches (beyond them it is
# left behind, and catches up on reads of its own).
SELECT_LIMIT = 500
MAX_BATCHES = 10
# A read that loses its connection is tried this many times, this long apart (as the
# library's reads are).
READ_ATTEMPTS = 10
READ_RETRY_SECONDS = 0.2
LAST_ID = 2**63 - 1
# The LISTEN loop looks at its stop flag this often when no notification comes.
LISTEN_TIMEOUT = 0.1
# The environment key that makes a runner's application subscribe through the shared log.
RECORDER_TOPIC = "APPLICATION_RECORDER_TOPIC"

Key = tuple[Any, ...]


def log_key(recorder: PostgresApplicationRecorder) -> Key:
    """Which log ``recorder`` reads: the database, the schema and the events table."""
    pool = recorder.datastore.pool
    kwargs: dict[str, Any] = pool.kwargs if isinstance(pool.kwargs, dict) else {}
    return (pool.conninfo, kwargs.get("host"), str(kwargs.get("port")), kwargs.get("dbname"),
            kwargs.get("user"), recorder.datastore.schema, recorder.events_table_name)


@dataclass(frozen=True)
class Passed:
    """Handed to a projection in place of events it does not handle: it has passed them
    (the notification id is the tracking position). Projections register no handler for
    it, so their default handler records the position and nothing else."""

    originator_id: UUID | str
    originator_version: int


PASSED_TOPIC = get_topic(Passed)


def handled_by(projection: Any) -> Callable[[str], bool]:
    """Whether ``projection`` handles events of a topic: its ``process_event`` dispatches
    their class (or a base of it) to a handler other than the default one. A topic that
    does not resolve counts as handled: the runner then fails on it as it would have."""
    descriptor = next(klass.__dict__["process_event"] for klass in type(projection).__mro__
                      if "process_event" in klass.__dict__)
    projection.process_event  # noqa: B018 (applies registrations deferred to first use)
    dispatcher = descriptor.dispatcher
    default = dispatcher.registry[object]

    def handles(topic: str) -> bool:
        try:
            cls = resolve_topic(topic)
        except Exception:
            return True
        return dispatcher.dispatch(cls) is not default

    return handles


class _PassingMapper:
    """A runner's mapper that turns ``Passed`` markers into ``Passed`` events and leaves
    every other notification to the application's mapper."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper

    def to_domain_event(self, notification: Notification) -> Any:
        if notification.topic == PASSED_TOPIC:
            return Passed(notification.originator_id, notification.originator_version)
        return self.mapper.to_domain_event(notification)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.mapper, name)


def pass_unhandled(runner: Any) -> None:
    """Hand ``runner``'s projection only the events it handles, and ``Passed`` markers for
    the rest, if it reads through a shared log (else it reads every event, as before).

    Only for projections whose default handler records the tracking position alone.
    """
    subscription, projection = runner_parts(runner)
    member = subscription.subscription
    if not isinstance(member, SharedSubscription):
        return
    subscription.mapper = _PassingMapper(subscription.mapper)
    member.handles = handled_by(projection)  # after the mapper: markers need it


class SharedSubscription(Subscription[ApplicationRecorder]):
    """A member of the shared log: yields the events the reader hands it, in order."""

    # Above zero: once an event is there, wait this long so that the events written
    # meanwhile are taken (and processed) together (``compat.eventsourcing.delay_pulls``).
    pull_delay = 0.0

    def __init__(self, shared: SharedLog, recorder: ApplicationRecorder, gt: int | None,
                 topics: Sequence[str]) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self.shared = shared
        # How far the reader has read for this member (written by the reader thread only).
        self.position = gt or 0
        self.wanted = frozenset(topics)
        self._ready = threading.Condition()
        self._batches: deque[Sequence[Notification]] = deque()
        self._current: Sequence[Notification] = ()
        self._index = 0
        self._stopped = False
        self._error: BaseException | None = None
        # Set when the reader passed this member by for a full queue: taking its batches
        # then wakes the reader.
        self.behind = False
        # Which topics the projection handles (None: all); set by ``pass_unhandled``.
        self.handles: Callable[[str], bool] | None = None
        self._handled: dict[str, bool] = {}  # the reader thread's answers, by topic

    def takes(self, batch: Sequence[Notification]) -> list[Notification]:
        """What of ``batch`` this member is handed: the events after its position, of its
        topics; without those its projection does not handle, and a ``Passed`` marker for
        the last one if the stretch ends with them. Called by the reader thread only."""
        fresh = [n for n in batch if n.id > self.position
                 and (not self.wanted or n.topic in self.wanted)]
        handles = self.handles
        if handles is None or not fresh:
            return fresh
        handled = self._handled
        mine = []
        for n in fresh:
            known = handled.get(n.topic)
            if known is None:
                known = handled[n.topic] = handles(n.topic)
            if known:
                mine.append(n)
        last = fresh[-1]
        if not mine or mine[-1] is not last:
            mine.append(Notification(id=last.id, originator_id=last.originator_id,
                                     originator_version=last.originator_version,
                                     topic=PASSED_TOPIC, state=b""))
        return mine

    def offer(self, notifications: Sequence[Notification]) -> bool:
        """Queue a batch, unless the member holds ``MAX_BATCHES`` unread already (the reader
        never waits for a member: one left behind catches up on reads of its own)."""
        with self._ready:
            if self._stopped:
                return True
            if len(self._batches) >= MAX_BATCHES:
                self.behind = True
                return False
            self._batches.append(notifications)
            self._ready.notify_all()
            return True

    @property
    def has_room(self) -> bool:
        """Whether the member would take another batch now."""
        with self._ready:
            if len(self._batches) < MAX_BATCHES:
                return True
            self.behind = True
            return False

    def fail(self, error: BaseException) -> None:
        """Stop with ``error``: the runner's loop raises it."""
        self._error = error
        self.stop()

    def stop(self) -> None:
        """Stop yielding and leave the shared log."""
        super().stop()
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        self.shared.leave(self)

    def __next__(self) -> Notification:
        while self._index == len(self._current):
            with self._ready:
                while not self._batches and not self._stopped:
                    self._ready.wait()
                if self._stopped:
                    if self._error is not None:
                        raise self._error
                    raise StopIteration
            if self.pull_delay > 0:
                time.sleep(self.pull_delay)
            with self._ready:
                if self._stopped or not self._batches:  # stopped meanwhile: raise above
                    continue
                self._current = [n for batch in self._batches for n in batch]
                self._batches.clear()
                self._index = 0
                wake, self.behind = self.behind, False
            if wake:
                self.shared.wake()
        notification = self._current[self._index]
        self._index += 1
        return notification


class SharedLog:
    """The process's one LISTEN connection and one reader of the event log, for members
    that join it (see the module's description). Opened with ``shared_log``."""

    _open: ClassVar[dict[Key, SharedLog]] = {}
    _registry_lock = threading.Lock()

    def __init__(self, es_env: dict[str, str]) -> None:
        factory: Any = InfrastructureFactory.construct(
            env=Environment(APP_NAME, {**es_env, "POSTGRES_POOL_SIZE": "2",
                                       "POSTGRES_MAX_OVERFLOW": "2"}))
        recorder = factory.application_recorder()
        if not isinstance(recorder, PostgresApplicationRecorder):
            raise TypeError("the shared log reads a PostgreSQL event store")
        self.recorder: PostgresApplicationRecorder = recorder
        # The reader's own connection (opened on its first read) and query.
        pool = recorder.datastore.pool
        pool_kwargs = pool.kwargs() if callable(pool.kwargs) else dict(pool.kwargs or {})
        pool_kwargs.pop("row_factory", None)
        self._connect_kwargs = {"conninfo": pool.conninfo, **pool_kwargs, "autocommit": True}
        self._conn: psycopg.Connection[Any] | None = None
        self._select_sql = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {}.{} WHERE notification_id > %s AND notification_id <= %s"
            " ORDER BY notification_id LIMIT %s"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        self.key = log_key(recorder)
        self._factory = factory
        self._members: list[SharedSubscription] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.reads = 0
        # How many openers hold it (several apps of one process may serve one database).
        self.holders = 0
        self._threads = [
            threading.Thread(target=self._listen, name="shared-log-listen", daemon=True),
            threading.Thread(target=self._read_loop, name="shared-log-reader", daemon=True),
        ]

    @classmethod
    def serving(cls, recorder: PostgresApplicationRecorder) -> SharedLog | None:
        """The open shared log over ``recorder``'s events, if there is one."""
        with cls._registry_lock:
            return cls._open.get(log_key(recorder))

    def _start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _close(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._fail_members(RuntimeError("the shared event log was closed"))
        self._drop_connection()
        self._factory.close()

    @property
    def members(self) -> int:
        """How many subscriptions read through this log now."""
        with self._lock:
            return len(self._members)

    def subscribe(self, recorder: ApplicationRecorder, gt: int | None,
                  topics: Sequence[str]) -> SharedSubscription:
        """A new member that gets every event after ``gt`` (of ``topics``, if any)."""
        member = SharedSubscription(self, recorder, gt, topics)
        with self._lock:
            if self._stop.is_set():
                raise RuntimeError("the shared event log is closed")
            self._members.append(member)
        self._wake.set()
        return member

    def leave(self, member: SharedSubscription) -> None:
        """Forget ``member`` (it stopped)."""
        with self._lock, contextlib.suppress(ValueError):
            self._members.remove(member)

    def _fail_members(self, error: BaseException) -> None:
        with self._lock:
            members = list(self._members)
        for member in members:
            member.fail(error)

    def _listen(self) -> None:
        channel = Identifier(self.recorder.channel_name)
        while not self._stop.is_set():
            try:
                with self.recorder.datastore.get_connection() as conn:
                    conn.execute(SQL("LISTEN {0}").format(channel))
                    # Events committed before LISTEN took effect are read now.
                    self._wake.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_TIMEOUT, stop_after=1):
                            self._wake.set()
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.error("the shared event log lost its LISTEN connection: %s", exc)
                self._fail_members(exc)
                self._stop.wait(1.0)

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                while self._read_once():
                    pass
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.error("the shared event log could not read the events: %s", exc)
                self._fail_members(exc)

    def wake(self) -> None:
        """Have the reader look for events (a member left behind has room again)."""
        self._wake.set()

    def _read_once(self) -> bool:
        """Read the next stretch for the members; whether to read again at once.

        The members at the highest position (the front) share one read of what is new.
        Each member behind it (one that joined late, or whose queue was full) gets a read of
        its own up to where the front was, so that a slow or rebuilding projection never
        holds back the views the answers wait for.
        """
        with self._lock:
            members = list(self._members)
        if not members or self._stop.is_set():
            return False
        top = max(member.position for member in members)
        front = [member for member in members if member.position == top]
        behind = [member for member in members if member.position < top]
        again = False
        batch = self._select(top)
        if batch:
            upto = batch[-1].id
            moved = [self._hand(member, batch, upto) for member in front]
            # Read on only if someone took this stretch: a front whose queues are all full
            # would only read the same stretch again (each wakes the reader when it reads).
            again = len(batch) == SELECT_LIMIT and any(moved)
        for member in behind:
            if not member.has_room:
                continue  # it wakes the reader when it takes its batches
            stretch = self._select(member.position, stop=top)
            upto = stretch[-1].id if len(stretch) == SELECT_LIMIT else top
            again = self._hand(member, stretch, upto) or again
        return again

    def _select(self, after: int, stop: int | None = None) -> Sequence[Notification]:
        """The events after ``after`` (up to ``stop``), at most ``SELECT_LIMIT``: what the
        library's ``select_notifications`` returns, read on the reader's own connection
        with one prepared statement (a third of the library's client CPU, which takes a
        pooled connection and composes the query on every read). A lost connection is
        opened again and the read retried, as the library retries its own."""
        self.reads += 1
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(**self._connect_kwargs)
                rows = self._conn.execute(
                    self._select_sql, (after, LAST_ID if stop is None else stop, SELECT_LIMIT),
                    prepare=True).fetchall()
            except (psycopg.OperationalError, psycopg.InterfaceError):
                self._drop_connection()
                if attempt == READ_ATTEMPTS or self._stop.is_set():
                    raise
                self._stop.wait(READ_RETRY_SECONDS)
                continue
            return [Notification(id=row[0], originator_id=row[1], originator_version=row[2],
                                 topic=row[3], state=bytes(row[4])) for row in rows]
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    @staticmethod
    def _hand(member: SharedSubscription, batch: Sequence[Notification], upto: int) -> bool:
        """Give ``member`` its events of ``batch`` and move it to ``upto``; whether it
        moved (not if its queue is full: it stays where it was)."""
        mine = member.takes(batch)
        if mine and not member.offer(mine):
            return False
        member.position = max(member.position, upto)
        return True


class SharedLogRecorder(PostgresApplicationRecorder):
    """The events recorder of a runner that subscribes through the process's shared log
    (where one is open; else as the library does)."""

    def subscribe(self, gt: int | None = None,
                  topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        shared = SharedLog.serving(self)
        if shared is None:
            return super().subscribe(gt=gt, topics=topics)
        return shared.subscribe(self, gt, topics)


def through_shared_log(es_env: dict[str, str]) -> dict[str, str]:
    """``es_env`` for a runner whose application subscribes through the shared log."""
    return {**es_env, RECORDER_TOPIC: get_topic(SharedLogRecorder)}


@contextlib.contextmanager
def shared_log(es_env: dict[str, str]) -> Iterator[SharedLog]:
    """The process's shared log over the events ``es_env`` names, open for the duration
    (opened by the first holder, closed when the last one leaves)."""
    created = SharedLog(es_env)
    with SharedLog._registry_lock:
        opened = SharedLog._open.setdefault(created.key, created)
        opened.holders += 1
    if opened is created:
        opened._start()
    else:
        created._factory.close()
    try:
        yield opened
    finally:
        with SharedLog._registry_lock:
            opened.holders -= 1
            last = opened.holders == 0
            if last:
                del SharedLog._open[opened.key]
        if last:
            opened._close()
