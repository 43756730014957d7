"""Audit log entries: each query an auditor runs across the event store is itself an event.

Per-document audit reads go to that document's access log; a query across documents and
agencies has no document to hang on, so each one is recorded as its own small aggregate.
One aggregate per query keeps concurrent auditors from ever colliding on a version.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import Actor, require_text

MAX_QUERY_TEXT = 500


class AuditLog(Aggregate):
    """One recorded audit query: what was asked, how much it returned, and who asked."""

    class AuditQueryRecorded(Aggregate.Created):
        """An auditor queried the event store across documents."""

        kind: str
        query: dict[str, str]
        result_count: int
        actor: dict[str, str]

    @classmethod
    def record(
        cls, kind: str, query: dict[str, Any], result_count: int, actor: Actor
    ) -> AuditLog:
        """A new entry for one query; empty parameters are left out."""
        params = {str(k): str(v)[:MAX_QUERY_TEXT] for k, v in query.items()
                  if v is not None and v != ""}
        return cls(kind=require_text("kind", kind, max_len=100), query=params,
                   result_count=max(0, int(result_count)), actor=actor.as_payload())

    @event(AuditQueryRecorded)
    def __init__(
        self, kind: str, query: dict[str, str], result_count: int, actor: dict[str, str]
    ) -> None:
        self.kind = kind
        self.query = query
        self.result_count = result_count
        self.actor = actor
