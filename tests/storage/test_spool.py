"""Spooling uploads to disk: digests, the size limit, and bounded memory."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from storage import BlobTooLargeError, spool_upload, spooled
from storage.spool import CHUNK_SIZE

MiB = 1024 * 1024


class LazyStream(io.RawIOBase):
    """A read-only stream of `size` pseudo-random bytes, generated on demand."""

    def __init__(self, size: int | None) -> None:
        self.remaining = size
        self.delivered = 0
        self._block = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB pattern
        self._digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = len(buffer)
        if self.remaining is not None:
            wanted = min(wanted, self.remaining)
        n = min(wanted, len(self._block))
        # Vary the bytes so that a dropped or repeated chunk changes the digest.
        offset = self.delivered % 251
        data = (self._block[offset:] + self._block[:offset])[:n]
        buffer[:n] = data
        self._digest.update(data)
        self.delivered += n
        if self.remaining is not None:
            self.remaining -= n
        return n

    def hexdigest(self) -> str:
        """SHA-256 of everything delivered so far."""
        return self._digest.hexdigest()


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5],
)
def test_digest_and_size_match_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)

    upload = spool_upload(io.BytesIO(data), max_size=10 * MiB, directory=tmp_path)

    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == size
    assert upload.path.parent == tmp_path
    assert upload.path.read_bytes() == data


def test_a_stream_of_exactly_max_size_is_accepted(tmp_path: Path) -> None:
    data = os.urandom(2 * MiB)

    upload = spool_upload(io.BytesIO(data), max_size=len(data), directory=tmp_path)

    assert upload.size == len(data)


def test_over_max_size_raises_and_leaves_no_temp_file(tmp_path: Path) -> None:
    data = os.urandom(2 * MiB + 1)

    with pytest.raises(BlobTooLargeError) as raised:
        spool_upload(io.BytesIO(data), max_size=2 * MiB, directory=tmp_path)

    assert raised.value.limit == 2 * MiB
    assert raised.value.code == "file_too_large"
    assert list(tmp_path.iterdir()) == []


def test_reading_stops_just_past_the_limit(tmp_path: Path) -> None:
    endless = LazyStream(size=None)

    with pytest.raises(BlobTooLargeError):
        spool_upload(endless, max_size=5 * MiB + 3, directory=tmp_path)

    assert endless.delivered == 5 * MiB + 4
    assert list(tmp_path.iterdir()) == []


def test_spooled_removes_the_temp_file_on_exit(tmp_path: Path) -> None:
    with spooled(io.BytesIO(b"%PDF-1.7"), max_size=MiB, directory=tmp_path) as upload:
        assert upload.path.read_bytes() == b"%PDF-1.7"

    assert not upload.path.exists()
    assert list(tmp_path.iterdir()) == []


def test_spooled_removes_the_temp_file_when_the_body_fails(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        spooled(io.BytesIO(b"%PDF-1.7"), max_size=MiB, directory=tmp_path),
    ):
        raise RuntimeError("boom")

    assert list(tmp_path.iterdir()) == []


def test_spooling_200_mb_keeps_memory_bounded(tmp_path: Path) -> None:
    stream = LazyStream(size=200 * MiB)

    tracemalloc.start()
    try:
        upload = spool_upload(stream, max_size=250 * MiB, directory=tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 10 * MiB
    assert upload.size == 200 * MiB
    assert upload.sha256 == stream.hexdigest()
    assert upload.path.stat().st_size == 200 * MiB
