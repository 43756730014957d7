"""Shared fixtures: real PostgreSQL, settings, and the API served over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from docmgmt import compat
from docmgmt.kernel.db import Database
from tests.support.pg import Cluster, running_cluster

logging.getLogger("alembic").setLevel(logging.WARNING)
logging.getLogger("pgserver").setLevel(logging.WARNING)


def pytest_configure(config: pytest.Config) -> None:
    """Install the library overrides, as the composition root does, for code built without it."""
    compat.install()


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One PostgreSQL server for the whole run (embedded unless a URL is given)."""
    with running_cluster(tmp_path_factory.mktemp("pg")) as cluster:
        yield cluster


@pytest.fixture
def database(pg_cluster: Cluster) -> Iterator[Database]:
    """A fresh migrated database for one test."""
    db = pg_cluster.new_database()
    yield db
    pg_cluster.drop_database(db)


@pytest.fixture
def pdf_dir(tmp_path: Path) -> Path:
    """Where a test writes its sample PDFs."""
    path = tmp_path / "pdfs"
    path.mkdir()
    return path
