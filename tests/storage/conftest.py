"""Fixtures for the BlobStore contract: one scenario, filesystem and S3 backends."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from minio import Minio

from storage import FilesystemBlobStore, S3BlobStore
from storage.base import BlobStore
from tests.support.s3server import S3Endpoint

Corrupt = Callable[[str, bytes], None]
"""Replace the stored bytes of a key (whose original content is given) with different ones."""


MakeS3Store = Callable[..., S3BlobStore]
"""Build an S3BlobStore on a fresh bucket; keyword arguments go to S3BlobStore."""


@pytest.fixture
def make_s3_store(s3_endpoint: S3Endpoint) -> MakeS3Store:
    """A factory of S3BlobStores, each on its own uniquely named (not yet created) bucket."""

    def make(**kwargs: Any) -> S3BlobStore:
        return S3BlobStore(
            s3_endpoint.endpoint,
            s3_endpoint.access_key,
            s3_endpoint.secret_key,
            f"test-{uuid.uuid4().hex[:20]}",
            **kwargs,
        )

    return make


@pytest.fixture(
    params=["filesystem", pytest.param("s3", marks=pytest.mark.s3)],
)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each BlobStore implementation in turn; S3 with 1-day GOVERNANCE retention."""
    if request.param == "filesystem":
        root = tmp_path / "blobs"
        root.mkdir()
        return FilesystemBlobStore(root)
    make: MakeS3Store = request.getfixturevalue("make_s3_store")
    return make(retention_days=1, retention_mode="GOVERNANCE")


@pytest.fixture
def corrupt(blob_store: BlobStore, request: pytest.FixtureRequest) -> Corrupt:
    """Damage a stored blob behind the store's back, as disk rot or tampering would."""
    if isinstance(blob_store, FilesystemBlobStore):
        store = blob_store

        def corrupt_file(key: str, original: bytes) -> None:
            path = store.root / key
            path.chmod(0o644)
            with path.open("r+b") as f:
                f.seek(len(original) // 2)
                f.write(bytes([original[len(original) // 2] ^ 0xFF]))

        return corrupt_file

    assert isinstance(blob_store, S3BlobStore)
    s3_store = blob_store
    client: Minio = request.getfixturevalue("s3_client")

    def corrupt_object(key: str, original: bytes) -> None:
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0xFF
        # Under Object Lock a plain PUT adds a new latest version; reads return that one.
        client.put_object(s3_store.bucket, key, io.BytesIO(bytes(damaged)), len(damaged))

    return corrupt_object
