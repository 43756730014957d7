"""Approval, signing, numbering and sealing use cases (Decree 30, Art. 13-15 and 32)."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from docmgmt.domain.common import DocumentType, FileRef, Role, SigningCapacity
from docmgmt.domain.errors import InvalidStateError
from docmgmt.domain.outgoing import OutgoingDocument, Registration, Status
from docmgmt.domain.register import Series
from docmgmt.kernel.newblobs import BlobClaims, NewBlobs, ThreadBlobClaims, removed_unless_saved
from docmgmt.kernel.ports import BlobStore
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt
from docmgmt.services import DocumentService
from signing.port import (
    AgencyIdentity,
    PdfSigningPort,
    SignerIdentity,
    competent_signature_valid,
    summarise,
)

VIETNAM = timezone(timedelta(hours=7), "+07:00")


class RegisterLock(Protocol):
    """Serialises numbering per register, across threads and processes."""

    def hold(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold the lock for the block."""


class ThreadRegisterLock:
    """In-process register lock (tests on in-memory persistence)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the lock for the block."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


def _require_status(document: OutgoingDocument, status: Status, action: str) -> None:
    # Checked before any file is made: a refused step stores nothing.
    if document.status is not status:
        raise InvalidStateError(
            f"cannot {action}: the document is {document.status.value}, it must be "
            f"{status.value}", status=document.status.value)


def date_label(day: date) -> str:
    """Decree 30 date form: days below 10 and months below 3 take a leading zero."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def document_code(doc_type: DocumentType, agency_code: str, unit_code: str | None) -> str:
    """Ký hiệu: "QĐ-STTTT" for named types; "STTTT-VP" for công văn (Annex I)."""
    if doc_type is DocumentType.CONG_VAN:
        return f"{agency_code}-{unit_code}" if unit_code else agency_code
    return f"{doc_type.value}-{agency_code}"


@dataclass
class WorkflowService:
    """Approval and the signing chain, each step authorised and recorded as an event."""

    documents: DocumentService
    signing: PdfSigningPort
    locks: RegisterLock
    work_dir: Path
    clock: Any = field(default=lambda: datetime.now(VIETNAM))
    claims: BlobClaims = field(default_factory=ThreadBlobClaims)

    @property
    def app(self) -> DocMgmt:
        """The write-side application."""
        return self.documents.app

    @property
    def blobs(self) -> BlobStore:
        """The object store."""
        return self.documents.blobs

    # --- approval ----------------------------------------------------------------------

    def submit(self, who: Principal, document_id: UUID, note: str,
               expected_version: int | None) -> CommandResult:
        """The drafter submits the current revision for approval."""
        who.require(Role.OFFICIAL, Role.LEADER)
        self.documents.get(who, document_id)
        return self.app.submit_for_approval(document_id, note, who.actor, expected_version)

    def approve(self, who: Principal, document_id: UUID, comment: str,
                expected_version: int | None) -> CommandResult:
        """A leader approves."""
        who.require(Role.LEADER)
        self.documents.get(who, document_id)
        return self.app.approve(document_id, comment, who.actor, expected_version)

    def return_for_revision(self, who: Principal, document_id: UUID, comment: str,
                            expected_version: int | None) -> CommandResult:
        """A leader returns the draft with a comment."""
        who.require(Role.LEADER)
        self.documents.get(who, document_id)
        return self.app.return_for_revision(document_id, comment, who.actor, expected_version)

    # --- files -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _workspace(self, source: FileRef) -> Iterator[tuple[Path, Path]]:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as tmp:
            src, dst = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
            with self.blobs.open_verified(source.key, source.sha256) as fh, src.open("wb") as out:
                shutil.copyfileobj(fh, out, 1024 * 1024)
            yield src, dst

    def _new_blobs(self) -> contextlib.AbstractContextManager[NewBlobs]:
        # A step that fails after storing (a lost race above all) removes its own files.
        return removed_unless_saved(self.app, self.blobs, self.claims)

    @staticmethod
    def _store(new: NewBlobs, path: Path, like: FileRef, suffix: str) -> FileRef:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
        size = path.stat().st_size
        key = new.put_file(path, digest.hexdigest(), size)
        stem = like.file_name.removesuffix(".pdf")
        return FileRef(key=key, sha256=digest.hexdigest(), size=size,
                       page_count=like.page_count, file_name=f"{stem}.{suffix}.pdf")

    # --- signing chain -----------------------------------------------------------------

    def sign(self, who: Principal, document_id: UUID, capacity: SigningCapacity,
             principal_title: str, expected_version: int | None) -> CommandResult:
        """The leader signs the exact approved revision with their own key."""
        who.require(Role.LEADER)
        document = self.documents.get(who, document_id)
        self.app.check_version(document, expected_version)
        approved = document.approved_file()
        user = self.app.get_user(who.user_id)
        signer = SignerIdentity(user.id, user.username, user.full_name, user.title)
        capacity_line = SigningCapacity(capacity).line(principal_title or user.title)
        agency = self.app.get_agency(document.agency_id)
        with self._workspace(approved) as (src, dst):
            outcome = self.signing.sign_as_leader(
                src, dst, signer=signer,
                agency=AgencyIdentity(agency.id, agency.code, agency.name),
                capacity_line=capacity_line)
            if not competent_signature_valid(outcome.report):
                raise InvalidStateError("the new signature does not validate",
                                        report=summarise(outcome.report))
            with self._new_blobs() as new:
                output = self._store(new, dst, approved, "signed")
                payload = outcome.payload() | {"capacity_line": capacity_line}
                return self.app.record_signature(
                    document_id, capacity=capacity, signer_title=user.title,
                    input_sha256=approved.sha256, output=output, signature=payload,
                    actor=who.actor, expected_version=document.version)

    def number(self, who: Principal, document_id: UUID,
               expected_version: int | None) -> CommandResult:
        """The clerk gives the next number of the register and writes it into the PDF."""
        who.require(Role.CLERK)
        document = self.documents.get(who, document_id)
        self.app.check_version(document, expected_version)
        _require_status(document, Status.SIGNED, "number")
        agency = self.app.get_agency(document.agency_id)
        unit = agency.units.get(document.unit_id) if document.unit_id else None
        today = self.clock().astimezone(VIETNAM).date()
        series = Series.LEGAL if document.legal_normative else Series.GENERAL
        code = document_code(document.doc_type, agency.code, unit.code if unit else None)
        with self.locks.hold(f"{document.agency_id}:{today.year}:{series.value}"):
            document = self.documents.get(who, document_id)
            number = self.app.next_number(document.agency_id, today.year, series)
            registration = Registration(number, code, today.isoformat(), today.year,
                                        series.value)
            # Numbered by someone else while we waited for the register?
            _require_status(document, Status.SIGNED, "number")
            signed = document.signed_file
            if signed is None:  # pragma: no cover - a signed document has its signed file
                raise InvalidStateError("the signed PDF is missing")
            with self._workspace(signed) as (src, dst):
                report = self.signing.write_number(
                    src, dst, number_label=f"Số: {registration.label}",
                    date_label=date_label(today))
                if not competent_signature_valid(report):
                    raise InvalidStateError(
                        "writing the number would break the leader's signature",
                        report=summarise(report))
                with self._new_blobs() as new:
                    output = self._store(new, dst, signed, "numbered")
                    return self.app.record_number(
                        document_id, registration=registration, input_sha256=signed.sha256,
                        output=output, validation=summarise(report), actor=who.actor,
                        expected_version=document.version)

    def seal(self, who: Principal, document_id: UUID,
             expected_version: int | None) -> CommandResult:
        """The clerk applies the agency signature over a valid competent signature."""
        who.require(Role.CLERK)
        document = self.documents.get(who, document_id)
        self.app.check_version(document, expected_version)
        _require_status(document, Status.NUMBERED, "seal")
        agency = self.app.get_agency(document.agency_id)
        numbered = document.numbered_file
        if numbered is None:  # pragma: no cover - a numbered document has its numbered file
            raise InvalidStateError("the numbered PDF is missing")
        with self._new_blobs() as new:
            with self._workspace(numbered) as (src, dst):
                before = self.signing.validate(src)
                if not competent_signature_valid(before):
                    raise InvalidStateError(
                        "the competent person's signature does not validate",
                        report=summarise(before))
                identity = AgencyIdentity(agency.id, agency.code, agency.name)
                outcome = self.signing.seal(src, dst, agency=identity)
                output = self._store(new, dst, numbered, "sealed")
            label = document.registration.label if document.registration else ""
            sealed_appendices = []
            for appendix in document.appendices:
                with self._workspace(appendix.file) as (src, dst):
                    self.signing.seal_appendix(src, dst, agency=identity,
                                               number_label=f"Số: {label}")
                    sealed_appendices.append(self._store(
                        new, dst, appendix.file, f"appendix-{appendix.number}.sealed"))
            return self.app.record_seal(
                document_id, input_sha256=numbered.sha256, output=output,
                signature=outcome.payload(),
                competent_signature_valid=competent_signature_valid(outcome.report),
                actor=who.actor, expected_version=document.version,
                appendices=sealed_appendices)

    def document(self, who: Principal, document_id: UUID) -> OutgoingDocument:
        """A document in the caller's reach."""
        return self.documents.get(who, document_id)

