"""Ports the stages use: PDF inspection, upload spooling, the blob store, register locks."""


from __future__ import annotations

from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

# --- ports ------------------------------------------------------------------------------


class PdfFactsPort(Protocol):
    """What intake learns of an acceptable PDF."""

    @property
    def page_count(self) -> int:
        """Number of pages."""


class PdfInspector(Protocol):
    """Refuses anything that is not a signable PDF."""

    def inspect(self, path: Path) -> PdfFactsPort:
        """Return facts about the PDF or raise a RejectedFileError."""

    def check_structure(self, path: Path) -> PdfFactsPort:
        """Like inspect, but active content is allowed (it is reported, not refused)."""


class Spooled(Protocol):
    """An upload copied to local disk and hashed."""

    @property
    def path(self) -> Path:
        """Where the bytes are."""

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes."""

    @property
    def size(self) -> int:
        """Number of bytes."""


class Spooler(Protocol):
    """Copies an upload stream to disk, hashing it, within a size limit."""

    def __call__(self, stream: BinaryIO, *, max_size: int) -> ContextManager[Spooled]:
        """Spool; raise a too-large error past max_size; remove the copy on exit."""


class BlobStore(Protocol):
    """Content-addressed object storage."""

    def put_file(self, path: Path, sha256: str, size: int) -> str:
        """Store a file under its content key; return the key."""

    def open_verified(self, key: str, sha256: str) -> ContextManager[BinaryIO]:
        """Open a stored object whose bytes were checked against sha256."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under the key."""

    def delete(self, key: str) -> None:
        """Remove the object (a missing one is not an error): a failed step's own file."""


class RegisterLock(Protocol):
    """Serialises the issue of numbers per register, across threads and processes."""

    def hold(self, key: str) -> ContextManager[None]:
        """Hold the lock for the block."""
