"""What a failing projection reports: which one, at which event, with which error.

A projection that fails on an event stops AT that event: it is retried with a growing
pause (up to ``MAX_BACKOFF`` seconds), never skipped, because a view that silently misses
one event (a document's draft, say) goes wrong for every later event of that document.
While it fails, health names it with the event's position and the error, read-your-writes
waits stop waiting for it, and every other projection and every request carry on. Once the
cause is fixed (a new release, a database back), the next retry gets past the event and
the report clears by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from docmgmt.kernel.store import APP_NAME

MAX_BACKOFF = 60.0
EVENTS_TABLE = "docmgmt.docmgmt_events"
# Absolute paths (a server's file layout) never reach a health report.
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.@+-]+){2,}[/\\]?")
MAX_MESSAGE = 300


@dataclass(frozen=True)
class ProjectionFailure:
    """A projection that cannot get past one event."""

    projection: str
    position: int | None
    error: str
    attempts: int

    def as_json(self) -> dict[str, Any]:
        """The report as /health shows it."""
        return {"projection": self.projection, "position": self.position,
                "error": self.error, "attempts": self.attempts}


def describe(exc: BaseException) -> str:
    """``Class: message``, without server paths, bounded in length."""
    message = _PATH.sub("<path>", str(exc)).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:MAX_MESSAGE]


def _upstream(runner: Any) -> str:
    return str(getattr(runner, "app_name", APP_NAME))


def tracking_recorder(runner: Any) -> Any:
    """The tracking recorder of a projection runner (a view, or a process's recorder)."""
    view = getattr(runner, "view", None)
    if view is not None:
        return view
    return getattr(getattr(runner, "projection", None), "recorder", None)


def failing_position(runner: Any) -> int | None:
    """The position of the event the runner failed on, when it can be told.

    Exact when the failed commit held one event; otherwise the first event after the
    committed position that the projection follows (exact for a handler's own error,
    and for any error once events are committed one at a time)."""
    recorder = tracking_recorder(runner)
    if recorder is None:
        return None
    batch = getattr(recorder, "failed_batch", None)
    if batch is not None and batch[0] == batch[1]:
        return int(batch[0])
    try:
        committed = recorder.max_tracking_id(_upstream(runner)) or 0
        topics = list(getattr(getattr(runner, "projection", None), "topics", ()) or ())
        query = f"SELECT min(notification_id) AS p FROM {EVENTS_TABLE} WHERE notification_id > %s"  # noqa: S608
        params: list[Any] = [committed]
        if topics:
            query += " AND topic = ANY(%s)"
            params.append(topics)
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(query, params)
            row = curs.fetchone()
        return None if row is None or row["p"] is None else int(row["p"])
    except Exception:  # the database may be the very thing that failed
        return None


def head_position(runner: Any) -> int:
    """The newest event's position (0 when it cannot be read)."""
    recorder = tracking_recorder(runner)
    try:
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT max(notification_id) AS p FROM {EVENTS_TABLE}")  # noqa: S608
            row = curs.fetchone()
        return int(row["p"] or 0) if row is not None else 0
    except Exception:
        return 0


def committed_position(runner: Any) -> int | None:
    """The runner's committed tracking position, None if it cannot be read."""
    recorder = tracking_recorder(runner)
    try:
        position = recorder.max_tracking_id(_upstream(runner))
    except Exception:
        return None
    return int(position or 0)
