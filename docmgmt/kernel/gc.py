"""Orphan collection: stored objects that no recorded event names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.kernel.ports import BlobStore
from docmgmt.kernel.store import DocMgmt


class BlobInfoPort(Protocol):
    """A stored object as listed by the store."""

    @property
    def key(self) -> str:
        """Object key."""

    @property
    def size(self) -> int:
        """Bytes."""

    @property
    def last_modified(self) -> datetime:
        """When it was written."""


class ListableBlobStore(BlobStore, Protocol):
    """A blob store that can list and delete (for collection only)."""

    def iter_blobs(self) -> Iterator[BlobInfoPort]:
        """Every stored object."""

    def delete(self, key: str) -> None:
        """Remove an object."""


FILE_EVENTS = (
    OutgoingDocument.Drafted,
    OutgoingDocument.RevisionUploaded,
    OutgoingDocument.Signed,
    OutgoingDocument.Numbered,
    OutgoingDocument.Sealed,
    OutgoingDocument.AppendixAttached,
    OutgoingDocument.SignatureRequested,
)


def referenced_keys(app: DocMgmt, page: int = 1000) -> set[str]:
    """Every object key named by a stored event (read from the event store itself)."""
    topics = [f"{cls.__module__}:{cls.__qualname__}" for cls in FILE_EVENTS]
    keys: set[str] = set()
    start = 1
    while True:
        batch = app.recorder.select_notifications(start, page, topics=topics)
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            files = [getattr(event, "file", None) or event.prepared,  # type: ignore[attr-defined]
                     *getattr(event, "appendices", [])]
            keys.update(str(f["key"]) for f in files)
        if len(batch) < page:
            return keys
        start = batch[-1].id + 1


@dataclass(frozen=True)
class Orphan:
    """An object no event names."""

    key: str
    size: int
    last_modified: datetime


def find_orphans(
    app: DocMgmt, store: ListableBlobStore, min_age: timedelta, now: datetime | None = None
) -> list[Orphan]:
    """Objects older than min_age that no event names (younger ones may be in flight)."""
    cutoff = (now or datetime.now(UTC)) - min_age
    keys = referenced_keys(app)
    return [
        Orphan(b.key, b.size, b.last_modified)
        for b in store.iter_blobs()
        if b.key not in keys and b.last_modified <= cutoff
    ]
