"""Spooling of streams to temporary files while hashing them, with a size limit."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from storage.base import BlobCorruptedError, BlobTooLargeError

CHUNK_SIZE = 1024 * 1024
"""Bytes read per step when copying a stream."""

VERIFIED_SPOOL_MAX_MEMORY = 8 * 1024 * 1024
"""Verified reads stay in memory up to this size, then roll over to a temporary file."""


class ReadableStream(Protocol):
    """Anything with a blocking read(size): BinaryIO, an UploadFile's file, a RawIOBase."""

    def read(self, size: int = -1, /) -> bytes | None:
        """Return up to size bytes; b"" at the end of the stream."""
        ...


@dataclass(frozen=True)
class SpooledUpload:
    """An upload copied to a local temporary file, with its SHA-256 and size."""

    path: Path
    sha256: str
    size: int


def spool_upload(
    stream: ReadableStream, *, max_size: int, directory: Path | None = None
) -> SpooledUpload:
    """Copy the stream to a temporary file, hashing it; raise BlobTooLargeError past max_size."""
    if max_size < 0:
        raise ValueError("max_size must not be negative")
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(
        mode="wb", prefix="upload-", suffix=".part", dir=directory, delete=False
    ) as out:
        path = Path(out.name)
        try:
            while True:
                # Ask for one byte more than the limit allows, so an oversized stream is
                # detected without reading (or buffering) anything beyond that byte.
                chunk = stream.read(min(CHUNK_SIZE, max_size + 1 - size))
                if chunk is None:
                    raise ValueError("non-blocking streams cannot be spooled")
                if not chunk:
                    break
                size += len(chunk)
                if size > max_size:
                    raise BlobTooLargeError(max_size)
                digest.update(chunk)
                out.write(chunk)
        except BaseException:
            out.close()
            path.unlink(missing_ok=True)
            raise
    return SpooledUpload(path=path, sha256=digest.hexdigest(), size=size)


@contextmanager
def spooled(
    stream: ReadableStream, *, max_size: int, directory: Path | None = None
) -> Iterator[SpooledUpload]:
    """Spool the stream like spool_upload and remove the temporary file on exit."""
    upload = spool_upload(stream, max_size=max_size, directory=directory)
    try:
        yield upload
    finally:
        upload.path.unlink(missing_ok=True)


def file_sha256(path: Path) -> tuple[str, int]:
    """Return the SHA-256 hex digest and size of a file, reading it in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def spool_verified(chunks: Iterable[bytes], *, key: str, sha256: str) -> BinaryIO:
    """Copy chunks into a spooled temporary file positioned at 0, or raise BlobCorruptedError."""
    # Not a with-block: the open file is handed to the caller, who closes it.
    spool = tempfile.SpooledTemporaryFile(max_size=VERIFIED_SPOOL_MAX_MEMORY, mode="w+b")  # noqa: SIM115
    try:
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
            spool.write(chunk)
        actual = digest.hexdigest()
        if actual != sha256:
            raise BlobCorruptedError(key, expected=sha256, actual=actual)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return cast(BinaryIO, spool)
