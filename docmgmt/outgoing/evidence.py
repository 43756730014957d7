"""Export a document's evidence bundle: the export is recorded first, so the bundle
includes it; the bundle itself is made by the ledger (wired in by the composition root)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from docmgmt.kernel.principal import Principal
from docmgmt.outgoing.context import OutgoingContext, load_document


def export_evidence(ctx: OutgoingContext, who: Principal, document_id: UUID) -> Path:
    """The evidence zip of a document a reader of its agency may see (a temporary file the
    caller removes once sent)."""
    document = load_document(ctx, who, document_id)
    latest = document.latest_file
    ctx.store.record_view(document_id, document.current_revision.number, latest.sha256,
                          "evidence", who.actor)
    return ctx.evidence(document_id)
