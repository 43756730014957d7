"""Outgoing documents: drafts, revisions, comments, downloads and history."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, BinaryIO
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from api.auth import CurrentUser
from api.deps import ContainerDep, IfMatch, pick_version
from api.schemas import Created
from docmgmt.domain.common import Confidentiality, DocumentType, FileRef, Urgency
from docmgmt.domain.errors import DocumentNotFoundError, InvalidInputError
from docmgmt.kernel.store import HistoryEntry
from docmgmt.services import DOCUMENT_READERS, DraftRequest

router = APIRouter(prefix="/documents", tags=["documents"])
CHUNK = 1024 * 1024


class CommentIn(BaseModel):
    """A comment on the current revision."""

    text: str
    expected_version: int | None = None


class Page(BaseModel):
    """One page of a list; ``next_cursor`` asks for the following page cheaply."""

    items: list[dict[str, Any]]
    total: int | None
    limit: int
    offset: int
    next_cursor: str | None = None


def _encode_cursor(cursor: tuple[datetime, UUID] | None) -> str | None:
    if cursor is None:
        return None
    raw = f"{cursor[0].isoformat()}|{cursor[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, ident = raw.split("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        return parsed, UUID(ident)
    except ValueError:
        raise InvalidInputError("the cursor is not one this API gave out") from None


@router.post("", status_code=status.HTTP_201_CREATED)
def create_draft(
    who: CurrentUser,
    c: ContainerDep,
    file: Annotated[UploadFile, File(description="The PDF of the first revision")],
    summary: Annotated[str, Form(description="Trích yếu nội dung / summary")],
    doc_type: Annotated[DocumentType, Form()] = DocumentType.CONG_VAN,
    urgency: Annotated[Urgency, Form()] = Urgency.NORMAL,
    confidentiality: Annotated[Confidentiality, Form()] = Confidentiality.NORMAL,
    legal_normative: Annotated[bool, Form()] = False,
) -> Created:
    """Soạn thảo văn bản / Draft an outgoing document from a PDF (official, leader)."""
    meta = DraftRequest(summary=summary, doc_type=doc_type, urgency=urgency,
                        confidentiality=confidentiality, legal_normative=legal_normative)
    result = c.write.documents.create_draft(who, meta, file.file, file.filename or "")
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


@router.get("")
async def list_documents(
    who: CurrentUser,
    c: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: str | None = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")]
    = None,
) -> Page:
    """Danh sách văn bản / The agency's documents, most recently changed first.

    Page with ``offset`` (with a total), or follow ``next_cursor`` (fast at any depth,
    no total)."""
    who.require(*DOCUMENT_READERS)
    if cursor is not None:
        items, after = await c.queries.list_documents_after(
            who.agency_id, limit=limit, cursor=_decode_cursor(cursor), status=status)
        return Page(items=items, total=None, limit=limit, offset=0,
                    next_cursor=_encode_cursor(after))
    items, total = await c.queries.list_documents(
        who.agency_id, limit=limit, offset=offset, status=status
    )
    more = offset + len(items) < total
    after = (items[-1]["updated_at"], UUID(str(items[-1]["id"]))) if items and more else None
    return Page(items=items, total=total, limit=limit, offset=offset,
                next_cursor=_encode_cursor(after))


@router.get("/{document_id}")
async def get_document(
    document_id: UUID, who: CurrentUser, c: ContainerDep, response: Response
) -> dict[str, Any]:
    """Xem văn bản / A document with its revisions; ETag carries its version."""
    who.require(*DOCUMENT_READERS)
    document = await c.queries.get_document(who.agency_id, document_id)
    if document is None:
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found")
    response.headers["ETag"] = f'"{document["version"]}"'
    return document


@router.post("/{document_id}/revisions", status_code=status.HTTP_201_CREATED)
def upload_revision(
    document_id: UUID,
    who: CurrentUser,
    c: ContainerDep,
    if_match: IfMatch,
    file: Annotated[UploadFile, File(description="The PDF of the new revision")],
    note: Annotated[str, Form()] = "",
    expected_version: Annotated[int | None, Form()] = None,
) -> Created:
    """Tải lên bản sửa / Upload a new PDF revision of a draft (official, leader)."""
    version = pick_version(if_match, expected_version)
    result = c.write.documents.upload_revision(
        who, document_id, file.file, file.filename or "", note, version
    )
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


@router.post("/{document_id}/appendices", status_code=status.HTTP_201_CREATED)
def attach_appendix(
    document_id: UUID,
    who: CurrentUser,
    c: ContainerDep,
    if_match: IfMatch,
    file: Annotated[UploadFile, File(description="The appendix PDF (phụ lục)")],
    title: Annotated[str, Form(description="Tên phụ lục / appendix title")],
    expected_version: Annotated[int | None, Form()] = None,
) -> Created:
    """Đính kèm phụ lục / Attach a separate appendix PDF to a draft (official, leader)."""
    version = pick_version(if_match, expected_version)
    result = c.write.documents.attach_appendix(
        who, document_id, file.file, file.filename or "", title, version)
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


@router.get("/{document_id}/appendices/{number}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def download_appendix(
    document_id: UUID, number: int, who: CurrentUser, c: ContainerDep
) -> StreamingResponse:
    """Tải phụ lục / Download an appendix (with the agency signature once sealed)."""
    return stream_file(c.write.documents.download_appendix(who, document_id, number))


@router.post("/{document_id}/comments", status_code=status.HTTP_201_CREATED)
def comment(
    document_id: UUID, body: CommentIn, who: CurrentUser, c: ContainerDep, if_match: IfMatch
) -> Created:
    """Góp ý / Comment on the current revision."""
    version = pick_version(if_match, body.expected_version)
    result = c.write.documents.comment(who, document_id, body.text, version)
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


def _stream(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


@router.get("/{document_id}/revisions/{revision}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def download_revision(
    document_id: UUID, revision: int, who: CurrentUser, c: ContainerDep
) -> StreamingResponse:
    """Tải văn bản / Download a revision's PDF; the download is recorded."""
    return _download(document_id, revision, who, c)


@router.get("/{document_id}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def download_current(document_id: UUID, who: CurrentUser, c: ContainerDep) -> StreamingResponse:
    """Tải bản mới nhất / Download the latest PDF (the sealed one once sealed); recorded."""
    return _download(document_id, None, who, c)


def _download(
    document_id: UUID, revision: int | None, who: CurrentUser, c: ContainerDep
) -> StreamingResponse:
    return stream_file(c.write.documents.download(who, document_id, revision))


def stream_file(
    opened: contextlib.AbstractContextManager[tuple[int, FileRef, BinaryIO]],
) -> StreamingResponse:
    """Stream an opened, digest-checked file; the file closes when the response ends."""
    stack = contextlib.ExitStack()
    try:
        number, found, fh = stack.enter_context(opened)
    except BaseException:
        stack.close()
        raise
    name = found.file_name.encode("ascii", "replace").decode().replace('"', "")
    return StreamingResponse(
        _stream(fh),
        media_type="application/pdf",
        headers={
            "Content-Length": str(found.size),
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SHA256": found.sha256,
            "X-Revision": str(number),
        },
        background=BackgroundTask(stack.close),
    )


@router.get("/{document_id}/history")
def history(document_id: UUID, who: CurrentUser, c: ContainerDep) -> list[dict[str, Any]]:
    """Lịch sử xử lý / Every event of the document, oldest first: who, when, what."""
    return history_rows(c.write.documents.history(who, document_id))


def history_rows(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    """History entries as the API shows them."""
    return [
        {"stream": e.stream, "version": e.version, "type": e.type,
         "time": e.time.isoformat(),
         "actor": e.actor, "payload": e.payload}
        for e in entries
    ]
