"""/health answers within 3 s, naming the part that does not answer."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg

from tests.api.conftest import Api


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


@contextmanager
def frozen_database(api: Api) -> Iterator[None]:
    """SIGSTOP the postmaster (no new connections) and every backend of the database."""
    with psycopg.connect(api.db.owner.conninfo(), autocommit=True) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s"
                            " AND pid <> pg_backend_pid()", (api.db.owner.dbname,)).fetchall()
    assert backend is not None
    pids = [_parent(backend[0])] + [r[0] for r in rows]
    stopped = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield
    finally:
        for pid in reversed(stopped):
            os.kill(pid, signal.SIGCONT)


def test_health_answers_503_within_3_s_while_the_database_is_frozen(api: Api) -> None:
    assert httpx.get(api.base + "/health", timeout=10).status_code == 200
    with frozen_database(api):
        started = time.monotonic()
        # Before, this hung for as long as the database was frozen.
        r = httpx.get(api.base + "/health", timeout=10)
        elapsed = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert elapsed < 3, elapsed
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["database"].startswith("unavailable: no answer within")
        assert body["object_store"] == "ok"
    # Thawed, it recovers by itself.
    deadline = time.monotonic() + 30
    while (r := httpx.get(api.base + "/health", timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)
