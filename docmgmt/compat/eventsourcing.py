"""Named entry points to the eventsourcing internals docmgmt relies on (written for 9.5.6).

The library's recorders write a tracking row only through a private method, and its
process applications record a processed event only through one; the dispatch process and
the batched read model need both inside their own transactions.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

from docmgmt.compat.versions import require

DISTRIBUTION = "eventsourcing"
WRITTEN_FOR = "9.5.6"


def insert_tracking(recorder: PostgresTrackingRecorder, curs: Cursor[DictRow],
                    tracking: Tracking) -> None:
    """Insert ``tracking``'s row on ``curs`` (in the caller's transaction)."""
    recorder._insert_tracking(curs, tracking)


def record_processing(process: Any, processing: ProcessingEvent[Any]) -> None:
    """Record a processed event's new events with its tracking, as the library's process
    applications do (one transaction)."""
    process._record(processing)


def check_version() -> None:
    """Refuse unless eventsourcing is the version these entry points were written for."""
    require(DISTRIBUTION, WRITTEN_FOR)


def install() -> None:
    """Nothing to replace: only the version is checked."""
    check_version()
