"""Access log: who opened or downloaded which of a document's files.

Kept apart from the document so that reading never changes the document's version: a
download can never make someone else's edit stale, and many readers never collide with it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import Actor, require_text


def access_log_id(document_id: UUID) -> UUID:
    """The access log's id, derived from the document's."""
    return uuid5(document_id, "access-log")


class AccessLog(Aggregate):
    """Every view and download of one document's files."""

    class Opened(Aggregate.Created):
        """The log was started (with the document's first access)."""

        document_id: UUID

    class Viewed(Aggregate.Event):
        """Someone opened or downloaded a file of the document."""

        document_id: UUID
        revision: int
        sha256: str
        purpose: str
        actor: dict[str, Any]

    @staticmethod
    def create_id(document_id: UUID) -> UUID:
        """One log per document."""
        return access_log_id(document_id)

    @event(Opened)
    def __init__(self, document_id: UUID) -> None:
        self.document_id = document_id
        self.views = 0

    def record(self, revision: int, sha256: str, purpose: str, actor: Actor) -> None:
        """Record one view or download."""
        self._viewed(self.document_id, revision, sha256,
                     require_text("purpose", purpose, max_len=100), actor.as_payload())

    @event(Viewed)
    def _viewed(self, document_id: UUID, revision: int, sha256: str, purpose: str,
                actor: dict[str, Any]) -> None:
        self.views += 1
