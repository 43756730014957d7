"""Drafting steps: draft, revise, comment, attach an appendix; reading: download, history."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID

from docmgmt.domain.common import Confidentiality, DocumentType, FileRef, Urgency, require_text
from docmgmt.domain.outgoing import MAX_SUMMARY, OutgoingDocument
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, HistoryEntry, open_recorded
from docmgmt.outgoing.context import (
    DOCUMENT_WRITERS,
    STEP_ROLES,
    OutgoingContext,
    load_document,
)
from docmgmt.outgoing.files import intake, new_blobs


@dataclass(frozen=True)
class DraftRequest:
    """Metadata of a new draft."""

    summary: str
    doc_type: DocumentType
    urgency: Urgency = Urgency.NORMAL
    confidentiality: Confidentiality = Confidentiality.NORMAL
    legal_normative: bool = False


def create_draft(
    ctx: OutgoingContext, who: Principal, meta: DraftRequest, stream: BinaryIO, file_name: str
) -> CommandResult:
    """An official drafts a document in their agency from an uploaded PDF."""
    who.require(*DOCUMENT_WRITERS)
    # Check the metadata before storing a byte: a refused draft leaves no orphan.
    require_text("summary", meta.summary, max_len=MAX_SUMMARY)
    with new_blobs(ctx) as new:
        file = intake(ctx, stream, file_name, new)
        document = OutgoingDocument.draft(
            agency_id=who.agency_id, unit_id=who.unit_id, summary=meta.summary,
            doc_type=meta.doc_type, urgency=meta.urgency,
            confidentiality=meta.confidentiality, legal_normative=meta.legal_normative,
            file=file, actor=who.actor,
        )
        return ctx.store.commit(document)


def upload_revision(
    ctx: OutgoingContext, who: Principal, document_id: UUID, stream: BinaryIO,
    file_name: str, note: str, expected_version: int | None,
) -> CommandResult:
    """Upload a new PDF revision of a draft."""
    who.require(*STEP_ROLES["revise"])
    document = load_document(ctx, who, document_id, expected_version)
    with new_blobs(ctx) as new:
        file = intake(ctx, stream, file_name, new)
        document.upload_revision(file, note, who.actor)
        return ctx.store.commit(document)


def attach_appendix(
    ctx: OutgoingContext, who: Principal, document_id: UUID, stream: BinaryIO,
    file_name: str, title: str, expected_version: int | None,
) -> CommandResult:
    """Attach a separate appendix PDF to a draft."""
    who.require(*STEP_ROLES["appendix"])
    document = load_document(ctx, who, document_id, expected_version)
    require_text("title", title, max_len=MAX_SUMMARY)
    with new_blobs(ctx) as new:
        file = intake(ctx, stream, file_name, new)
        document.attach_appendix(title, file, who.actor)
        return ctx.store.commit(document)


def comment(
    ctx: OutgoingContext, who: Principal, document_id: UUID, text: str,
    expected_version: int | None,
) -> CommandResult:
    """Comment on a document's current revision."""
    who.require(*STEP_ROLES["comment"])
    document = load_document(ctx, who, document_id, expected_version)
    document.comment(text, who.actor)
    return ctx.store.commit(document)


def history(ctx: OutgoingContext, who: Principal, document_id: UUID) -> list[HistoryEntry]:
    """Every event of a document and of its access log, oldest first."""
    load_document(ctx, who, document_id)
    return ctx.store.history(document_id)


@contextlib.contextmanager
def download(
    ctx: OutgoingContext, who: Principal, document_id: UUID, revision: int | None
) -> Iterator[tuple[int, FileRef, BinaryIO]]:
    """Open a verified revision (None: the latest PDF, signed or sealed once it is) and
    record the download as a view."""
    document = load_document(ctx, who, document_id)
    if revision is None:
        number, wanted, purpose = (document.current_revision.number, document.latest_file,
                                   f"download:{document.status.value}")
    else:
        number, wanted, purpose = revision, document.revision(revision).file, "download"
    with open_recorded(ctx.store, ctx.blobs, document_id, number, wanted, purpose,
                       who.actor) as fh:
        yield number, wanted, fh


@contextlib.contextmanager
def download_appendix(
    ctx: OutgoingContext, who: Principal, document_id: UUID, number: int
) -> Iterator[tuple[int, FileRef, BinaryIO]]:
    """Open an appendix (sealed once the document is) and record the download."""
    document = load_document(ctx, who, document_id)
    appendix = document.appendix(number)
    wanted = appendix.sealed_file or appendix.file
    with open_recorded(ctx.store, ctx.blobs, document_id, document.current_revision.number,
                       wanted, f"download:appendix:{number}", who.actor) as fh:
        yield number, wanted, fh
