"""What every outgoing step needs (the stage context) and the one way a step loads a
document: authorised, scoped to the caller's agency, loaded once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Role
from docmgmt.domain.errors import DocumentNotFoundError
from docmgmt.domain.outgoing import STEP_STATUSES, OutgoingDocument, Status
from docmgmt.kernel.newblobs import BlobClaims
from docmgmt.kernel.ports import BlobStore, PdfInspector, RegisterLock, Spooler
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt
from signing.port import AgencyIdentity, PdfSigningPort
from signing.remote import SigningProvider

DOCUMENT_READERS = (Role.OFFICIAL, Role.LEADER, Role.CLERK, Role.AUDITOR)
DOCUMENT_WRITERS = (Role.OFFICIAL, Role.LEADER)
COMMENTERS = (Role.OFFICIAL, Role.LEADER, Role.CLERK)

# Who may take each step on a document: the steps require it, the pages offer only these.
STEP_ROLES: dict[str, tuple[Role, ...]] = {
    "comment": COMMENTERS,
    "revise": DOCUMENT_WRITERS,
    "appendix": DOCUMENT_WRITERS,
    "link": DOCUMENT_WRITERS,
    "submit": DOCUMENT_WRITERS,
    "approve": (Role.LEADER,),
    "return": (Role.LEADER,),
    "sign": (Role.LEADER,),
    "number": (Role.CLERK,),
    "seal": (Role.CLERK,),
    "dispatch": (Role.CLERK,),
    "recall": (Role.CLERK,),
}


def _now() -> datetime:
    return datetime.now(VIETNAM_TZ)


class EvidenceBuilder(Protocol):
    """Makes a document's evidence bundle (the ledger implements it)."""

    def __call__(self, document_id: UUID) -> Path:
        """Write the bundle; the path of the zip."""


@dataclass(frozen=True)
class OutgoingContext:
    """The outgoing stage's dependencies, built once by the composition root."""

    store: DocMgmt
    blobs: BlobStore
    inspector: PdfInspector
    spool: Spooler
    max_upload_bytes: int
    signer: PdfSigningPort
    locks: RegisterLock
    work_dir: Path
    claims: BlobClaims
    evidence: EvidenceBuilder
    # The agency's signing service (None: its leaders sign through the agent or by upload).
    providers: Callable[[AgencyIdentity], SigningProvider | None]
    # Keys the challenges users sign to prove they hold a certificate's key.
    challenge_key: bytes
    request_minutes: int = 10
    clock: Callable[[], datetime] = _now


def own_document(store: DocMgmt, who: Principal, document_id: UUID) -> OutgoingDocument:
    """A document of the caller's agency, loaded once; another agency's is not found (a
    404, never a 409 that would confirm it exists)."""
    document = store.load(OutgoingDocument, document_id, DocumentNotFoundError)
    if document.agency_id != who.agency_id:
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found")
    return document


def load_document(
    ctx: OutgoingContext, who: Principal, document_id: UUID,
    expected_version: int | None = None,
) -> OutgoingDocument:
    """A document a reader of the caller's agency may see, loaded once, then checked
    against the version the caller last saw."""
    who.require(*DOCUMENT_READERS)
    document = own_document(ctx.store, who, document_id)
    ctx.store.check_version(document, expected_version)
    return document


def steps_allowed(who: Principal, status: Status) -> list[str]:
    """The steps ``who`` may take on a document in ``status``, in the chain's order (a step
    with no status rule, a comment, is open in every status)."""
    return [step for step, roles in STEP_ROLES.items()
            if who.roles.intersection(roles)
            and status in STEP_STATUSES.get(step, (status,))]
