"""Helpers for API tests: uploads, and what the system has stored (blobs, events, spool)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.api.conftest import Api
from tests.support.pdfs import make_pdf

DRAFT_FIELDS = {
    "summary": "Về việc tổ chức hội nghị",
    "doc_type": "CV",
    "urgency": "normal",
    "confidentiality": "normal",
    "legal_normative": "false",
}


def sha256(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def draft(
    client: httpx.Client, pdf: bytes | None = None, name: str = "du-thao.pdf", **fields: str
) -> httpx.Response:
    """POST /documents with a PDF (a fresh one-page PDF unless given) and draft metadata."""
    body = pdf if pdf is not None else make_pdf(1, text=name + repr(sorted(fields.items())))
    return client.post("/documents", data=DRAFT_FIELDS | fields,
                       files={"file": (name, body, "application/pdf")})


def drafted(client: httpx.Client, pdf: bytes | None = None, **fields: str) -> str:
    """The id of a new draft (the upload must succeed)."""
    r = draft(client, pdf, **fields)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a JSON error body with this status and code; returns the body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["error"] == code, body
    assert body.get("detail"), body
    assert "Traceback" not in r.text
    return body


@dataclass(frozen=True)
class Stored:
    """What the system holds at one moment: blob files, event rows and files in flight."""

    blobs: frozenset[str]
    events: int
    spool: frozenset[str]
    partial: frozenset[str]


def event_count(api: Api) -> int:
    """Rows in the event store, counted as the database owner."""
    with psycopg.connect(api.db.owner.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM docmgmt.docmgmt_events").fetchone()
    assert row is not None
    return int(row[0])


def stored(api: Api) -> Stored:
    """Snapshot of blob files, event rows, spooled uploads and half-written blobs."""
    return Stored(
        blobs=_files(api.settings.blob_dir / "sha256"),
        events=event_count(api),
        spool=_files(api.settings.spool_dir),
        partial=_files(api.settings.blob_dir / ".tmp"),
    )


def _files(root: Path) -> frozenset[str]:
    if not root.exists():
        return frozenset()
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
