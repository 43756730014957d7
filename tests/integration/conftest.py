"""Application fixtures: one scenario, two persistence backends (in-memory and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from docmgmt.identity import (
    CredentialStore,
    IdentityService,
    InMemoryCredentialStore,
    PostgresCredentialStore,
)
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.services import DocumentService
from signing.pdfcheck import PyHankoPdfInspector
from storage import FilesystemBlobStore, spooled


@dataclass
class System:
    """The write side as the API uses it, on one persistence backend."""

    app: DocMgmt
    documents: DocumentService
    identity: IdentityService
    blobs: FilesystemBlobStore
    backend: str


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.pg)])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    """The same services on eventsourcing's in-memory (POPO) persistence and on PostgreSQL."""
    credentials: CredentialStore
    if request.param == "memory":
        app = DocMgmt(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        credentials = InMemoryCredentialStore()
    else:
        db: Database = request.getfixturevalue("database")
        app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 4))
        credentials = PostgresCredentialStore(app)
    (tmp_path / "blobs").mkdir()
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    documents = DocumentService(app=app, blobs=blobs, inspector=PyHankoPdfInspector(),
                                spool=partial(spooled, directory=tmp_path),
                                max_upload_bytes=2 * 1024 * 1024)
    try:
        yield System(app, documents, IdentityService(app, credentials), blobs, request.param)
    finally:
        app.close()
