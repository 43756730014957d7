"""Files a step stores before its event, removed in the same request when the event is not
saved (a lost race, a refused step), so that a loser leaves no orphan behind.

Files are content-addressed, so the bytes a loser stored may be the very bytes another
request names. A file is removed only when all of these hold:

- it did not exist before this step stored it (older bytes belong to someone else);
- no other request is storing the same bytes right now: every step holds a shared claim
  on the digest from before it stores the file until its event is saved or refused, and
  removal waits for the exclusive claim (identical bytes do happen: ten windows signing
  the same PDF with the same key in the same second produce them);
- no event recorded since this step stored the file names its digest (events recorded
  before then cannot name bytes that did not exist yet).

Whatever cannot be removed (a claim held elsewhere, an S3 Object Lock refusing the delete)
is logged and left to ``docmgmt storage gc``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import psycopg

from docmgmt.kernel.store import DocMgmt
from storage.base import content_key

if TYPE_CHECKING:  # the port lives with the service that stores files
    from docmgmt.kernel.ports import BlobStore

log = logging.getLogger("docmgmt.storage")

PAGE = 500


class ClaimSession(Protocol):
    """Shared claims on digests, held until the session ends."""

    def share(self, sha256: str) -> None:
        """Hold a shared claim on these bytes until the session ends."""


class BlobClaims(Protocol):
    """Claims that keep a file from being removed while a request is storing it."""

    def session(self) -> contextlib.AbstractContextManager[ClaimSession]:
        """A session whose shared claims all end with it."""

    def exclusive(self, sha256: str) -> contextlib.AbstractContextManager[bool]:
        """Wait (bounded) for the exclusive claim; True if it is held for the block."""


class _PostgresSession:
    """Connects on the first claim, so a step that stores nothing costs nothing."""

    def __init__(self, conninfo: str, timeout_ms: int) -> None:
        self._conninfo = conninfo
        self._timeout_ms = timeout_ms
        self.conn: psycopg.Connection[tuple[object, ...]] | None = None

    def share(self, sha256: str) -> None:
        if self.conn is None:
            self.conn = psycopg.connect(self._conninfo, autocommit=True)
            self.conn.execute(f"SET lock_timeout = {self._timeout_ms}")
        self.conn.execute("SELECT pg_advisory_lock_shared(hashtextextended(%s, 0))",
                          ("blob:" + sha256,))


class PostgresBlobClaims:
    """Claims as PostgreSQL advisory locks, each session on its own connection (never a
    pooled one, which the step needs in order to save)."""

    def __init__(self, conninfo: str, timeout_seconds: float = 30.0) -> None:
        self._conninfo = conninfo
        self._timeout_ms = int(timeout_seconds * 1000)

    @contextlib.contextmanager
    def session(self) -> Iterator[ClaimSession]:
        """A session whose shared claims all end with it (its connection closes)."""
        session = _PostgresSession(self._conninfo, self._timeout_ms)
        try:
            yield session
        finally:
            if session.conn is not None:
                session.conn.close()

    @contextlib.contextmanager
    def exclusive(self, sha256: str) -> Iterator[bool]:
        """Wait, at most the lock timeout, for the exclusive claim; True if it is held."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f"SET lock_timeout = {self._timeout_ms}")
            try:
                conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))",
                             ("blob:" + sha256,))
            except psycopg.errors.LockNotAvailable:
                yield False
                return
            yield True


@dataclass(frozen=True)
class StoredBlob:
    """A file this step created, and the log position before it existed."""

    key: str
    sha256: str
    log_head: int


class NewBlobs:
    """Stores a step's files under shared claims, noting the ones it created."""

    def __init__(self, app: DocMgmt, blobs: BlobStore, session: ClaimSession) -> None:
        self._app = app
        self._blobs = blobs
        self._session = session
        self.created: list[StoredBlob] = []

    def put_file(self, path: Path, sha256: str, size: int) -> str:
        """Store the file; remembered for removal when it is new and the step fails."""
        self._session.share(sha256)
        # Read before looking at the store: an event naming these bytes that is recorded
        # after this point has a higher position, so the check after a failure sees it.
        head = self._app.recorder.max_notification_id() or 0
        existed = self._blobs.exists(content_key(sha256))
        key = self._blobs.put_file(path, sha256, size)
        if not existed:
            self.created.append(StoredBlob(key, sha256, head))
        return key


@contextlib.contextmanager
def removed_unless_saved(app: DocMgmt, blobs: BlobStore,
                         claims: BlobClaims) -> Iterator[NewBlobs]:
    """Store files through the yielded NewBlobs; if the block raises (a lost race, a
    refusal), the files it created that no event names are removed again."""
    new: NewBlobs | None = None
    try:
        with claims.session() as session:
            new = NewBlobs(app, blobs, session)
            yield new
    except BaseException:
        # The shared claims are released by now, so the exclusive one can be had.
        if new is not None and new.created:
            remove_unnamed(app, blobs, claims, new.created)
        raise


def remove_unnamed(app: DocMgmt, blobs: BlobStore, claims: BlobClaims,
                   created: list[StoredBlob]) -> int:
    """Remove the files no event names and nobody else is storing; how many were removed."""
    removed = 0
    for blob in created:
        try:
            with claims.exclusive(blob.sha256) as mine:
                if not mine:
                    log.warning("kept %s: another request held its bytes too long; left for"
                                " storage gc", blob.key)
                    continue
                if named_since(app, blob.log_head, blob.sha256):
                    continue
                blobs.delete(blob.key)
                removed += 1
        except Exception as exc:
            # An S3 Object Lock may refuse the delete: the file stays for gc.
            log.warning("could not remove %s after a failed step (%s); left for storage gc",
                        blob.key, type(exc).__name__)
    return removed


def named_since(app: DocMgmt, head: int, sha256: str) -> bool:
    """Whether an event recorded after log position ``head`` mentions the digest."""
    start = head + 1
    while True:
        batch = app.recorder.select_notifications(start, PAGE)
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            if sha256 in repr(vars(event)):
                return True
        if len(batch) < PAGE:
            return False
        start = batch[-1].id + 1
