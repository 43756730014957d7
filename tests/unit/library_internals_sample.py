"""A class that overrides and calls a private member of eventsourcing (for the scan's test)."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresTrackingRecorder


class Tracking(PostgresTrackingRecorder):
    """Overrides a private hook of the library's recorder."""

    def _insert_tracking(self, curs: Any, tracking: Any) -> None:
        super()._insert_tracking(curs, tracking)
