"""Shared fixtures: real PostgreSQL, settings, and the API served over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio

from docmgmt import compat
from docmgmt.kernel.db import Database
from docmgmt.kernel.projections import ReadModelRecorder
from tests.support.pg import Cluster, running_cluster
from tests.support.s3server import S3Endpoint, run_s3_server

logging.getLogger("alembic").setLevel(logging.WARNING)
logging.getLogger("pgserver").setLevel(logging.WARNING)

# Every database fixture depends on this one, so a test that needs PostgreSQL has it among
# its fixtures; `-m "not pg"` then selects the tests that run in seconds.
PG_FIXTURE = "pg_cluster"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL ``pg``, from the fixtures it uses."""
    for item in items:
        if PG_FIXTURE in getattr(item, "fixturenames", ()) or item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.pg)


def pytest_configure(config: pytest.Config) -> None:
    """Install the library overrides, as the composition root does, for code built without it."""
    compat.install()


@pytest.fixture(autouse=True)
def _one_at_a_time_ends_with_its_test() -> Iterator[None]:
    """A supervisor that saw a projection fail asks, class-wide, for event-by-event commits
    of that view up to the failing position. Every test's database starts at position 1
    again, so the request must not outlive the test that made it (it made a later test's
    recorder commit at once what it was to hold back)."""
    yield
    ReadModelRecorder.one_at_a_time_until.clear()


@pytest.fixture(autouse=True)
def _logging_ends_with_its_test() -> Iterator[None]:
    """A test that runs the ``docmgmt`` command in this process configures logging as the
    command does: a root handler on the ``sys.stderr`` of that moment (the test's captured
    output, closed after it) and the level INFO. Left in place, every later test's INFO
    line went to that closed stream ("--- Logging error ---" in the run's output)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One PostgreSQL server for the whole run (embedded unless a URL is given)."""
    with running_cluster(tmp_path_factory.mktemp("pg")) as cluster:
        yield cluster


@pytest.fixture
def database(pg_cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A fresh migrated database for one test."""
    # A test that reaches the database another way (getfixturevalue) must carry the marker
    # itself, or `-m "not pg"` would start PostgreSQL after all.
    assert request.node.get_closest_marker("pg"), f"{request.node.nodeid} needs the pg marker"
    db = pg_cluster.new_database()
    yield db
    pg_cluster.drop_database(db)


@pytest.fixture
def pdf_dir(tmp_path: Path) -> Path:
    """Where a test writes its sample PDFs."""
    path = tmp_path / "pdfs"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A real SeaweedFS S3 server for the whole session."""
    with run_s3_server(tmp_path_factory.mktemp("s3")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: S3Endpoint) -> Minio:
    """A minio client that talks to the test server directly, bypassing the store."""
    return s3_endpoint.client()
