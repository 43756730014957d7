"""Approval and the signing chain: submit, approve, return, sign, number, seal, validate."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import ContainerDep, IfMatch, pick_version
from api.headers import csp_for_page
from api.schemas import Created
from docmgmt.domain.common import SigningCapacity
from docmgmt.kernel.store import CommandResult

router = APIRouter(prefix="/documents", tags=["workflow"])
validate_router = APIRouter(tags=["validation"])


class NoteIn(BaseModel):
    """A note or comment with the version the caller last saw."""

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


def done(c: ContainerDep, result: CommandResult) -> Created:
    """The command's answer, once the read models show its events (read-your-writes)."""
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


@router.post("/{document_id}/submit")
def submit(document_id: UUID, body: NoteIn, who: CurrentUser, c: ContainerDep,
           if_match: IfMatch) -> Created:
    """Trình duyệt / Submit the current revision for approval (official, leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, c.write.workflow.submit(who, document_id, body.text, version))


@router.post("/{document_id}/approve")
def approve(document_id: UUID, body: NoteIn, who: CurrentUser, c: ContainerDep,
            if_match: IfMatch) -> Created:
    """Phê duyệt / Approve the submitted revision (leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, c.write.workflow.approve(who, document_id, body.text, version))


@router.post("/{document_id}/return")
def return_for_revision(document_id: UUID, body: NoteIn, who: CurrentUser, c: ContainerDep,
                        if_match: IfMatch) -> Created:
    """Trả lại / Return the draft to its drafter with a comment (leader)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, c.write.workflow.return_for_revision(who, document_id, body.text, version))


@router.post("/{document_id}/sign")
def sign(document_id: UUID, body: SignIn, who: CurrentUser, c: ContainerDep,
         if_match: IfMatch) -> Created:
    """Ký số / The leader signs the approved revision with their own key (PAdES)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, c.write.workflow.sign(who, document_id, body.capacity,
                                          body.principal_title, version))


@router.post("/{document_id}/number")
def number(document_id: UUID, body: VersionIn, who: CurrentUser, c: ContainerDep,
           if_match: IfMatch) -> Created:
    """Cấp số / The clerk gives the next number and date, written into the PDF (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, c.write.workflow.number(who, document_id, version))


@router.post("/{document_id}/seal")
def seal(document_id: UUID, body: VersionIn, who: CurrentUser, c: ContainerDep,
         if_match: IfMatch) -> Created:
    """Ký số của cơ quan / The clerk applies the agency's digital signature (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, c.write.workflow.seal(who, document_id, version))


def _report_response(path: Path, fmt: str, c: ContainerDep) -> Any:
    if fmt == "html":
        page = c.write.signing.validate_html(path)
        return HTMLResponse(page, headers={"Content-Security-Policy": csp_for_page(page)})
    return JSONResponse(c.write.signing.validate(path))


@router.get("/{document_id}/validation")
def latest_validation(
    document_id: UUID, who: CurrentUser, c: ContainerDep,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Any:
    """Báo cáo kiểm tra chữ ký / Validation report of the document's latest PDF."""
    document = c.write.workflow.document(who, document_id)
    latest = document.latest_file
    with c.write.blobs.open_verified(latest.key, latest.sha256) as fh, \
            tempfile.TemporaryDirectory(dir=c.settings.spool_dir) as tmp:
        path = Path(tmp) / "doc.pdf"
        with path.open("wb") as out:
            shutil.copyfileobj(fh, out, 1024 * 1024)
        return _report_response(path, format, c)


@validate_router.post("/validate")
def validate_upload(
    who: CurrentUser, c: ContainerDep,
    file: Annotated[UploadFile, File(description="Any PDF to check")],
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Any:
    """Kiểm tra chữ ký số / Validate the signatures of any PDF (any signed-in user; not stored)."""
    with c.write.documents.spool(file.file, max_size=c.settings.max_upload_bytes) as up:
        # Read within the intake budget first; active content is reported, not refused.
        c.write.documents.inspector.check_structure(up.path)
        return _report_response(up.path, format, c)
