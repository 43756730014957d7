"""Outgoing official document (văn bản đi): drafts, revisions, comments, views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import (
    Actor,
    Confidentiality,
    DocumentType,
    FilePayload,
    FileRef,
    LinkRef,
    SigningCapacity,
    Urgency,
    require_text,
)
from docmgmt.domain.errors import (
    InvalidInputError,
    InvalidStateError,
    RevisionNotFoundError,
    SignatureRequestClosedError,
)
from docmgmt.domain.snapshots import PrimitiveSnapshot

MAX_SUMMARY = 1000
MAX_COMMENT = 4000


class Status(StrEnum):
    """Where the document stands in its life (Decree 30, Art. 14 order)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    SIGNED = "signed"
    NUMBERED = "numbered"
    SEALED = "sealed"
    DISPATCHED = "dispatched"
    RECALLED = "recalled"


class Relation(StrEnum):
    """How a new document relates to one already issued (Decree 30, Art. 30)."""

    REPLACES = "replaces"  # văn bản thay thế: fixes the content of the earlier one
    CORRECTS = "corrects"  # văn bản đính chính: fixes its format


class Delivery(StrEnum):
    """Where one recipient's copy stands, as the sender sees it."""

    EXTERNAL = "external"  # sent outside the system, recorded by name only
    PENDING = "pending"
    DELIVERED = "delivered"
    REGISTERED = "registered"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    RECALL_CONFIRMED = "recall_confirmed"


EDITABLE = (Status.DRAFT, Status.RETURNED)

# The statuses each step may start from: the aggregate and the steps check them, the pages
# offer a step's form only then.
STEP_STATUSES: dict[str, tuple[Status, ...]] = {
    "revise": EDITABLE,
    "appendix": EDITABLE,
    "link": EDITABLE,
    "submit": EDITABLE,
    "approve": (Status.SUBMITTED,),
    "return": (Status.SUBMITTED, Status.APPROVED),
    "sign": (Status.APPROVED,),
    "number": (Status.SIGNED,),
    "seal": (Status.NUMBERED,),
    "dispatch": (Status.SEALED,),
    "recall": (Status.DISPATCHED,),
}


class RecipientRef(TypedDict):
    """An agency in the system the document is issued to, as ``Dispatched`` records it."""

    agency_id: str
    code: str
    name: str


class RecipientState(RecipientRef):
    """One recipient's copy as the sender tracks it (``OutgoingDocument.recipients``)."""

    state: str
    incoming_id: str | None
    arrival_label: str | None
    reason: str | None


@dataclass(frozen=True)
class Registration:
    """Số, ký hiệu và ngày ban hành: the number the clerk gave the document."""

    number: int
    code: str
    date: str
    year: int
    series: str

    @property
    def label(self) -> str:
        """The printed form: "05/QĐ-STTTT"; legal normative documents carry the year,
        "05/2026/QĐ-UBND" (Law on Promulgation of Legal Normative Documents, Art. 8)."""
        if self.series == "legal":
            return f"{self.number:02d}/{self.year}/{self.code}"
        return f"{self.number:02d}/{self.code}"


@dataclass(frozen=True)
class Revision:
    """One uploaded PDF version of the draft."""

    number: int
    file: FileRef
    note: str
    uploaded_by: UUID
    uploaded_at: datetime


@dataclass(frozen=True)
class Appendix:
    """A separate appendix file (phụ lục) issued with the document."""

    number: int
    title: str
    file: FileRef
    sealed_file: FileRef | None = None


class OutgoingDocument(Aggregate):
    """A document the agency drafts, signs and issues."""

    class Snapshot(PrimitiveSnapshot):
        """A document's state as JSON primitives (see encode_snapshot_state)."""

    class Drafted(Aggregate.Created):
        """An official drafted the document with its first PDF revision."""

        agency_id: UUID
        unit_id: UUID | None
        summary: str
        doc_type: str
        urgency: str
        confidentiality: str
        legal_normative: bool
        file: FilePayload
        actor: dict[str, str]

    class RevisionUploaded(Aggregate.Event):
        """A new PDF revision replaced the previous one as current."""

        revision: int
        file: FilePayload
        note: str
        actor: dict[str, str]

    class Commented(Aggregate.Event):
        """Someone commented on the draft (on a given revision)."""

        revision: int
        text: str
        actor: dict[str, str]

    class AppendixAttached(Aggregate.Event):
        """A separate appendix file was attached to the draft."""

        appendix: int
        title: str
        file: FilePayload
        actor: dict[str, str]

    class SubmittedForApproval(Aggregate.Event):
        """The drafter submitted the current revision to a leader."""

        revision: int
        note: str
        actor: dict[str, str]

    class Approved(Aggregate.Event):
        """A leader approved the submitted revision."""

        revision: int
        comment: str
        actor: dict[str, str]

    class ReturnedForRevision(Aggregate.Event):
        """A leader sent the draft back with a comment."""

        revision: int
        comment: str
        actor: dict[str, str]

    class Signed(Aggregate.Event):
        """The competent person signed the approved revision (PAdES)."""

        revision: int
        capacity: str
        signer_title: str
        input_sha256: str
        file: FilePayload
        signature: dict[str, Any]
        actor: dict[str, str]

    class SignatureRequested(Aggregate.Event):
        """A leader asked for their signature over the approved revision: the PDF was
        prepared (fields, appearance, byte range) and this digest must be signed."""

        request_id: str
        revision: int
        method: str
        provider: str
        certificate: dict[str, Any]
        digest: str
        mechanism: str
        prepared: FilePayload
        state: str
        capacity: str
        signer_title: str
        capacity_line: str
        expires_at: str
        batch_id: str | None
        transaction_id: str | None
        actor: dict[str, str]

    class SignatureProvided(Aggregate.Event):
        """A valid signature came back for the request (``Signed`` follows at once)."""

        request_id: str
        actor: dict[str, str]

    class SignatureRefused(Aggregate.Event):
        """The request ended without a signature: the signer declined, or what came back
        was refused (another key, another digest, not valid)."""

        request_id: str
        reason: str
        detail: str
        actor: dict[str, str]

    class SignatureExpired(Aggregate.Event):
        """No signature came back before the request expired."""

        request_id: str
        actor: dict[str, str]

    class SignatureCancelled(Aggregate.Event):
        """The request was withdrawn (by the signer, a new request, or a return)."""

        request_id: str
        reason: str
        actor: dict[str, str]

    class Numbered(Aggregate.Event):
        """The clerk gave the signed document its number and date, written into the PDF."""

        number: int
        code: str
        date: str
        year: int
        series: str
        input_sha256: str
        file: FilePayload
        validation: dict[str, Any]
        actor: dict[str, str]

    class Sealed(Aggregate.Event):
        """The clerk applied the agency's digital signature (the seal), also to appendices."""

        input_sha256: str
        file: FilePayload
        signature: dict[str, Any]
        appendices: list[FilePayload]
        actor: dict[str, str]

    class Linked(Aggregate.Event):
        """The draft was declared to replace or correct an issued document."""

        relation: str
        target_id: UUID
        target_label: str
        actor: dict[str, str]

    class Dispatched(Aggregate.Event):
        """The clerk issued the sealed document to its recipients (Nơi nhận)."""

        recipients: list[RecipientRef]
        external: list[str]
        note: str
        actor: dict[str, str]

    class DeliveredTo(Aggregate.Event):
        """A recipient agency's copy arrived (recorded by the dispatch process)."""

        agency_id: UUID
        incoming_id: UUID

    class ReceiptAcknowledged(Aggregate.Event):
        """A recipient agency registered its copy (the acknowledgement of receipt)."""

        agency_id: UUID
        arrival_label: str
        by: dict[str, str]

    class DeliveryReturned(Aggregate.Event):
        """A recipient agency returned its copy with a reason."""

        agency_id: UUID
        reason: str
        by: dict[str, str]

    class Recalled(Aggregate.Event):
        """The sender recalled the document: every recipient's copy is withdrawn."""

        reason: str
        actor: dict[str, str]

    class RecallConfirmed(Aggregate.Event):
        """A recipient agency confirmed that it withdrew its copy."""

        agency_id: UUID
        by: dict[str, str]

    @classmethod
    def draft(
        cls,
        *,
        agency_id: UUID,
        unit_id: UUID | None,
        summary: str,
        doc_type: DocumentType,
        urgency: Urgency,
        confidentiality: Confidentiality,
        legal_normative: bool,
        file: FileRef,
        actor: Actor,
    ) -> OutgoingDocument:
        """Start a draft from its first PDF revision."""
        return cls(
            agency_id=agency_id,
            unit_id=unit_id,
            summary=require_text("summary", summary, max_len=MAX_SUMMARY),
            doc_type=DocumentType(doc_type).value,
            urgency=Urgency(urgency).value,
            confidentiality=Confidentiality(confidentiality).value,
            legal_normative=bool(legal_normative),
            file=file.as_payload(),
            actor=actor.as_payload(),
        )

    @event(Drafted)
    def __init__(
        self,
        agency_id: UUID,
        unit_id: UUID | None,
        summary: str,
        doc_type: str,
        urgency: str,
        confidentiality: str,
        legal_normative: bool,
        file: FilePayload,
        actor: dict[str, str],
    ) -> None:
        self.agency_id = agency_id
        self.unit_id = unit_id
        self.summary = summary
        self.doc_type = DocumentType(doc_type)
        self.urgency = Urgency(urgency)
        self.confidentiality = Confidentiality(confidentiality)
        self.legal_normative = legal_normative
        self.status = Status.DRAFT
        self.drafted_by = UUID(actor["user_id"])
        self.revisions: list[Revision] = [
            Revision(1, FileRef.from_payload(file), "", self.drafted_by, self.created_on)
        ]
        self.comment_count = 0
        self.approved_revision: int | None = None
        self.signed_file: FileRef | None = None
        self.signed_by: UUID | None = None
        self.registration: Registration | None = None
        self.numbered_file: FileRef | None = None
        self.sealed_file: FileRef | None = None
        self.latest_validation: dict[str, Any] = {}
        self.appendices: list[Appendix] = []
        self.links: list[LinkRef] = []
        self.recipients: dict[str, RecipientState] = {}
        self.external_recipients: list[str] = []
        self.recall_reason: str | None = None
        self.signature_request: dict[str, Any] | None = None

    # --- snapshots (JSON primitives; see docmgmt.domain.snapshots) ------------------------

    @staticmethod
    def encode_snapshot_state(state: dict[str, Any]) -> dict[str, Any]:
        """Enums to values, dataclasses to dicts."""
        def file(f: FileRef | None) -> FilePayload | None:
            return None if f is None else f.as_payload().copy()

        out = dict(state)
        for name in ("doc_type", "urgency", "confidentiality", "status"):
            out[name] = state[name].value
        out["revisions"] = [
            {"number": r.number, "file": file(r.file), "note": r.note,
             "uploaded_by": r.uploaded_by, "uploaded_at": r.uploaded_at}
            for r in state["revisions"]
        ]
        for name in ("signed_file", "numbered_file", "sealed_file"):
            out[name] = file(state[name])
        reg = state["registration"]
        out["registration"] = None if reg is None else {
            "number": reg.number, "code": reg.code, "date": reg.date, "year": reg.year,
            "series": reg.series}
        out["appendices"] = [
            {"number": a.number, "title": a.title, "file": file(a.file),
             "sealed_file": file(a.sealed_file)}
            for a in state["appendices"]
        ]
        return out

    @staticmethod
    def decode_snapshot_state(state: dict[str, Any]) -> None:
        """The inverse of encode_snapshot_state, in place."""
        def file(f: FilePayload | None) -> FileRef | None:
            return None if f is None else FileRef.from_payload(f)

        state["doc_type"] = DocumentType(state["doc_type"])
        state["urgency"] = Urgency(state["urgency"])
        state["confidentiality"] = Confidentiality(state["confidentiality"])
        state["status"] = Status(state["status"])
        state["revisions"] = [
            Revision(r["number"], FileRef.from_payload(r["file"]), r["note"],
                     r["uploaded_by"], r["uploaded_at"])
            for r in state["revisions"]
        ]
        for name in ("signed_file", "numbered_file", "sealed_file"):
            state[name] = file(state[name])
        reg = state["registration"]
        state["registration"] = None if reg is None else Registration(**reg)
        state["appendices"] = [
            Appendix(a["number"], a["title"], FileRef.from_payload(a["file"]),
                     file(a["sealed_file"]))
            for a in state["appendices"]
        ]
        # Snapshots taken before dispatch existed lack these attributes.
        state.setdefault("links", [])
        state.setdefault("recipients", {})
        state.setdefault("external_recipients", [])
        state.setdefault("recall_reason", None)
        state.setdefault("signature_request", None)

    @property
    def current_revision(self) -> Revision:
        """The latest uploaded revision."""
        return self.revisions[-1]

    def revision(self, number: int) -> Revision:
        """A revision by number, or RevisionNotFoundError."""
        if not 1 <= number <= len(self.revisions):
            raise RevisionNotFoundError(f"revision {number} does not exist", revision=number)
        return self.revisions[number - 1]

    def upload_revision(self, file: FileRef, note: str, actor: Actor) -> int:
        """Add a new PDF revision while the document is still a draft."""
        self._require(STEP_STATUSES["revise"], "upload a revision")
        number = len(self.revisions) + 1
        self._revision_uploaded(number, file.as_payload(), note.strip()[:MAX_COMMENT],
                                actor.as_payload())
        return number

    @event(RevisionUploaded)
    def _revision_uploaded(
        self, revision: int, file: FilePayload, note: str, actor: dict[str, str]
    ) -> None:
        self.revisions.append(
            Revision(revision, FileRef.from_payload(file), note, UUID(actor["user_id"]),
                     self.modified_on)
        )

    def comment(self, text: str, actor: Actor) -> None:
        """Comment on the current revision."""
        body = require_text("text", text, max_len=MAX_COMMENT)
        self._commented(self.current_revision.number, body, actor.as_payload())

    @event(Commented)
    def _commented(self, revision: int, text: str, actor: dict[str, str]) -> None:
        self.comment_count += 1

    def attach_appendix(self, title: str, file: FileRef, actor: Actor) -> int:
        """Attach a separate appendix file while the document is still being drafted."""
        self._require(STEP_STATUSES["appendix"], "attach an appendix")
        number = len(self.appendices) + 1
        self._appendix_attached(number, require_text("title", title, max_len=MAX_SUMMARY),
                                file.as_payload(), actor.as_payload())
        return number

    @event(AppendixAttached)
    def _appendix_attached(self, appendix: int, title: str, file: FilePayload,
                           actor: dict[str, str]) -> None:
        self.appendices.append(Appendix(appendix, title, FileRef.from_payload(file)))

    def appendix(self, number: int) -> Appendix:
        """An appendix by number, or RevisionNotFoundError."""
        if not 1 <= number <= len(self.appendices):
            raise RevisionNotFoundError(f"appendix {number} does not exist", appendix=number)
        return self.appendices[number - 1]

    # --- approval -------------------------------------------------------------------

    def _require(self, allowed: tuple[Status, ...], action: str) -> None:
        if self.status not in allowed:
            wanted = " or ".join(s.value for s in allowed)
            raise InvalidStateError(
                f"cannot {action}: the document is {self.status.value}, it must be {wanted}",
                status=self.status.value,
            )

    @property
    def latest_file(self) -> FileRef:
        """The newest PDF: sealed, numbered, signed or the current revision."""
        return (self.sealed_file or self.numbered_file or self.signed_file
                or self.current_revision.file)

    def submit_for_approval(self, note: str, actor: Actor) -> None:
        """Send the current revision to a leader for approval."""
        self._require(STEP_STATUSES["submit"], "submit for approval")
        self._submitted(self.current_revision.number, note.strip()[:MAX_COMMENT],
                        actor.as_payload())

    @event(SubmittedForApproval)
    def _submitted(self, revision: int, note: str, actor: dict[str, str]) -> None:
        self.status = Status.SUBMITTED

    def approve(self, comment: str, actor: Actor) -> None:
        """Approve the submitted revision."""
        self._require(STEP_STATUSES["approve"], "approve")
        self._approved(self.current_revision.number, comment.strip()[:MAX_COMMENT],
                       actor.as_payload())

    @event(Approved)
    def _approved(self, revision: int, comment: str, actor: dict[str, str]) -> None:
        self.status = Status.APPROVED
        self.approved_revision = revision

    def return_for_revision(self, comment: str, actor: Actor) -> None:
        """Send the draft back to its drafter with a reason."""
        self._require(STEP_STATUSES["return"], "return for revision")
        if self.signature_request is not None:
            self.cancel_signature(self.signature_request["request_id"],
                                  "returned for revision", actor)
        self._returned(self.current_revision.number,
                       require_text("comment", comment, max_len=MAX_COMMENT),
                       actor.as_payload())

    @event(ReturnedForRevision)
    def _returned(self, revision: int, comment: str, actor: dict[str, str]) -> None:
        self.status = Status.RETURNED
        self.approved_revision = None

    # --- signing, numbering, sealing --------------------------------------------------

    def approved_file(self) -> FileRef:
        """The exact revision the leader approved (what the leader must sign)."""
        self._require(STEP_STATUSES["sign"], "sign")
        return self.revision(self.approved_revision or 0).file

    def sign(
        self, *, capacity: SigningCapacity, signer_title: str, input_sha256: str,
        output: FileRef, signature: dict[str, Any], actor: Actor,
    ) -> None:
        """Record the leader's signature over the approved revision."""
        approved = self.approved_file()
        if input_sha256 != approved.sha256:
            raise InvalidStateError("the signed input is not the approved revision")
        self._signed(self.approved_revision or 0, SigningCapacity(capacity).value,
                     signer_title.strip()[:200], input_sha256, output.as_payload(),
                     signature, actor.as_payload())

    # --- the signing process (requested -> provided + signed, or refused/expired/cancelled)

    def request_signature(
        self, *, request_id: UUID, method: str, provider: str, certificate: Mapping[str, Any],
        digest: str, mechanism: str, prepared: FileRef, state: str, capacity: SigningCapacity,
        signer_title: str, capacity_line: str, expires_at: datetime,
        batch_id: UUID | None, transaction_id: str | None, actor: Actor,
    ) -> None:
        """Open a signature request over the approved revision (one at a time)."""
        self.approved_file()
        if self.signature_request is not None:
            raise InvalidStateError(
                "a signature request is already pending for this document",
                request_id=self.signature_request["request_id"])
        if expires_at.utcoffset() is None:
            raise InvalidInputError("expires_at must carry a time zone")
        self._signature_requested(
            str(request_id), self.approved_revision or 0, method, provider, dict(certificate),
            digest, mechanism, prepared.as_payload(), state, SigningCapacity(capacity).value,
            signer_title.strip()[:200], capacity_line, expires_at.isoformat(),
            None if batch_id is None else str(batch_id), transaction_id, actor.as_payload())

    @event(SignatureRequested)
    def _signature_requested(
        self, request_id: str, revision: int, method: str, provider: str,
        certificate: dict[str, Any], digest: str, mechanism: str, prepared: FilePayload,
        state: str, capacity: str, signer_title: str, capacity_line: str, expires_at: str,
        batch_id: str | None, transaction_id: str | None, actor: dict[str, str],
    ) -> None:
        self.signature_request = {
            "request_id": request_id, "revision": revision, "method": method,
            "provider": provider, "certificate": certificate, "digest": digest,
            "mechanism": mechanism, "prepared": prepared, "state": state, "capacity": capacity,
            "signer_title": signer_title, "capacity_line": capacity_line,
            "expires_at": expires_at, "batch_id": batch_id,
            "transaction_id": transaction_id, "signer_id": actor["user_id"],
            "signer_username": actor["username"],
        }

    def pending_signature(self, request_id: UUID | str) -> dict[str, Any]:
        """The pending request with this id; SignatureRequestClosedError if it ended."""
        pending = self.signature_request
        if pending is None or pending["request_id"] != str(request_id):
            raise SignatureRequestClosedError(
                "this signature request is no longer pending (it was answered, refused, "
                "expired or cancelled)", request_id=str(request_id))
        return pending

    def provide_signature(self, request_id: UUID | str, *, output: FileRef,
                          signature: dict[str, Any], actor: Actor) -> None:
        """Record the valid signature that came back, and the signed document."""
        pending = self.pending_signature(request_id)
        self._signature_provided(pending["request_id"], actor.as_payload())
        approved = self.approved_file()
        self._signed(self.approved_revision or 0, pending["capacity"],
                     pending["signer_title"], approved.sha256, output.as_payload(),
                     signature, actor.as_payload())

    @event(SignatureProvided)
    def _signature_provided(self, request_id: str, actor: dict[str, str]) -> None:
        self.signature_request = None

    def refuse_signature(self, request_id: UUID | str, reason: str, detail: str,
                         actor: Actor) -> None:
        """End the request without a signature, saying why."""
        pending = self.pending_signature(request_id)
        self._signature_refused(pending["request_id"], reason[:100], detail.strip()[:2000],
                                actor.as_payload())

    @event(SignatureRefused)
    def _signature_refused(self, request_id: str, reason: str, detail: str,
                           actor: dict[str, str]) -> None:
        self.signature_request = None

    def expire_signature(self, request_id: UUID | str, actor: Actor) -> None:
        """End the request that nobody answered in time."""
        pending = self.pending_signature(request_id)
        self._signature_expired(pending["request_id"], actor.as_payload())

    @event(SignatureExpired)
    def _signature_expired(self, request_id: str, actor: dict[str, str]) -> None:
        self.signature_request = None

    def cancel_signature(self, request_id: UUID | str, reason: str, actor: Actor) -> None:
        """Withdraw the pending request."""
        pending = self.pending_signature(request_id)
        self._signature_cancelled(pending["request_id"], reason.strip()[:500],
                                  actor.as_payload())

    @event(SignatureCancelled)
    def _signature_cancelled(self, request_id: str, reason: str,
                             actor: dict[str, str]) -> None:
        self.signature_request = None

    @event(Signed)
    def _signed(
        self, revision: int, capacity: str, signer_title: str, input_sha256: str,
        file: FilePayload, signature: dict[str, Any], actor: dict[str, str],
    ) -> None:
        self.status = Status.SIGNED
        self.signed_file = FileRef.from_payload(file)
        self.signed_by = UUID(actor["user_id"])
        self.latest_validation = dict(signature.get("validation", {}))

    def number(
        self, *, registration: Registration, input_sha256: str, output: FileRef,
        validation: dict[str, Any], actor: Actor,
    ) -> None:
        """Record the number and date the clerk wrote into the signed PDF."""
        self._require(STEP_STATUSES["number"], "number")
        if self.signed_file is None or input_sha256 != self.signed_file.sha256:
            raise InvalidStateError("the numbered input is not the signed PDF")
        r = registration
        self._numbered(r.number, r.code, r.date, r.year, r.series, input_sha256,
                       output.as_payload(), validation, actor.as_payload())

    @event(Numbered)
    def _numbered(
        self, number: int, code: str, date: str, year: int, series: str,
        input_sha256: str, file: FilePayload, validation: dict[str, Any],
        actor: dict[str, str],
    ) -> None:
        self.status = Status.NUMBERED
        self.registration = Registration(number, code, date, year, series)
        self.numbered_file = FileRef.from_payload(file)
        self.latest_validation = dict(validation)

    def seal(
        self, *, input_sha256: str, output: FileRef, signature: dict[str, Any],
        competent_signature_valid: bool, actor: Actor, appendices: list[FileRef] | None = None,
    ) -> None:
        """Record the agency signature, allowed only over a valid competent signature."""
        self._require(STEP_STATUSES["seal"], "seal")
        if not competent_signature_valid:
            raise InvalidStateError("the competent person's signature does not validate")
        if self.numbered_file is None or input_sha256 != self.numbered_file.sha256:
            raise InvalidStateError("the sealed input is not the numbered PDF")
        sealed_appendices = list(appendices or [])
        if len(sealed_appendices) != len(self.appendices):
            raise InvalidStateError("every appendix must carry the agency signature too")
        self._sealed(input_sha256, output.as_payload(), signature,
                     [a.as_payload() for a in sealed_appendices], actor.as_payload())

    @event(Sealed)
    def _sealed(
        self, input_sha256: str, file: FilePayload, signature: dict[str, Any],
        appendices: list[FilePayload], actor: dict[str, str],
    ) -> None:
        self.status = Status.SEALED
        self.appendices = [
            Appendix(a.number, a.title, a.file, FileRef.from_payload(sealed))
            for a, sealed in zip(self.appendices, appendices, strict=True)
        ]
        self.sealed_file = FileRef.from_payload(file)
        self.latest_validation = dict(signature.get("validation", {}))

    # --- replacement and correction ---------------------------------------------------

    def link(self, relation: Relation, target: OutgoingDocument, actor: Actor) -> None:
        """Declare that this draft replaces or corrects an issued document of the agency."""
        self._require(STEP_STATUSES["link"], "link to an issued document")
        if target.id == self.id or target.agency_id != self.agency_id:
            raise InvalidStateError("a document replaces or corrects only another document "
                                    "issued by the same agency")
        if target.status not in (Status.DISPATCHED, Status.RECALLED):
            raise InvalidStateError("only an issued (dispatched) document can be replaced or "
                                    "corrected", target_status=target.status.value)
        if any(UUID(str(link["target_id"])) == target.id for link in self.links):
            raise InvalidStateError("the draft is already linked to that document")
        label = target.registration.label if target.registration else ""
        self._linked(Relation(relation).value, target.id, label, actor.as_payload())

    @event(Linked)
    def _linked(self, relation: str, target_id: UUID, target_label: str,
                actor: dict[str, str]) -> None:
        self.links.append({"relation": relation, "target_id": str(target_id),
                           "target_label": target_label})

    # --- dispatch, acknowledgement, recall ----------------------------------------------

    def dispatch(self, recipients: Sequence[Mapping[str, object]], external: list[str], note: str,
                 actor: Actor) -> None:
        """Issue the sealed document to agencies in the system and external recipients.

        ``recipients`` are ``{"agency_id", "code", "name"}`` of agencies in the system.
        """
        self._require(STEP_STATUSES["dispatch"], "dispatch")
        ids = [str(r["agency_id"]) for r in recipients]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("a recipient agency is listed twice")
        if str(self.agency_id) in ids:
            raise InvalidInputError("an agency does not send a document to itself")
        names = [require_text("external recipient", n, max_len=300) for n in external]
        if not ids and not names:
            raise InvalidInputError("a document needs at least one recipient")
        payload: list[RecipientRef] = [{"agency_id": str(r["agency_id"]), "code": str(r["code"]),
                    "name": str(r["name"])} for r in recipients]
        self._dispatched(payload, names, note.strip()[:MAX_COMMENT], actor.as_payload())

    @event(Dispatched)
    def _dispatched(self, recipients: list[RecipientRef], external: list[str], note: str,
                    actor: dict[str, str]) -> None:
        self.status = Status.DISPATCHED
        self.recipients = {
            r["agency_id"]: {**r, "state": Delivery.PENDING.value, "incoming_id": None,
                             "arrival_label": None, "reason": None}
            for r in recipients
        }
        self.external_recipients = list(external)

    def _recipient(self, agency_id: UUID) -> RecipientState:
        try:
            return self.recipients[str(agency_id)]
        except KeyError:
            raise InvalidStateError(f"agency {agency_id} is not a recipient") from None

    def record_delivery(self, agency_id: UUID, incoming_id: UUID) -> bool:
        """Record that a recipient's copy arrived; False if it was already recorded."""
        if self._recipient(agency_id)["incoming_id"] is not None:
            return False
        self._delivered_to(agency_id, incoming_id)
        return True

    @event(DeliveredTo)
    def _delivered_to(self, agency_id: UUID, incoming_id: UUID) -> None:
        r = self.recipients[str(agency_id)]
        r["incoming_id"] = str(incoming_id)
        if r["state"] == Delivery.PENDING.value:
            r["state"] = Delivery.DELIVERED.value

    def record_acknowledgement(self, agency_id: UUID, arrival_label: str,
                               by: dict[str, str]) -> bool:
        """Record that a recipient registered its copy; False if already recorded."""
        r = self._recipient(agency_id)
        if r["arrival_label"] is not None:
            return False
        self._receipt_acknowledged(agency_id, arrival_label, dict(by))
        return True

    @event(ReceiptAcknowledged)
    def _receipt_acknowledged(self, agency_id: UUID, arrival_label: str,
                              by: dict[str, str]) -> None:
        r = self.recipients[str(agency_id)]
        r["arrival_label"] = arrival_label
        if r["state"] in (Delivery.PENDING.value, Delivery.DELIVERED.value):
            r["state"] = Delivery.REGISTERED.value

    def record_return(self, agency_id: UUID, reason: str, by: dict[str, str]) -> bool:
        """Record that a recipient returned its copy; False if already recorded."""
        r = self._recipient(agency_id)
        if r["reason"] is not None:
            return False
        self._delivery_returned(agency_id, reason, dict(by))
        return True

    @event(DeliveryReturned)
    def _delivery_returned(self, agency_id: UUID, reason: str, by: dict[str, str]) -> None:
        r = self.recipients[str(agency_id)]
        r["reason"] = reason
        if r["state"] in (Delivery.PENDING.value, Delivery.DELIVERED.value):
            r["state"] = Delivery.RETURNED.value

    def recall(self, reason: str, actor: Actor) -> None:
        """Recall the issued document from every recipient."""
        self._require(STEP_STATUSES["recall"], "recall")
        self._recalled(require_text("reason", reason, max_len=MAX_COMMENT), actor.as_payload())

    @event(Recalled)
    def _recalled(self, reason: str, actor: dict[str, str]) -> None:
        self.status = Status.RECALLED
        self.recall_reason = reason
        for r in self.recipients.values():
            if r["state"] != Delivery.RETURNED.value:
                r["state"] = Delivery.WITHDRAWN.value

    def record_recall_confirmation(self, agency_id: UUID, by: dict[str, str]) -> bool:
        """Record that a recipient confirmed the withdrawal; False if already recorded."""
        r = self._recipient(agency_id)
        if r["state"] == Delivery.RECALL_CONFIRMED.value:
            return False
        self._recall_confirmed(agency_id, dict(by))
        return True

    @event(RecallConfirmed)
    def _recall_confirmed(self, agency_id: UUID, by: dict[str, str]) -> None:
        self.recipients[str(agency_id)]["state"] = Delivery.RECALL_CONFIRMED.value
