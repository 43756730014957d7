"""A BlobStore on plain S3 (MinIO in production, SeaweedFS in tests), with Object Lock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal, NoReturn

import certifi
import urllib3
from minio import Minio
from minio.datatypes import Object
from minio.deleteobjects import DeleteError, DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.retention import Retention
from urllib3.util import Retry, Timeout

from storage.base import (
    BlobInfo,
    BlobNotFoundError,
    BlobRetainedError,
    StorageError,
    StorageUnavailableError,
    content_key,
    validate_sha256,
)
from storage.spool import CHUNK_SIZE, file_sha256, spool_verified

RetentionMode = Literal["GOVERNANCE", "COMPLIANCE"]

PART_SIZE = 8 * 1024 * 1024
"""Multipart part size; the SDK buffers about (PARALLEL_UPLOADS + 1) parts in memory."""

PARALLEL_UPLOADS = 2

SHA256_METADATA = "sha256"
"""User metadata name under which the content digest is stored (x-amz-meta-sha256)."""

_CONTENT_PREFIX = "sha256/"
_CREDENTIAL_ERRORS = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
)
_ALREADY_EXISTS = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_NO_LOCK_CONFIG = "ObjectLockConfigurationNotFoundError"


class S3BlobStore:
    """Blobs as objects in one S3 bucket, optionally under Object Lock retention."""

    name = "s3"

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str | None = None,
        retention_days: int = 0,
        retention_mode: RetentionMode = "GOVERNANCE",
        create_bucket: bool = True,
    ) -> None:
        if retention_days < 0:
            raise ValueError("retention_days must not be negative")
        if retention_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError(f"unknown retention mode {retention_mode!r}")
        self.endpoint = endpoint
        self.bucket = bucket
        self.retention_days = retention_days
        self.retention_mode: RetentionMode = retention_mode
        self._create_bucket = create_bucket
        self._bucket_ready = False
        # Short connect timeout and few retries: an unreachable store must fail a request
        # (and the health check) within seconds, not after the SDK's 5-minute default.
        http_client = urllib3.PoolManager(
            timeout=Timeout(connect=3, read=30),
            retries=Retry(
                total=2, connect=1, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
            ),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http_client,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if missing; refuse one that cannot hold retention."""
        with self._translate():
            if not self._client.bucket_exists(self.bucket):
                if not self._create_bucket:
                    raise StorageUnavailableError(f"bucket {self.bucket!r} does not exist")
                try:
                    self._client.make_bucket(self.bucket, object_lock=True)
                except S3Error as exc:
                    # "Already exists" only means another process won the race to create it.
                    if exc.code not in _ALREADY_EXISTS:
                        raise
            if self.retention_days > 0:
                self._require_object_lock()
        self._bucket_ready = True

    def put_file(self, path: Path, sha256: str, size: int) -> str:
        """Upload the file under content_key(sha256) unless that object already holds it."""
        key = content_key(sha256)
        # Reading the local file once more is cheap; an object published under a key its
        # bytes do not hash to could not even be removed under COMPLIANCE retention.
        if file_sha256(path) != (sha256, size):
            raise ValueError(f"{path} does not have SHA-256 {sha256} and size {size}")
        if not self._bucket_ready:
            self.ensure_bucket()
        with self._translate(key):
            # The digest in metadata is trusted here; open_verified re-checks the bytes.
            existing = self._stat(key)
            if (
                existing is not None
                and existing.size == size
                and _stored_sha256(existing) == sha256
            ):
                return key
            self._client.fput_object(
                self.bucket,
                key,
                str(path),
                metadata={SHA256_METADATA: sha256},
                part_size=PART_SIZE,
                num_parallel_uploads=PARALLEL_UPLOADS,
                retention=self._retention(),
            )
        return key

    @contextmanager
    def open_verified(self, key: str, sha256: str) -> Iterator[BinaryIO]:
        """Yield a verified copy of the object's bytes, positioned at 0."""
        validate_sha256(sha256)
        with self._translate(key):
            response = self._client.get_object(self.bucket, key)
            try:
                verified = spool_verified(response.stream(CHUNK_SIZE), key=key, sha256=sha256)
            finally:
                response.close()
                response.release_conn()
        with verified:
            yield verified

    def exists(self, key: str) -> bool:
        """Tell whether the latest version of the key is an object (not a delete marker)."""
        with self._translate(key):
            return self._stat(key) is not None

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """List the latest version of every object under the content prefix."""
        with self._translate():
            for obj in self._client.list_objects(
                self.bucket, prefix=_CONTENT_PREFIX, recursive=True
            ):
                if obj.is_dir or obj.object_name is None:
                    continue
                yield BlobInfo(
                    key=obj.object_name,
                    size=obj.size or 0,
                    last_modified=_as_utc(obj.last_modified),
                )

    def delete(self, key: str) -> None:
        """Remove every version of the key; a missing key is not an error.

        GOVERNANCE retention is bypassed when the store runs in GOVERNANCE mode. COMPLIANCE
        retention cannot be bypassed by anyone: such a blob raises BlobRetainedError (a
        StorageError) until its retain-until date has passed.
        """
        with self._translate(key):
            versions = [
                obj
                for obj in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                if obj.object_name == key
            ]
            if not versions:
                return
            errors = list(
                self._client.remove_objects(
                    self.bucket,
                    [DeleteObject(key, obj.version_id) for obj in versions],
                    bypass_governance_mode=self.retention_mode == "GOVERNANCE",
                )
            )
            if errors:
                self._raise_delete_error(key, errors[0])

    def check(self) -> None:
        """Raise StorageUnavailableError unless the bucket is usable (creating it if allowed)."""
        self.ensure_bucket()

    def _raise_delete_error(self, key: str, error: DeleteError) -> NoReturn:
        if error.code == "AccessDenied":
            try:
                retention = self._client.get_object_retention(
                    self.bucket, key, version_id=error.version_id
                )
            except S3Error:
                retention = None  # No retention: the denial has another cause.
            if retention is not None and retention.mode:
                raise BlobRetainedError(key, retention.mode, retention.retain_until_date)
        raise StorageError(f"cannot delete blob {key!r}: {error.code}: {error.message}")

    def _stat(self, key: str) -> Object | None:
        try:
            return self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise

    def _retention(self) -> Retention | None:
        if self.retention_days == 0:
            return None
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        return Retention(self.retention_mode, until)

    def _require_object_lock(self) -> None:
        try:
            self._client.get_object_lock_config(self.bucket)
        except S3Error as exc:
            if exc.code == _NO_LOCK_CONFIG:
                raise StorageUnavailableError(
                    f"bucket {self.bucket!r} has no Object Lock, so retention_days="
                    f"{self.retention_days} cannot be applied; create it with Object Lock"
                ) from exc
            raise

    @contextmanager
    def _translate(self, key: str | None = None) -> Iterator[None]:
        """Turn SDK and transport exceptions into StorageError subclasses."""
        try:
            yield
        except StorageError:
            raise
        except S3Error as exc:
            _raise_for_s3_error(exc, key, self.bucket)
        except (ServerError, InvalidResponseError) as exc:
            raise StorageUnavailableError(f"S3 endpoint {self.endpoint} failed: {exc}") from exc
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            raise StorageUnavailableError(
                f"S3 endpoint {self.endpoint} cannot be reached: {type(exc).__name__}"
            ) from exc


def _raise_for_s3_error(exc: S3Error, key: str | None, bucket: str) -> NoReturn:
    if exc.code == "NoSuchKey" and key is not None:
        raise BlobNotFoundError(key) from exc
    if exc.code == "NoSuchBucket":
        raise StorageUnavailableError(f"bucket {bucket!r} does not exist") from exc
    if exc.code in _CREDENTIAL_ERRORS:
        raise StorageUnavailableError(f"S3 rejected the credentials or access: {exc.code}") from exc
    raise StorageError(f"S3 error {exc.code}: {exc.message}") from exc


def _stored_sha256(obj: Object) -> str | None:
    wanted = f"x-amz-meta-{SHA256_METADATA}"
    for name, value in (obj.metadata or {}).items():
        if name.lower() == wanted:
            return str(value)
    return None


def _as_utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.fromtimestamp(0, tz=UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
