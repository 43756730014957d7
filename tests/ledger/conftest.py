"""Fixtures for the ledger tests: the application over a fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt


@pytest.fixture
def app(database: Database) -> Iterator[DocMgmt]:
    """``DocMgmt`` writing to the test's database (a pool of 2 connections)."""
    application = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    yield application
    application.close()
