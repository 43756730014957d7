"""Evidence bundles: a document's events, Merkle proofs, signed checkpoint and files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from api.auth import CurrentUser
from api.deps import OutgoingDep
from api.routing import ThreadedRoute
from docmgmt.outgoing.evidence import export_evidence

router = APIRouter(prefix="/documents", tags=["evidence"], route_class=ThreadedRoute)
CHUNK = 1024 * 1024


def _stream(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


@router.get("/{document_id}/evidence", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}},
                       409: {"description": "the ledger has not yet covered the document"}})
def evidence_bundle(document_id: UUID, who: CurrentUser, out: OutgoingDep) -> StreamingResponse:
    """Hồ sơ chứng cứ / The document's evidence bundle (zip): every event with its Merkle
    proof, the signed and timestamped checkpoint, every file and signature report; it can
    be checked offline with `docmgmt verify-bundle`. The export itself is recorded."""
    path = export_evidence(out, who, document_id)
    return StreamingResponse(
        _stream(path), media_type="application/zip",
        headers={"Content-Length": str(path.stat().st_size),
                 "Content-Disposition": f'attachment; filename="evidence-{document_id}.zip"'},
        background=BackgroundTask(path.unlink, missing_ok=True))
