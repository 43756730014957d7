"""Application fixtures: one scenario, two persistence backends (in-memory and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest

from docmgmt.identity.context import IdentityContext
from docmgmt.identity.credentials import PostgresCredentialStore
from docmgmt.identity.sessions import PostgresAdminRoster
from docmgmt.kernel.db import Database
from docmgmt.kernel.pglocks import PostgresRegisterLock
from docmgmt.kernel.store import DocMgmt
from docmgmt.outgoing.context import OutgoingContext
from signing.pdfcheck import PyHankoPdfInspector
from storage import FilesystemBlobStore, spooled
from tests.support.claims import ThreadBlobClaims
from tests.support.identity import UnlimitedLogins, in_memory_identity


@dataclass
class System:
    """The write side as the API uses it, on one persistence backend."""

    app: DocMgmt
    outgoing: OutgoingContext
    identity: IdentityContext
    blobs: FilesystemBlobStore
    backend: str


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.pg)])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    """The same services on eventsourcing's in-memory (POPO) persistence and on PostgreSQL."""
    identity: IdentityContext
    if request.param == "memory":
        app = DocMgmt(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        identity = in_memory_identity(app)
    else:
        db: Database = request.getfixturevalue("database")
        app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 4))
        # Logins unthrottled as in memory; the roster is the real one.
        identity = IdentityContext(
            app, PostgresCredentialStore(app), UnlimitedLogins(),
            PostgresAdminRoster(app.recorder.datastore,  # type: ignore[attr-defined]
                                PostgresRegisterLock(db.app.conninfo())))
    (tmp_path / "blobs").mkdir()
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    # Drafting needs neither a signer nor the register lock.
    outgoing = OutgoingContext(store=app, blobs=blobs, inspector=PyHankoPdfInspector(),
                               spool=partial(spooled, directory=tmp_path),
                               max_upload_bytes=2 * 1024 * 1024, signer=cast(Any, None),
                               locks=cast(Any, None), work_dir=tmp_path,
                               claims=ThreadBlobClaims(), evidence=cast(Any, None),
                               providers=lambda agency: None, challenge_key=b"test")
    try:
        yield System(app, outgoing, identity, blobs, request.param)
    finally:
        app.close()
