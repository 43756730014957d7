"""Reading a PDF in the page: each page rendered to a PNG by PDFium (pypdfium2), cached.

Why pages as images and not pdf.js: the pages then need no script (a strict CSP with no
'wasm-unsafe-eval' or worker), they read the same in every browser down to a 360-pixel
phone (the browser picks a width from ``srcset``), and a reader never holds a PDF viewer that
might suggest a signature is valid (the signatures panel gives the server's verdict). The
original file is one click away for whoever needs to select text or check signatures in their
own viewer. PDFium is the renderer of Chromium, kept up by Google; pypdfium2 ships it as a
wheel, no system package needed.

A rendered page is kept under ``<data_dir>/cache/pages/<sha256>/<page>-<width>.png``: the
file's digest names it, so a cached image can never show other bytes than the ones asked for.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

import pypdfium2 as pdfium
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from docmgmt.domain.errors import DocumentNotFoundError
from docmgmt.kernel.ports import BlobStore

# The widths a page is rendered at (CSS pixels x device pixel ratio, roughly): a phone, a
# laptop, a large or dense screen. A request for another width gets the next larger one.
WIDTHS = (480, 960, 1440)
MAX_PAGES_RENDERED = 500  # beyond this a reader downloads the file
_lock = threading.Lock()  # PDFium is not thread-safe: one render at a time per process


def pick_width(asked: int) -> int:
    """The rendered width serving a request for ``asked`` pixels."""
    for width in WIDTHS:
        if asked <= width:
            return width
    return WIDTHS[-1]


def cached_page(cache_dir: Path, sha256: str, index: int, width: int) -> Path:
    """Where page ``index`` (from 0) of the file with this digest is kept at ``width``."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 digest")
    return cache_dir / "pages" / sha256 / f"{index}-{width}.png"


def render_page(pdf: bytes, index: int, width: int) -> bytes:
    """Page ``index`` (from 0) of ``pdf`` as a PNG ``width`` pixels wide.

    Raises IndexError for a page the file does not have.
    """
    with _lock:
        document = pdfium.PdfDocument(pdf)
        try:
            # Without a form environment PDFium leaves out the fields: the number, the date
            # and the signatures' appearances would be missing from the image.
            document.init_forms()
            if not 0 <= index < min(len(document), MAX_PAGES_RENDERED):
                raise IndexError(index)
            page = document[index]
            try:
                scale = width / page.get_width()
                bitmap = page.render(scale=scale, may_draw_forms=True)
                image = bitmap.to_pil()
            finally:
                page.close()
        finally:
            document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def page_png(cache_dir: Path, sha256: str, read_pdf: Callable[[], bytes], index: int,
             asked: int) -> Path:
    """The cached PNG of a page, rendering it first if needed.

    ``read_pdf`` is a callable returning the file's verified bytes (only called on a miss).
    """
    width = pick_width(asked)
    path = cached_page(cache_dir, sha256, index, width)
    if path.is_file():
        return path
    png = render_page(read_pdf(), index, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed, so a reader never sees half an image.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(png)
    os.replace(tmp, path)
    return path


def page_answer(request: Request, cache_dir: Path, index: int, asked: int,
                recorded: Callable[[], AbstractContextManager[tuple[str, BinaryIO]]],
                authorised: Callable[[], tuple[str, str]],
                blobs: BlobStore) -> Response:
    """A page's PNG as the answer to a reader, the same for every kind of document.

    The first page opens the file the recorded way (``recorded``: verified, one view on the
    access log), so each reading of the document is one view; the following pages are only
    authorised (``authorised`` gives the file's digest and object key), and their bytes are
    read only when the image is not cached yet. The browser revalidates every time
    (no-cache, ETag), so a cached image never skips the first page's record; a page past the
    end is a 404.
    """
    if index < 0:
        raise DocumentNotFoundError(f"page {index} does not exist")
    try:
        if index == 0:
            with recorded() as (sha256, fh):
                path = page_png(cache_dir, sha256, fh.read, index, asked)
        else:
            sha256, key = authorised()

            def read() -> bytes:
                with blobs.open_verified(key, sha256) as fh:
                    data: bytes = fh.read()
                    return data

            path = page_png(cache_dir, sha256, read, index, asked)
    except IndexError:
        raise DocumentNotFoundError(f"page {index} does not exist") from None
    etag = f'"{sha256[:16]}-{index}-{pick_width(asked)}"'
    headers = {"Cache-Control": "private, no-cache", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type="image/png", headers=headers)
