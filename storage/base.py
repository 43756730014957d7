"""The BlobStore port: content-addressed storage of uploaded files, and its errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class StorageError(Exception):
    """A blob could not be stored or read."""

    code: str = "storage_error"


class BlobNotFoundError(StorageError):
    """No blob is stored under the requested key."""

    code = "blob_not_found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob is stored under {key!r}")
        self.key = key


class BlobCorruptedError(StorageError):
    """The stored bytes do not hash to the expected SHA-256."""

    code = "blob_corrupted"

    def __init__(self, key: str, expected: str, actual: str) -> None:
        super().__init__(f"blob {key!r} has SHA-256 {actual}, expected {expected}")
        self.key = key
        self.expected = expected
        self.actual = actual


class StorageUnavailableError(StorageError):
    """The storage backend cannot be reached or used."""

    code = "storage_unavailable"


class BlobTooLargeError(StorageError):
    """An upload is larger than the configured limit."""

    code = "file_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit} bytes")
        self.limit = limit


class BlobRetainedError(StorageError):
    """A blob is under an Object Lock retention that forbids deleting it yet."""

    code = "blob_retained"

    def __init__(self, key: str, mode: str | None, retain_until: datetime | None) -> None:
        until = retain_until.isoformat() if retain_until else "an unknown date"
        super().__init__(
            f"blob {key!r} is under {mode or 'an'} Object Lock retention until {until}; "
            "COMPLIANCE retention cannot be bypassed by anyone, so it stays until then"
        )
        self.key = key
        self.mode = mode
        self.retain_until = retain_until


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob as listed by the backend."""

    key: str
    size: int
    last_modified: datetime


def validate_sha256(sha256_hex: str) -> str:
    """Return the digest unchanged if it is 64 lowercase hex characters, else raise ValueError."""
    if not _SHA256_HEX.fullmatch(sha256_hex):
        raise ValueError(f"not a lowercase hex SHA-256 digest: {sha256_hex!r}")
    return sha256_hex


def content_key(sha256_hex: str) -> str:
    """Return the object key for content with this SHA-256, fanned out by its first bytes."""
    h = validate_sha256(sha256_hex)
    return f"sha256/{h[:2]}/{h[2:4]}/{h}"


class BlobStore(Protocol):
    """Content-addressed storage of files, keyed by their SHA-256."""

    name: str

    def put_file(self, path: Path, sha256: str, size: int) -> str:
        """Store the file under content_key(sha256), streaming; idempotent; return the key."""
        ...

    def open_verified(self, key: str, sha256: str) -> AbstractContextManager[BinaryIO]:
        """Yield the blob's bytes, at offset 0, after checking they hash to sha256."""
        ...

    def exists(self, key: str) -> bool:
        """Tell whether a blob is stored under the key."""
        ...

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """List every stored blob, for garbage collection of orphans."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob (a no-op if it is absent); only orphan GC calls this."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailableError unless the backend can be used."""
        ...
