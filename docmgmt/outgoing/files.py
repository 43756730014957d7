"""The files of an outgoing step: intake of uploads, a scratch workspace for PDF work, and
storing the results so that a step that fails removes its own files."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from docmgmt.domain.common import FileRef
from docmgmt.domain.errors import FileTooLargeError
from docmgmt.kernel.newblobs import NewBlobs, removed_unless_saved
from docmgmt.kernel.ports import Spooled
from docmgmt.outgoing.context import OutgoingContext

CHUNK = 1024 * 1024


def new_blobs(ctx: OutgoingContext) -> contextlib.AbstractContextManager[NewBlobs]:
    """Files stored in the block are removed again if the block raises (a lost race, a
    refusal)."""
    return removed_unless_saved(ctx.store, ctx.blobs, ctx.claims)


@contextlib.contextmanager
def spooled(ctx: OutgoingContext, stream: BinaryIO) -> Iterator[Spooled]:
    """The upload copied to disk and hashed, within the upload limit."""
    try:
        with ctx.spool(stream, max_size=ctx.max_upload_bytes) as up:
            yield up
    except FileTooLargeError:
        raise
    except Exception as exc:
        if getattr(exc, "code", None) == "file_too_large":
            raise FileTooLargeError(
                f"the file is larger than the limit of {ctx.max_upload_bytes} bytes",
                limit=ctx.max_upload_bytes,
            ) from None
        raise


def intake(ctx: OutgoingContext, stream: BinaryIO, file_name: str, new: NewBlobs) -> FileRef:
    """Store an uploaded PDF that passed inspection; rejected input stores nothing."""
    # Bytes are stored before the event that names them.
    with spooled(ctx, stream) as up:
        facts = ctx.inspector.inspect(up.path)
        key = new.put_file(up.path, up.sha256, up.size)
        return FileRef(key=key, sha256=up.sha256, size=up.size,
                       page_count=facts.page_count, file_name=clean_name(file_name))


@contextlib.contextmanager
def workspace(ctx: OutgoingContext, source: FileRef) -> Iterator[tuple[Path, Path]]:
    """A stored PDF copied (digest-checked) to a scratch folder, and where to write the
    result."""
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ctx.work_dir) as tmp:
        src, dst = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
        with ctx.blobs.open_verified(source.key, source.sha256) as fh, src.open("wb") as out:
            shutil.copyfileobj(fh, out, CHUNK)
        yield src, dst


def store_result(new: NewBlobs, path: Path, like: FileRef, suffix: str) -> FileRef:
    """Store a PDF a step made from ``like``, named after it with the step's suffix."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    size = path.stat().st_size
    key = new.put_file(path, digest.hexdigest(), size)
    stem = like.file_name.removesuffix(".pdf")
    return FileRef(key=key, sha256=digest.hexdigest(), size=size,
                   page_count=like.page_count, file_name=f"{stem}.{suffix}.pdf")


def clean_name(file_name: str) -> str:
    """The base name of an uploaded file, printable and at most 255 characters."""
    name = Path(file_name.replace("\\", "/")).name.strip() or "document.pdf"
    return "".join(c for c in name if c.isprintable())[:255]
