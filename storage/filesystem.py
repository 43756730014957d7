"""A BlobStore on a local (or mounted) directory."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from storage.base import (
    BlobInfo,
    BlobNotFoundError,
    StorageUnavailableError,
    content_key,
    validate_sha256,
)
from storage.spool import CHUNK_SIZE, file_sha256, spool_verified

_TMP_DIR = ".tmp"
_CONTENT_DIR = "sha256"
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class FilesystemBlobStore:
    """Blobs as read-only files at root/<key>, written atomically via root/.tmp."""

    name = "filesystem"

    def __init__(self, root: Path) -> None:
        # The root is not created here: a missing root usually means an unmounted volume,
        # and silently writing into the container's own filesystem would lose documents.
        self.root = root

    def put_file(self, path: Path, sha256: str, size: int) -> str:
        """Copy the file under content_key(sha256) unless identical bytes are already there."""
        key = content_key(sha256)
        target = self._path(key)
        with path.open("rb") as src:
            self._require_root()
            try:
                if self._holds(target, sha256, size):
                    return key
                self._write_atomically(src, target, sha256=sha256, size=size)
            except OSError as exc:
                raise StorageUnavailableError(f"cannot write blob {key!r}: {exc}") from exc
        return key

    @contextmanager
    def open_verified(self, key: str, sha256: str) -> Iterator[BinaryIO]:
        """Yield a verified copy of the blob, positioned at 0."""
        validate_sha256(sha256)
        try:
            with self._path(key).open("rb") as src:
                chunks = iter(lambda: src.read(CHUNK_SIZE), b"")
                verified = spool_verified(chunks, key=key, sha256=sha256)
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        except OSError as exc:
            raise StorageUnavailableError(f"cannot read blob {key!r}: {exc}") from exc
        with verified:
            yield verified

    def exists(self, key: str) -> bool:
        """Tell whether a blob file is stored under the key."""
        return self._path(key).is_file()

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Walk root/sha256 and list every blob file."""
        content_root = self.root / _CONTENT_DIR
        for directory, _subdirs, files in os.walk(content_root):
            for filename in sorted(files):
                path = Path(directory, filename)
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue  # Deleted by a concurrent GC run since the walk listed it.
                yield BlobInfo(
                    key=path.relative_to(self.root).as_posix(),
                    size=st.st_size,
                    last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
                )

    def delete(self, key: str) -> None:
        """Remove the blob file; a missing file is not an error."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailableError(f"cannot delete blob {key!r}: {exc}") from exc

    def check(self) -> None:
        """Raise StorageUnavailableError unless the root is a directory we can write into."""
        self._require_root()
        try:
            tmp_dir = self.root / _TMP_DIR
            tmp_dir.mkdir(exist_ok=True)
            with tempfile.TemporaryFile(dir=tmp_dir, prefix="check-") as probe:
                probe.write(b"ok")
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as exc:
            raise StorageUnavailableError(f"blob root {self.root} is not writable: {exc}") from exc

    def _require_root(self) -> None:
        if not self.root.is_dir():
            raise StorageUnavailableError(f"blob root {self.root} is not a directory")

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if (
            not parts
            or PurePosixPath(key).is_absolute()
            or any(part in {"", ".", ".."} or part.startswith(".") for part in parts)
            or "\\" in key
        ):
            raise ValueError(f"invalid blob key: {key!r}")
        return self.root.joinpath(*parts)

    def _holds(self, target: Path, sha256: str, size: int) -> bool:
        try:
            if target.stat().st_size != size:
                return False
        except FileNotFoundError:
            return False
        # A damaged copy under the right key is replaced rather than kept forever.
        return file_sha256(target) == (sha256, size)

    def _write_atomically(self, src: BinaryIO, target: Path, *, sha256: str, size: int) -> None:
        tmp_dir = self.root / _TMP_DIR
        tmp_dir.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="put-", suffix=".part")
        tmp_path = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            written = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            # Never publish bytes under a key they do not hash to.
            if (digest.hexdigest(), written) != (sha256, size):
                raise ValueError(
                    f"the file to store does not have SHA-256 {sha256} and size {size}"
                )
            os.chmod(tmp_path, _READ_ONLY)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, target)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry itself reaches the disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
