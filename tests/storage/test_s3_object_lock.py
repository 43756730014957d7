"""Object Lock behaviour of the S3 store against a real S3 server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio import Minio

from storage import BlobRetainedError, S3BlobStore, StorageError, StorageUnavailableError
from tests.support.s3server import S3Endpoint

pytestmark = pytest.mark.s3

MiB = 1024 * 1024
MakeS3Store = Callable[..., S3BlobStore]


def stored(store: S3BlobStore, tmp_path: Path, data: bytes) -> str:
    """Put data through the store and return its key."""
    path = tmp_path / f"{hashlib.sha256(data).hexdigest()}.pdf"
    path.write_bytes(data)
    return store.put_file(path, hashlib.sha256(data).hexdigest(), len(data))


def test_ensure_bucket_creates_a_bucket_with_object_lock(
    make_s3_store: MakeS3Store, s3_client: Minio
) -> None:
    store = make_s3_store()
    assert not s3_client.bucket_exists(store.bucket)  # Construction touches nothing.

    store.ensure_bucket()

    assert s3_client.bucket_exists(store.bucket)
    s3_client.get_object_lock_config(store.bucket)  # Raises unless Object Lock is on.
    versioning = s3_client.get_bucket_versioning(store.bucket)
    assert versioning.status == "Enabled"


@pytest.mark.parametrize("size", [1000, 12 * MiB], ids=["single-put", "multipart"])
def test_stored_objects_carry_retention_and_their_digest(
    make_s3_store: MakeS3Store, s3_client: Minio, tmp_path: Path, size: int
) -> None:
    store = make_s3_store(retention_days=3, retention_mode="GOVERNANCE")
    data = os.urandom(size)

    key = stored(store, tmp_path, data)

    retention = s3_client.get_object_retention(store.bucket, key)
    assert retention is not None
    assert retention.mode == "GOVERNANCE"
    expected_until = datetime.now(UTC) + timedelta(days=3)
    assert abs(retention.retain_until_date - expected_until) < timedelta(minutes=5)
    stat = s3_client.stat_object(store.bucket, key)
    assert stat.metadata is not None
    assert stat.metadata["x-amz-meta-sha256"] == hashlib.sha256(data).hexdigest()


def test_without_retention_days_objects_have_no_retention(
    make_s3_store: MakeS3Store, s3_client: Minio, tmp_path: Path
) -> None:
    store = make_s3_store(retention_days=0)

    key = stored(store, tmp_path, b"%PDF-1.7 no retention")

    stat = s3_client.stat_object(store.bucket, key)
    assert stat.metadata is not None
    assert "x-amz-object-lock-mode" not in {name.lower() for name in stat.metadata}


def test_governance_delete_removes_every_version(
    make_s3_store: MakeS3Store, s3_client: Minio, tmp_path: Path
) -> None:
    store = make_s3_store(retention_days=1, retention_mode="GOVERNANCE")
    key = stored(store, tmp_path, b"%PDF-1.7 orphan")

    store.delete(key)

    # No delete marker hiding retained bytes: the storage is really reclaimed.
    versions = list(s3_client.list_objects(store.bucket, prefix=key, include_version=True))
    assert versions == []


def test_a_compliance_object_cannot_be_deleted(
    make_s3_store: MakeS3Store, s3_client: Minio, tmp_path: Path
) -> None:
    store = make_s3_store(retention_days=1, retention_mode="COMPLIANCE")
    data = b"%PDF-1.7 sealed for the archive"
    key = stored(store, tmp_path, data)

    with pytest.raises(StorageError) as raised:
        store.delete(key)

    assert isinstance(raised.value, BlobRetainedError)
    assert raised.value.code == "blob_retained"
    assert raised.value.mode == "COMPLIANCE"
    assert "COMPLIANCE" in str(raised.value)
    # The object is untouched, not hidden behind a delete marker.
    assert store.exists(key)
    with store.open_verified(key, hashlib.sha256(data).hexdigest()) as f:
        assert f.read() == data


def test_retention_is_refused_on_a_bucket_without_object_lock(
    make_s3_store: MakeS3Store, s3_client: Minio
) -> None:
    store = make_s3_store(retention_days=1)
    s3_client.make_bucket(store.bucket)  # Created by someone else, without Object Lock.

    with pytest.raises(StorageUnavailableError, match="Object Lock"):
        store.check()


def test_a_missing_bucket_is_not_created_when_creation_is_disabled(
    make_s3_store: MakeS3Store, s3_client: Minio
) -> None:
    store = make_s3_store(create_bucket=False)

    with pytest.raises(StorageUnavailableError, match="does not exist"):
        store.check()

    assert not s3_client.bucket_exists(store.bucket)


def test_wrong_credentials_make_the_store_unavailable(s3_endpoint: S3Endpoint) -> None:
    """Bad credentials are a deployment fault: the health check must report it."""
    store = S3BlobStore(s3_endpoint.endpoint, s3_endpoint.access_key, "wrong-secret", "any-bucket")

    with pytest.raises(StorageUnavailableError) as raised:
        store.check()

    assert "wrong-secret" not in str(raised.value)
