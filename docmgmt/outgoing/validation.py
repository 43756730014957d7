"""Signature validation reports: of a document's latest PDF, or of any uploaded PDF."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from docmgmt.kernel.principal import Principal
from docmgmt.outgoing.context import OutgoingContext, load_document
from docmgmt.outgoing.files import workspace
from signing.port import ReportDict


def _report(ctx: OutgoingContext, path: Path, html: bool) -> str | ReportDict:
    return ctx.signer.validate_html(path) if html else ctx.signer.validate(path)


def validate_document(ctx: OutgoingContext, who: Principal, document_id: UUID,
                      html: bool) -> str | ReportDict:
    """The validation report (an HTML page or JSON) of the document's latest PDF."""
    document = load_document(ctx, who, document_id)
    with workspace(ctx, document.latest_file) as (src, _):
        return _report(ctx, src, html)


def validate_upload(ctx: OutgoingContext, stream: BinaryIO, html: bool) -> str | ReportDict:
    """The validation report of any PDF; nothing is stored."""
    with ctx.spool(stream, max_size=ctx.max_upload_bytes) as up:
        # Read within the intake budget first; active content is reported, not refused.
        ctx.inspector.check_structure(up.path)
        return _report(ctx, up.path, html)
