"""Fixtures for the ledger API: the served app, and system keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docmgmt.kernel.db import Database
from docmgmt.ledger.devkeys import Pkcs12NoteSigner, PyHankoNoteTimestamper, dev_system_keys
from docmgmt.settings import Settings
from signing.devpki import DevPki
from tests.api.conftest import Api, api_settings, bootstrap_root, city
from tests.ledger.conftest import app
from tests.support.server import serve

__all__ = ["api", "api_settings", "app", "city", "system_keys", "system_pki"]


@pytest.fixture
def api(api_settings: Settings, database: Database) -> Iterator[Api]:
    """The API (which includes the ledger routes) over HTTP, with the admin 'root'."""
    bootstrap_root(api_settings)
    with serve(api_settings) as base:
        yield Api(base, api_settings, database)


@pytest.fixture(scope="session")
def system_pki(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper, DevPki]:
    """The development system key, TSA and their PKI, made once for the run."""
    return dev_system_keys(Path(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def system_keys(
    system_pki: tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper, DevPki],
) -> tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper]:
    """The development system key and TSA."""
    return system_pki[0], system_pki[1]
