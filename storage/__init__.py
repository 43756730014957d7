"""Content-addressed object storage for uploaded files: filesystem and S3 backends."""

from storage.base import (
    BlobCorruptedError,
    BlobInfo,
    BlobNotFoundError,
    BlobRetainedError,
    BlobStore,
    BlobTooLargeError,
    StorageError,
    StorageUnavailableError,
    content_key,
    validate_sha256,
)
from storage.filesystem import FilesystemBlobStore
from storage.s3 import S3BlobStore
from storage.spool import ReadableStream, SpooledUpload, spool_upload, spooled

__all__ = [
    "BlobCorruptedError",
    "BlobInfo",
    "BlobNotFoundError",
    "BlobRetainedError",
    "BlobStore",
    "BlobTooLargeError",
    "FilesystemBlobStore",
    "ReadableStream",
    "S3BlobStore",
    "SpooledUpload",
    "StorageError",
    "StorageUnavailableError",
    "content_key",
    "spool_upload",
    "spooled",
    "validate_sha256",
]
