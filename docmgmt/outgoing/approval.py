"""Approval steps (Decree 30, Art. 13): submit, approve, return for revision."""

from __future__ import annotations

from uuid import UUID

from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult
from docmgmt.outgoing.context import STEP_ROLES, OutgoingContext, load_document


def submit(ctx: OutgoingContext, who: Principal, document_id: UUID, note: str,
           expected_version: int | None) -> CommandResult:
    """The drafter submits the current revision for approval."""
    who.require(*STEP_ROLES["submit"])
    document = load_document(ctx, who, document_id, expected_version)
    document.submit_for_approval(note, who.actor)
    return ctx.store.commit(document)


def approve(ctx: OutgoingContext, who: Principal, document_id: UUID, comment: str,
            expected_version: int | None) -> CommandResult:
    """A leader approves the submitted revision."""
    who.require(*STEP_ROLES["approve"])
    document = load_document(ctx, who, document_id, expected_version)
    document.approve(comment, who.actor)
    return ctx.store.commit(document)


def return_for_revision(ctx: OutgoingContext, who: Principal, document_id: UUID,
                        comment: str, expected_version: int | None) -> CommandResult:
    """A leader returns the draft to its drafter with a comment."""
    who.require(*STEP_ROLES["return"])
    document = load_document(ctx, who, document_id, expected_version)
    document.return_for_revision(comment, who.actor)
    return ctx.store.commit(document)
