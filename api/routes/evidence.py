"""Evidence bundles: a document's events, Merkle proofs, signed checkpoint and files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from api.auth import CurrentUser
from api.deps import ContainerDep
from docmgmt.bootstrap import Container
from docmgmt.ledger.bundle import build_bundle
from docmgmt.ledger.checkpoint import write_checkpoint
from docmgmt.ledger.systemkeys import system_note_keys
from docmgmt.outgoing.context import load_document

router = APIRouter(prefix="/documents", tags=["evidence"])
CHUNK = 1024 * 1024


def _checkpointer(c: Container) -> Callable[[], None] | None:
    """Signs a checkpoint now with the system key (None where no system key is configured)."""
    keys = system_note_keys(c.settings)
    if keys is None:
        return None

    def checkpoint() -> None:
        write_checkpoint(c.write.db.app.conninfo(), *keys)

    return checkpoint


def _stream(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


@router.get("/{document_id}/evidence", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}},
                       409: {"description": "the ledger has not yet covered the document"}})
def evidence_bundle(document_id: UUID, who: CurrentUser, c: ContainerDep) -> StreamingResponse:
    """Hồ sơ chứng cứ / The document's evidence bundle (zip): every event with its Merkle
    proof, the signed and timestamped checkpoint, every file and signature report; it can
    be checked offline with `docmgmt verify-bundle`. The export itself is recorded."""
    document = load_document(c.write.outgoing, who, document_id)
    # The export is on record before the bundle is made, so the bundle includes it.
    latest = document.latest_file
    c.write.app.record_view(document_id, document.current_revision.number, latest.sha256,
                            "evidence", who.actor)
    path = build_bundle(
        c.write.db.app.conninfo(), document_id, c.write.blobs, c.settings.spool_dir,
        validator=c.write.signing, checkpoint=_checkpointer(c))
    return StreamingResponse(
        _stream(path), media_type="application/zip",
        headers={"Content-Length": str(path.stat().st_size),
                 "Content-Disposition": f'attachment; filename="evidence-{document_id}.zip"'},
        background=BackgroundTask(path.unlink, missing_ok=True))
