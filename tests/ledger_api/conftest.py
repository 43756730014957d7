"""Fixtures for the ledger API: the app served with the ledger router, and system keys."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.main import create_app
from api.routes.ledger import router
from docmgmt.db import Database
from docmgmt.ledger.devkeys import Pkcs12NoteSigner, PyHankoNoteTimestamper, dev_system_keys
from docmgmt.settings import Settings
from tests.api.conftest import Api, api_settings, bootstrap_root, city

__all__ = ["api", "api_settings", "city", "system_keys"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_with_ledger(settings: Settings) -> Iterator[str]:
    """The app with the ledger router mounted, served by uvicorn in a thread; its base URL."""
    app = create_app(settings)
    app.include_router(router)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/health", timeout=2).status_code in (200, 503):
                break
        except httpx.TransportError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start; see the log above")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def api(api_settings: Settings, database: Database) -> Iterator[Api]:
    """The API with the ledger routes, over HTTP, with the admin 'root' bootstrapped."""
    bootstrap_root(api_settings)
    with serve_with_ledger(api_settings) as base:
        yield Api(base, api_settings, database)


@pytest.fixture(scope="session")
def system_keys(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper]:
    """The development system key and TSA, made once for the run."""
    signer, stamper, _ = dev_system_keys(Path(tmp_path_factory.mktemp("pki")))
    return signer, stamper
