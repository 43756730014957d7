"""Văn bản đi over HTTP: drafts, revisions, comments, downloads and history; approval and
the signing chain (submit, approve, return, sign, number, seal); signature validation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.auth import CurrentUser
from api.deps import ContainerDep, IfMatch, OutgoingDep, pick_version
from api.headers import csp_for_page
from api.routing import ThreadedRoute
from api.schemas import Created
from docmgmt.domain.common import Confidentiality, DocumentType, FileRef, SigningCapacity, Urgency
from docmgmt.domain.errors import DocumentNotFoundError
from docmgmt.kernel.cursor import decode_cursor, encode_cursor
from docmgmt.kernel.store import CommandResult, HistoryEntry
from docmgmt.outgoing import approval, drafting, numbering, sealing, signing, validation
from docmgmt.outgoing.context import DOCUMENT_READERS
from docmgmt.outgoing.drafting import DraftRequest
from signing.port import ReportDict

router = APIRouter(prefix="/documents", tags=["documents"], route_class=ThreadedRoute)
CHUNK = 1024 * 1024


def done(c: ContainerDep, result: CommandResult) -> Created:
    """The command's answer, once the read models show its events (read-your-writes)."""
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


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


@router.post("", status_code=status.HTTP_201_CREATED)
def create_draft(
    who: CurrentUser,
    c: ContainerDep,
    out: OutgoingDep,
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
    result = drafting.create_draft(out, who, meta, file.file, file.filename or "")
    return done(c, result)


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
            who.agency_id, limit=limit, cursor=decode_cursor(cursor), status=status)
        return Page(items=items, total=None, limit=limit, offset=0,
                    next_cursor=encode_cursor(after))
    items, total = await c.queries.list_documents(
        who.agency_id, limit=limit, offset=offset, status=status
    )
    more = offset + len(items) < total
    after = (items[-1]["updated_at"], UUID(str(items[-1]["id"]))) if items and more else None
    return Page(items=items, total=total, limit=limit, offset=offset,
                next_cursor=encode_cursor(after))


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
    out: OutgoingDep,
    if_match: IfMatch,
    file: Annotated[UploadFile, File(description="The PDF of the new revision")],
    note: Annotated[str, Form()] = "",
    expected_version: Annotated[int | None, Form()] = None,
) -> Created:
    """Tải lên bản sửa / Upload a new PDF revision of a draft (official, leader)."""
    version = pick_version(if_match, expected_version)
    result = drafting.upload_revision(
        out, who, document_id, file.file, file.filename or "", note, version
    )
    return done(c, result)


@router.post("/{document_id}/appendices", status_code=status.HTTP_201_CREATED)
def attach_appendix(
    document_id: UUID,
    who: CurrentUser,
    c: ContainerDep,
    out: OutgoingDep,
    if_match: IfMatch,
    file: Annotated[UploadFile, File(description="The appendix PDF (phụ lục)")],
    title: Annotated[str, Form(description="Tên phụ lục / appendix title")],
    expected_version: Annotated[int | None, Form()] = None,
) -> Created:
    """Đính kèm phụ lục / Attach a separate appendix PDF to a draft (official, leader)."""
    version = pick_version(if_match, expected_version)
    result = drafting.attach_appendix(
        out, who, document_id, file.file, file.filename or "", title, version)
    return done(c, result)


@router.get("/{document_id}/appendices/{number}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def download_appendix(
    document_id: UUID, number: int, who: CurrentUser, out: OutgoingDep
) -> StreamingResponse:
    """Tải phụ lục / Download an appendix (with the agency signature once sealed)."""
    return stream_file(drafting.download_appendix(out, who, document_id, number))


@router.post("/{document_id}/comments", status_code=status.HTTP_201_CREATED)
def comment(
    document_id: UUID, body: CommentIn, who: CurrentUser, c: ContainerDep, out: OutgoingDep,
    if_match: IfMatch,
) -> Created:
    """Góp ý / Comment on the current revision."""
    version = pick_version(if_match, body.expected_version)
    result = drafting.comment(out, who, document_id, body.text, version)
    return done(c, result)


def _stream(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


@router.get("/{document_id}/revisions/{revision}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def download_revision(
    document_id: UUID, revision: int, who: CurrentUser, out: OutgoingDep
) -> StreamingResponse:
    """Tải văn bản / Download a revision's PDF; the download is recorded."""
    return stream_file(drafting.download(out, who, document_id, revision))


@router.get("/{document_id}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}}}})
def download_current(document_id: UUID, who: CurrentUser,
                     out: OutgoingDep) -> StreamingResponse:
    """Tải bản mới nhất / Download the latest PDF (the sealed one once sealed); recorded."""
    return stream_file(drafting.download(out, who, document_id, None))


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
def history(document_id: UUID, who: CurrentUser, out: OutgoingDep) -> list[dict[str, Any]]:
    """Lịch sử xử lý / Every event of the document, oldest first: who, when, what."""
    return history_rows(drafting.history(out, who, document_id))


def history_rows(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    """History entries as the API shows them."""
    return [
        {"stream": e.stream, "version": e.version, "type": e.type,
         "time": e.time.isoformat(),
         "actor": e.actor, "payload": e.payload}
        for e in entries
    ]


workflow_router = APIRouter(prefix="/documents", tags=["workflow"], route_class=ThreadedRoute)
validate_router = APIRouter(tags=["validation"], route_class=ThreadedRoute)


class NoteIn(BaseModel):
    """A note or comment with the version the caller last saw."""

    # Another NoteIn exists, so the served schema is named after this one's module; it was
    # first published as api.routes.workflow, and /openapi.json must not change.
    __module__ = "api.routes.workflow"

    text: str = ""
    expected_version: int | None = None


class SignIn(BaseModel):
    """How the leader signs (Decree 30, Art. 13)."""

    capacity: SigningCapacity = Field(
        SigningCapacity.OWN, description="own right, KT., TM., TUQ. or TL.")
    principal_title: str = Field(
        "", description="Title of the person or body signed for, e.g. 'Giám đốc'",
        examples=["Giám đốc"])
    expected_version: int | None = None


class VersionIn(BaseModel):
    """Only the version the caller last saw."""

    expected_version: int | None = None


@workflow_router.post("/{document_id}/submit")
def submit(document_id: UUID, body: NoteIn, who: CurrentUser, c: ContainerDep,
           out: OutgoingDep, if_match: IfMatch) -> Created:
    """Trình duyệt / Submit the current revision for approval (official, leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, approval.submit(out, who, document_id, body.text, version))


@workflow_router.post("/{document_id}/approve")
def approve(document_id: UUID, body: NoteIn, who: CurrentUser, c: ContainerDep,
            out: OutgoingDep, if_match: IfMatch) -> Created:
    """Phê duyệt / Approve the submitted revision (leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, approval.approve(out, who, document_id, body.text, version))


@workflow_router.post("/{document_id}/return")
def return_for_revision(document_id: UUID, body: NoteIn, who: CurrentUser, c: ContainerDep,
                        out: OutgoingDep, if_match: IfMatch) -> Created:
    """Trả lại / Return the draft to its drafter with a comment (leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, approval.return_for_revision(out, who, document_id, body.text,
                                                    version))


@workflow_router.post("/{document_id}/sign")
def sign(document_id: UUID, body: SignIn, who: CurrentUser, c: ContainerDep,
         out: OutgoingDep, if_match: IfMatch) -> Created:
    """Ký số / The leader signs the approved revision with their own key (PAdES)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, signing.sign(out, who, document_id, body.capacity,
                                 body.principal_title, version))


@workflow_router.post("/{document_id}/number")
def number(document_id: UUID, body: VersionIn, who: CurrentUser, c: ContainerDep,
           out: OutgoingDep, if_match: IfMatch) -> Created:
    """Cấp số / The clerk gives the next number and date, written into the PDF (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, numbering.number(out, who, document_id, version))


@workflow_router.post("/{document_id}/seal")
def seal(document_id: UUID, body: VersionIn, who: CurrentUser, c: ContainerDep,
         out: OutgoingDep, if_match: IfMatch) -> Created:
    """Ký số của cơ quan / The clerk applies the agency's digital signature (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, sealing.seal(out, who, document_id, version))


def _report(report: str | ReportDict) -> HTMLResponse | JSONResponse:
    if isinstance(report, str):
        return HTMLResponse(report, headers={"Content-Security-Policy": csp_for_page(report)})
    return JSONResponse(report)


@workflow_router.get("/{document_id}/validation")
def latest_validation(
    document_id: UUID, who: CurrentUser, out: OutgoingDep,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Any:
    """Báo cáo kiểm tra chữ ký / Validation report of the document's latest PDF."""
    return _report(validation.validate_document(out, who, document_id, format == "html"))


@validate_router.post("/validate")
def validate_upload(
    who: CurrentUser, out: OutgoingDep,
    file: Annotated[UploadFile, File(description="Any PDF to check")],
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Any:
    """Kiểm tra chữ ký số / Validate the signatures of any PDF (any signed-in user; not stored)."""
    return _report(validation.validate_upload(out, file.file, format == "html"))
