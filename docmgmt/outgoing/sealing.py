"""The agency signature (Decree 30, Art. 32): seal the numbered document and its
appendices over a valid competent signature."""

from __future__ import annotations

from uuid import UUID

from docmgmt.domain.common import FileRef
from docmgmt.domain.errors import InvalidStateError
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult
from docmgmt.outgoing.context import STEP_ROLES, OutgoingContext, load_document
from docmgmt.outgoing.files import new_blobs, store_result, workspace
from docmgmt.outgoing.numbering import require_status
from signing.port import AgencyIdentity, competent_signature_valid, summarise


def seal(ctx: OutgoingContext, who: Principal, document_id: UUID,
         expected_version: int | None) -> CommandResult:
    """The clerk applies the agency signature over a valid competent signature."""
    who.require(*STEP_ROLES["seal"])
    document = load_document(ctx, who, document_id, expected_version)
    require_status(document, "seal")
    agency = ctx.store.get_agency(document.agency_id)
    numbered = document.numbered_file
    if numbered is None:  # pragma: no cover - a numbered document has its numbered file
        raise InvalidStateError("the numbered PDF is missing")
    with new_blobs(ctx) as new:
        with workspace(ctx, numbered) as (src, dst):
            before = ctx.signer.validate(src)
            if not competent_signature_valid(before):
                raise InvalidStateError(
                    "the competent person's signature does not validate",
                    report=summarise(before))
            identity = AgencyIdentity(agency.id, agency.code, agency.name)
            outcome = ctx.signer.seal(src, dst, agency=identity)
            output = store_result(new, dst, numbered, "sealed")
        label = document.registration.label if document.registration else ""
        sealed_appendices: list[FileRef] = []
        for appendix in document.appendices:
            with workspace(ctx, appendix.file) as (src, dst):
                ctx.signer.seal_appendix(src, dst, agency=identity,
                                         number_label=f"Số: {label}")
                sealed_appendices.append(store_result(
                    new, dst, appendix.file, f"appendix-{appendix.number}.sealed"))
        document.seal(input_sha256=numbered.sha256, output=output,
                      signature=dict(outcome.payload()),
                      competent_signature_valid=competent_signature_valid(outcome.report),
                      actor=who.actor, appendices=sealed_appendices)
        return ctx.store.commit(document)
