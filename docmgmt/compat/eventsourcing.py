"""Named entry points to the eventsourcing internals docmgmt relies on (written for 9.5.6),
and the one override: the check of a pooled connection on checkout.

The library's recorders write a tracking row only through a private method, and its
process applications record a processed event only through one; the dispatch process and
the batched read model need both inside their own transactions. With ``POSTGRES_PRE_PING``
the library's pools ping the server before lending each connection (a round trip each, 7-10
per API write); ``install()`` replaces that ping with a look at the socket, which asks the
server only when the connection has something to read (a dead or restarted server's
backend leaves its goodbye or end-of-file there). A subscription filtered by topics (the
dispatch process, the webhook outbox) remembers only the last event it delivered, so each
wake-up read every event written since then (all of them, in a database where no event of
those topics has been written yet); ``install()`` makes it move past what it has read.
"""

from __future__ import annotations

import select
import time
from typing import Any

import psycopg
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import ListenNotifySubscription, ShutDown, Tracking
from eventsourcing.postgres import ConnectionPool, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import Composed

from docmgmt.compat.versions import require

DISTRIBUTION = "eventsourcing"
WRITTEN_FOR = "9.5.6"


def insert_tracking(recorder: PostgresTrackingRecorder, curs: Cursor[DictRow],
                    tracking: Tracking) -> None:
    """Insert ``tracking``'s row on ``curs`` (in the caller's transaction)."""
    recorder._insert_tracking(curs, tracking)


def tracking_statement(recorder: PostgresTrackingRecorder) -> Composed | None:
    """The library's statement that records a position in a single-row tracking table and
    returns a row only if the position moved forward; None for the legacy multi-row layout
    (whose insert returns no row). Its parameters: ``tracking_parameters``."""
    if not recorder.datastore.single_row_tracking:
        return None
    statement: Composed = recorder.insert_tracking_statement
    return statement


def tracking_parameters(tracking: Tracking) -> dict[str, Any]:
    """The parameters of ``tracking_statement`` for ``tracking``."""
    return {"application_name": tracking.application_name,
            "notification_id": tracking.notification_id}


def record_processing(process: Any, processing: ProcessingEvent[Any]) -> None:
    """Record a processed event's new events with its tracking, as the library's process
    applications do (one transaction)."""
    process._record(processing)


# The library's check, which its datastores give their pools when pre-ping is on.
ORIGINAL_CHECK_CONNECTION = ConnectionPool.check_connection


def check_connection(conn: psycopg.Connection[Any]) -> None:
    """Raise if a pooled ``conn`` cannot be used, as the library's ping would.

    An idle connection that is alive has nothing to read; one whose server went away has
    its termination message or end-of-file waiting. Only then is the server pinged (the
    ping raises on a dead connection and consumes a harmless notification otherwise).
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        ORIGINAL_CHECK_CONNECTION(conn)


ORIGINAL_PULL = ListenNotifySubscription._pull


def pull(subscription: Any) -> None:
    """Queue the subscription's new notifications, as the library's ``_pull`` does, but
    remember how far it read even when no event of its topics was there; a subscription
    given a pull delay first lets the events of that delay gather."""
    delay = getattr(subscription, "pull_delay", 0.0)
    if delay > 0:
        time.sleep(delay)
    topics = subscription._topics
    if not topics:
        ORIGINAL_PULL(subscription)
        return
    recorder = subscription._recorder
    limit = subscription._select_limit
    while not subscription._has_been_stopped:
        subscription._has_been_notified.clear()
        # Events commit in notification order (the insert function locks the table), so
        # every event up to the head read now is visible to the select that follows.
        head = recorder.max_notification_id()
        start = subscription._last_notification_id or 0
        if head is None or head <= start:
            break
        notifications = recorder.select_notifications(
            start=start, limit=limit, stop=head, topics=topics, inclusive_of_start=False)
        if notifications:
            try:
                subscription._notifications_queue.put(notifications)
            except ShutDown:
                break
        if len(notifications) < limit:
            subscription._last_notification_id = head
            break
        subscription._last_notification_id = notifications[-1].id


def delay_pulls(runner: Any, seconds: float) -> None:
    """Make ``runner``'s subscription wait ``seconds`` after each wake-up before it reads,
    so that events written meanwhile are read, and processed, together."""
    runner._subscription.subscription.pull_delay = seconds


def runner_parts(runner: Any) -> tuple[Any, Any]:
    """A projection runner's application subscription (the iterator that maps each
    notification to a domain event with its ``mapper``) and its projection."""
    return runner._subscription, runner._projection


def check_version() -> None:
    """Refuse unless eventsourcing is the version these entry points were written for."""
    require(DISTRIBUTION, WRITTEN_FOR)


def install() -> None:
    """Give the pools built from now on the socket check instead of the ping, and the
    subscriptions the pull that moves past other topics."""
    check_version()
    ConnectionPool.check_connection = staticmethod(check_connection)  # type: ignore[method-assign]
    ListenNotifySubscription._pull = pull  # type: ignore[method-assign,assignment]
