"""A served app's projections listen on one connection and read each new event once."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import psycopg

from docmgmt.kernel.db import Database
from docmgmt.kernel.shared_log import SharedLog
from tests.api.conftest import Api
from tests.support.pdfs import make_pdf


def _listeners(db: Database) -> int:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query ILIKE 'LISTEN %%'").fetchone()
    return int(row[0]) if row else 0


def _comment_count(db: Database, document_id: str) -> int | None:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT comment_count FROM docmgmt.documents_view WHERE id = %s",
                           (uuid.UUID(document_id),)).fetchone()
    return None if row is None else int(row[0])


def _draft(client: httpx.Client) -> str:
    r = client.post("/documents", data={"summary": "Công văn chia sẻ"},
                    files={"file": ("a.pdf", make_pdf(1), "application/pdf")})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _the_log() -> SharedLog:
    (opened,) = SharedLog._open.values()
    return opened


def test_six_projections_listen_once_and_read_each_write_once(
    api: Api, city: dict[str, Any],
) -> None:
    deadline = time.monotonic() + 20
    while _listeners(api.db) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _listeners(api.db) == 1  # six before: one per projection
    log = _the_log()
    assert log.members == 6
    official = api.client("official_a")
    document = _draft(official)
    time.sleep(0.3)  # the ledger, dispatch and outbox members gather for 50 ms
    before = log.reads
    r = official.post(f"/documents/{document}/comments", json={"text": "một lần"})
    assert r.status_code == 201, r.text
    # Read-your-writes: the answer came once the read model had the comment.
    assert _comment_count(api.db, document) == 1
    time.sleep(0.3)
    # One read of the log for the event (a second, empty one if a wake-up came late);
    # six before, one per projection.
    assert 1 <= log.reads - before <= 2


def test_the_projections_recover_when_the_shared_connection_is_killed(
    api: Api, city: dict[str, Any],
) -> None:
    official = api.client("official_a")
    document = _draft(official)
    with psycopg.connect(api.db.owner.conninfo()) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query ILIKE 'LISTEN %%'").fetchone()
    assert killed == (1,)
    # The members fail, their supervisors restart them, the log listens again; a write
    # then answers once the read model shows it.
    deadline = time.monotonic() + 30
    comments = 0
    while time.monotonic() < deadline:
        r = official.post(f"/documents/{document}/comments", json={"text": "lại"})
        if r.status_code == 201:
            comments += 1
            if _comment_count(api.db, document) == comments:
                break
        time.sleep(0.5)
    assert _comment_count(api.db, document) == comments >= 1
    # The log listens again (it waits a second before it reconnects; a member that
    # joins meanwhile is read for at once) ...
    while _listeners(api.db) != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _listeners(api.db) == 1
    # ... and a write answers once the read model shows it, as before.
    r = official.post(f"/documents/{document}/comments", json={"text": "lần nữa"})
    assert r.status_code == 201, r.text
    assert _comment_count(api.db, document) == comments + 1
    deadline = time.monotonic() + 30
    while api.client().get("/health").json()["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.client().get("/health").json()["status"] == "ok"
