"""Use cases: authorisation, file intake and the commands they lead to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from docmgmt.domain.common import (
    Confidentiality,
    DocumentType,
    FileRef,
    Role,
    Urgency,
    require_text,
)
from docmgmt.domain.errors import (
    DocumentNotFoundError,
    FileTooLargeError,
)
from docmgmt.domain.outgoing import MAX_SUMMARY, OutgoingDocument
from docmgmt.kernel.newblobs import BlobClaims, NewBlobs, ThreadBlobClaims, removed_unless_saved
from docmgmt.kernel.ports import BlobStore, PdfInspector, Spooled, Spooler
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt, HistoryEntry

DOCUMENT_READERS = (Role.OFFICIAL, Role.LEADER, Role.CLERK, Role.AUDITOR)
DOCUMENT_WRITERS = (Role.OFFICIAL, Role.LEADER)
COMMENTERS = (Role.OFFICIAL, Role.LEADER, Role.CLERK)


@dataclass(frozen=True)
class DraftRequest:
    """Metadata of a new draft."""

    summary: str
    doc_type: DocumentType
    urgency: Urgency = Urgency.NORMAL
    confidentiality: Confidentiality = Confidentiality.NORMAL
    legal_normative: bool = False


@dataclass
class DocumentService:
    """Outgoing-document use cases, each authorised by role and agency."""

    app: DocMgmt
    blobs: BlobStore
    inspector: PdfInspector
    spool: Spooler
    max_upload_bytes: int
    claims: BlobClaims = field(default_factory=ThreadBlobClaims)

    def _new_blobs(self) -> ContextManager[NewBlobs]:
        # An upload that loses a race (or is refused) after storing removes its own file.
        return removed_unless_saved(self.app, self.blobs, self.claims)

    def _intake(self, stream: BinaryIO, file_name: str, new: NewBlobs) -> FileRef:
        # Bytes are stored before the event that names them; rejected input stores nothing.
        with self._spooled(stream) as up:
            facts = self.inspector.inspect(up.path)
            key = new.put_file(up.path, up.sha256, up.size)
            return FileRef(key=key, sha256=up.sha256, size=up.size,
                           page_count=facts.page_count, file_name=_clean_name(file_name))

    @contextlib.contextmanager
    def _spooled(self, stream: BinaryIO) -> Iterator[Spooled]:
        try:
            with self.spool(stream, max_size=self.max_upload_bytes) as up:
                yield up
        except FileTooLargeError:
            raise
        except Exception as exc:
            if getattr(exc, "code", None) == "file_too_large":
                raise FileTooLargeError(
                    f"the file is larger than the limit of {self.max_upload_bytes} bytes",
                    limit=self.max_upload_bytes,
                ) from None
            raise

    def create_draft(
        self, who: Principal, meta: DraftRequest, stream: BinaryIO, file_name: str
    ) -> CommandResult:
        """An official drafts a document in their agency from an uploaded PDF."""
        who.require(*DOCUMENT_WRITERS)
        # Check the metadata before storing a byte: a refused draft leaves no orphan.
        require_text("summary", meta.summary, max_len=MAX_SUMMARY)
        with self._new_blobs() as new:
            file = self._intake(stream, file_name, new)
            return self.app.draft_document(
                agency_id=who.agency_id, unit_id=who.unit_id, summary=meta.summary,
                doc_type=meta.doc_type, urgency=meta.urgency,
                confidentiality=meta.confidentiality, legal_normative=meta.legal_normative,
                file=file, actor=who.actor,
            )

    def upload_revision(
        self, who: Principal, document_id: UUID, stream: BinaryIO, file_name: str,
        note: str, expected_version: int | None,
    ) -> CommandResult:
        """Upload a new PDF revision of a draft."""
        who.require(*DOCUMENT_WRITERS)
        document = self.get(who, document_id)
        self.app.check_version(document, expected_version)
        with self._new_blobs() as new:
            file = self._intake(stream, file_name, new)
            return self.app.upload_revision(document_id, file, note, who.actor,
                                            expected_version)

    def attach_appendix(
        self, who: Principal, document_id: UUID, stream: BinaryIO, file_name: str,
        title: str, expected_version: int | None,
    ) -> CommandResult:
        """Attach a separate appendix PDF to a draft."""
        who.require(*DOCUMENT_WRITERS)
        document = self.get(who, document_id)
        self.app.check_version(document, expected_version)
        require_text("title", title, max_len=MAX_SUMMARY)
        with self._new_blobs() as new:
            file = self._intake(stream, file_name, new)
            return self.app.attach_appendix(document_id, title, file, who.actor,
                                            expected_version)

    def comment(
        self, who: Principal, document_id: UUID, text: str, expected_version: int | None
    ) -> CommandResult:
        """Comment on a document."""
        who.require(*COMMENTERS)
        self.get(who, document_id)
        return self.app.comment(document_id, text, who.actor, expected_version)

    def get(self, who: Principal, document_id: UUID) -> OutgoingDocument:
        """A document of the caller's agency (others are reported as not found)."""
        who.require(*DOCUMENT_READERS)
        document = self.app.get_document(document_id)
        if document.agency_id != who.agency_id:
            raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found")
        return document

    def history(self, who: Principal, document_id: UUID) -> list[HistoryEntry]:
        """Every event of a document, oldest first."""
        self.get(who, document_id)
        return self.app.history(document_id)

    @contextlib.contextmanager
    def download_appendix(
        self, who: Principal, document_id: UUID, number: int
    ) -> Iterator[tuple[int, FileRef, BinaryIO]]:
        """Open an appendix (sealed once the document is) and record the download."""
        document = self.get(who, document_id)
        appendix = document.appendix(number)
        wanted = appendix.sealed_file or appendix.file
        with self.blobs.open_verified(wanted.key, wanted.sha256) as fh:
            self.app.record_view(document_id, document.current_revision.number, wanted.sha256,
                                 f"download:appendix:{number}", who.actor)
            yield number, wanted, fh

    @contextlib.contextmanager
    def download(
        self, who: Principal, document_id: UUID, revision: int | None
    ) -> Iterator[tuple[int, FileRef, BinaryIO]]:
        """Open a verified revision (None: the latest PDF, signed or sealed once it is) and
        record the download as a view."""
        document = self.get(who, document_id)
        if revision is None:
            number, wanted, purpose = (document.current_revision.number, document.latest_file,
                                       f"download:{document.status.value}")
        else:
            number, wanted, purpose = revision, document.revision(revision).file, "download"
        with self.blobs.open_verified(wanted.key, wanted.sha256) as fh:
            # Only bytes that passed the digest check are ever served, and only after the
            # view is on record.
            self.app.record_view(document_id, number, wanted.sha256, purpose, who.actor)
            yield number, wanted, fh


def _clean_name(file_name: str) -> str:
    name = Path(file_name.replace("\\", "/")).name.strip() or "document.pdf"
    return "".join(c for c in name if c.isprintable())[:255]
