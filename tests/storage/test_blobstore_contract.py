"""The BlobStore contract, run against the filesystem store and the S3 store alike."""

from __future__ import annotations

import hashlib
import os
import re
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import (
    BlobCorruptedError,
    BlobNotFoundError,
    FilesystemBlobStore,
    S3BlobStore,
    StorageUnavailableError,
    content_key,
)
from storage.base import BlobStore

MiB = 1024 * 1024
Corrupt = Callable[[str, bytes], None]
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def write_file(path: Path, data: bytes) -> tuple[Path, str, int]:
    """Write data to path and return it with its SHA-256 and size, as spool_upload would."""
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest(), len(data)


def read_verified(store: BlobStore, key: str, sha256: str) -> bytes:
    """Return the whole verified content of a blob."""
    with store.open_verified(key, sha256) as f:
        return f.read()


def test_put_then_open_verified_returns_identical_bytes(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)

    key = blob_store.put_file(path, sha256, size)

    assert key == content_key(sha256)
    with blob_store.open_verified(key, sha256) as f:
        assert f.tell() == 0
        assert f.read() == PDF


def test_put_is_idempotent(blob_store: BlobStore, tmp_path: Path) -> None:
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)

    first = blob_store.put_file(path, sha256, size)
    second = blob_store.put_file(path, sha256, size)

    assert first == second
    assert [(b.key, b.size) for b in blob_store.iter_blobs()] == [(first, size)]
    assert read_verified(blob_store, first, sha256) == PDF


def test_put_refuses_a_file_that_does_not_match_its_digest(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    blob_store.check()  # Creates the S3 bucket, so that exists() below can answer.
    path, _, size = write_file(tmp_path / "in.pdf", PDF)
    wrong = hashlib.sha256(b"something else").hexdigest()

    with pytest.raises(ValueError, match="SHA-256"):
        blob_store.put_file(path, wrong, size)

    assert not blob_store.exists(content_key(wrong))


def test_content_key_format() -> None:
    digest = hashlib.sha256(PDF).hexdigest()

    key = content_key(digest)

    assert key == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    assert re.fullmatch(r"sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", key)


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../" + "0" * 61],
    ids=["empty", "short", "uppercase", "not-hex", "63-chars", "65-chars", "traversal"],
)
def test_content_key_rejects_anything_but_lowercase_hex_sha256(bad: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        content_key(bad)


def test_missing_key_raises_blob_not_found(blob_store: BlobStore, tmp_path: Path) -> None:
    # The S3 bucket is created by the first write; store something else first.
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)
    blob_store.put_file(path, sha256, size)
    missing = hashlib.sha256(b"never stored").hexdigest()

    with (
        pytest.raises(BlobNotFoundError) as raised,
        blob_store.open_verified(content_key(missing), missing),
    ):
        pytest.fail("a missing blob must not be yielded")

    assert raised.value.code == "blob_not_found"
    assert raised.value.key == content_key(missing)


def test_exists(blob_store: BlobStore, tmp_path: Path) -> None:
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)
    other = content_key(hashlib.sha256(b"other").hexdigest())

    key = blob_store.put_file(path, sha256, size)

    assert blob_store.exists(key)
    assert not blob_store.exists(other)


def test_iter_blobs_lists_what_was_put(blob_store: BlobStore, tmp_path: Path) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    contents = [PDF, PDF + b"second", b"%PDF-1.4 tiny"]
    expected = set()
    for i, data in enumerate(contents):
        path, sha256, size = write_file(tmp_path / f"in{i}.pdf", data)
        expected.add((blob_store.put_file(path, sha256, size), size))

    blobs = list(blob_store.iter_blobs())

    assert {(b.key, b.size) for b in blobs} == expected
    for blob in blobs:
        assert blob.last_modified.tzinfo is not None
        assert before <= blob.last_modified <= datetime.now(UTC) + timedelta(minutes=5)


def test_delete_removes_the_blob(blob_store: BlobStore, tmp_path: Path) -> None:
    # For S3 the object is under 1-day GOVERNANCE retention; GC may still delete it.
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)
    keep_path, keep_sha256, keep_size = write_file(tmp_path / "keep.pdf", PDF + b"keep")
    key = blob_store.put_file(path, sha256, size)
    kept = blob_store.put_file(keep_path, keep_sha256, keep_size)

    blob_store.delete(key)

    assert not blob_store.exists(key)
    assert [b.key for b in blob_store.iter_blobs()] == [kept]
    with pytest.raises(BlobNotFoundError), blob_store.open_verified(key, sha256):
        pytest.fail("a deleted blob must not be yielded")
    blob_store.delete(key)  # Deleting again is harmless, as concurrent GC runs may do.


def test_a_50_mb_file_round_trips(blob_store: BlobStore, tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(50):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            f.write(chunk)
    sha256 = digest.hexdigest()

    tracemalloc.start()
    try:
        key = blob_store.put_file(path, sha256, 50 * MiB)
        read_back = hashlib.sha256()
        size = 0
        with blob_store.open_verified(key, sha256) as f:
            while chunk := f.read(MiB):
                read_back.update(chunk)
                size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (read_back.hexdigest(), size) == (sha256, 50 * MiB)
    # Both directions stream: at most a few multipart parts or spool pages are in memory.
    assert peak < 40 * MiB
    assert [(b.key, b.size) for b in blob_store.iter_blobs()] == [(key, 50 * MiB)]


def test_corruption_is_detected_and_no_bytes_are_yielded(
    blob_store: BlobStore, corrupt: Corrupt, tmp_path: Path
) -> None:
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)
    key = blob_store.put_file(path, sha256, size)

    corrupt(key, PDF)

    with pytest.raises(BlobCorruptedError) as raised, blob_store.open_verified(key, sha256):
        pytest.fail("corrupted bytes must never be yielded")
    assert raised.value.code == "blob_corrupted"
    assert raised.value.expected == sha256
    assert raised.value.actual != sha256


def test_a_corrupted_copy_is_replaced_by_the_next_put(
    blob_store: BlobStore, corrupt: Corrupt, tmp_path: Path
) -> None:
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)
    key = blob_store.put_file(path, sha256, size)
    corrupt(key, PDF)

    blob_store.put_file(path, sha256, size)

    assert read_verified(blob_store, key, sha256) == PDF


def test_check_passes_on_a_working_store(blob_store: BlobStore) -> None:
    blob_store.check()


def test_filesystem_blobs_are_read_only(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    path, sha256, size = write_file(tmp_path / "in.pdf", PDF)

    key = store.put_file(path, sha256, size)

    assert (tmp_path / key).stat().st_mode & 0o777 == 0o444
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_filesystem_check_fails_without_a_root_directory(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "not-mounted")

    with pytest.raises(StorageUnavailableError) as raised:
        store.check()

    assert raised.value.code == "storage_unavailable"
    assert not (tmp_path / "not-mounted").exists()


def test_filesystem_rejects_keys_outside_the_store(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    (tmp_path / "blobs").mkdir()
    (tmp_path / "secret").write_bytes(b"not a blob")

    for key in ["../secret", "/etc/passwd", ".tmp/x", "sha256/../../secret"]:
        with pytest.raises(ValueError, match="invalid blob key"):
            store.exists(key)


def test_s3_check_on_a_closed_port_fails_quickly() -> None:
    store = S3BlobStore("127.0.0.1:1", "access", "secret-key", "no-such-bucket")

    started = time.monotonic()
    with pytest.raises(StorageUnavailableError) as raised:
        store.check()

    assert time.monotonic() - started < 10
    assert raised.value.code == "storage_unavailable"
    assert "secret-key" not in str(raised.value)
