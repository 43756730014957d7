"""The deadline scanner: queues "due soon" and "overdue" notices as time passes.

Each notice goes out once per document and deadline value: the deadlines table records the
deadline a notice was sent for, and the delivery's key is derived from the same value, so
an extension that moves the deadline re-arms both. Several processes may scan at once:
rows are claimed with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import Cursor
from psycopg.rows import DictRow, dict_row

from docmgmt.domain.calendar import DeadlineStatus, deadline_status
from docmgmt.domain.webhook import WebhookKind
from docmgmt.webhooks.outbox import (
    DocumentFacts,
    build_payload,
    derived_event_id,
    enqueue,
)

log = logging.getLogger("docmgmt.webhooks")

DEFAULT_DUE_SOON = timedelta(hours=24)

SELECT_DUE = (
    "SELECT d.deadline, d.due_soon_sent_for, d.overdue_sent_for, doc.*"
    " FROM docmgmt.webhook_deadlines d"
    " JOIN docmgmt.webhook_documents doc ON doc.id = d.document_id"
    " WHERE d.active AND ("
    "  (d.due_soon_sent_for IS DISTINCT FROM d.deadline AND d.deadline <= %(horizon)s)"
    "  OR (d.overdue_sent_for IS DISTINCT FROM d.deadline AND d.deadline < %(now)s))"
    " ORDER BY d.deadline LIMIT %(batch)s FOR UPDATE OF d SKIP LOCKED"
)


def utc_now() -> datetime:
    """The wall clock, timezone-aware."""
    return datetime.now(UTC)


class DeadlineScanner:
    """Periodically queues due-soon and overdue notices (the clock is injectable)."""

    def __init__(self, conninfo: str, *, due_soon: timedelta = DEFAULT_DUE_SOON,
                 clock: Callable[[], datetime] = utc_now, every_seconds: float = 60.0,
                 batch: int = 500) -> None:
        if due_soon < timedelta(0):
            raise ValueError("the due-soon window must not be negative")
        self._conninfo = conninfo
        self.due_soon = due_soon
        self._clock = clock
        self._every = every_seconds
        self._batch = batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-deadlines",
                                        daemon=True)

    def scan_once(self) -> int:
        """Queue every notice due at the clock's now; the number of deliveries queued."""
        now = self._clock()
        queued = 0
        with psycopg.connect(self._conninfo, row_factory=dict_row) as conn:
            while True:
                with conn.transaction(), conn.cursor() as curs:
                    curs.execute(SELECT_DUE, {"now": now, "horizon": now + self.due_soon,
                                              "batch": self._batch})
                    rows = curs.fetchall()
                    for row in rows:
                        queued += self._handle(curs, row, now)
                if len(rows) < self._batch:
                    return queued

    def _handle(self, curs: Cursor[DictRow], row: DictRow, now: datetime) -> int:
        deadline: datetime = row["deadline"]
        status = deadline_status(deadline, now, self.due_soon)
        kind: WebhookKind | None = None
        if status is DeadlineStatus.OVERDUE:
            # Past the deadline a "due soon" notice would only be noise: mark both sent.
            if row["overdue_sent_for"] != deadline:
                kind = WebhookKind.OVERDUE
            curs.execute(
                "UPDATE docmgmt.webhook_deadlines SET overdue_sent_for = deadline,"
                " due_soon_sent_for = deadline WHERE document_id = %s", (row["id"],))
        elif status is DeadlineStatus.DUE_SOON:
            if row["due_soon_sent_for"] != deadline:
                kind = WebhookKind.DUE_SOON
            curs.execute(
                "UPDATE docmgmt.webhook_deadlines SET due_soon_sent_for = deadline"
                " WHERE document_id = %s", (row["id"],))
        if kind is None:
            return 0
        document = DocumentFacts.from_row(row)
        event_id = derived_event_id(document.id, kind.value, deadline)
        payload = build_payload(event_id=event_id, kind=kind, agency_id=document.agency_id,
                                document=document, deadline=deadline, occurred_at=now)
        return enqueue(curs, agency_id=document.agency_id, kind=kind, event_id=event_id,
                       document_id=document.id, payload=payload)

    def start(self) -> None:
        """Scan in a background thread until stopped."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except Exception as exc:
                log.error("webhook deadline scan failed: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self._every)

    def stop(self) -> None:
        """Stop scanning (waits for a scan in progress)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
