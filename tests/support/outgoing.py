"""Outgoing documents written straight to the store, for tests and benchmarks that need
many of them (no principal, no files: only the events)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from docmgmt.domain.common import Actor
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.kernel.store import CommandResult, DocMgmt


def draft(app: DocMgmt, **fields: Any) -> CommandResult:
    """Draft a document with ``OutgoingDocument.draft``'s fields and save it."""
    return app.commit(OutgoingDocument.draft(**fields))


def comment(app: DocMgmt, document_id: UUID, text: str, actor: Actor) -> CommandResult:
    """Load a document, comment on it and save it."""
    document = app.get_document(document_id)
    document.comment(text, actor)
    return app.commit(document)
