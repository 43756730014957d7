"""The leader's signature (Decree 30, Art. 13): sign the exact approved revision."""

from __future__ import annotations

from uuid import UUID

from docmgmt.domain.common import SigningCapacity
from docmgmt.domain.errors import InvalidStateError
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult
from docmgmt.outgoing.context import STEP_ROLES, OutgoingContext, load_document
from docmgmt.outgoing.files import new_blobs, store_result, workspace
from signing.port import AgencyIdentity, SignerIdentity, competent_signature_valid, summarise


def sign(ctx: OutgoingContext, who: Principal, document_id: UUID, capacity: SigningCapacity,
         principal_title: str, expected_version: int | None) -> CommandResult:
    """The leader signs the exact approved revision with their own key."""
    who.require(*STEP_ROLES["sign"])
    document = load_document(ctx, who, document_id, expected_version)
    approved = document.approved_file()
    user = ctx.store.get_user(who.user_id)
    signer = SignerIdentity(user.id, user.username, user.full_name, user.title)
    capacity_line = SigningCapacity(capacity).line(principal_title or user.title)
    agency = ctx.store.get_agency(document.agency_id)
    with workspace(ctx, approved) as (src, dst):
        outcome = ctx.signer.sign_as_leader(
            src, dst, signer=signer,
            agency=AgencyIdentity(agency.id, agency.code, agency.name),
            capacity_line=capacity_line)
        if not competent_signature_valid(outcome.report):
            raise InvalidStateError("the new signature does not validate",
                                    report=summarise(outcome.report))
        with new_blobs(ctx) as new:
            output = store_result(new, dst, approved, "signed")
            payload = outcome.payload() | {"capacity_line": capacity_line}
            document.sign(capacity=capacity, signer_title=user.title,
                          input_sha256=approved.sha256, output=output, signature=dict(payload),
                          actor=who.actor)
            return ctx.store.commit(document)
