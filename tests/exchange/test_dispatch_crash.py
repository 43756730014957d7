"""Killing the dispatch process mid-way and restarting it delivers everything exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from docmgmt.kernel.db import Database
from docmgmt.outgoing import sending
from tests.exchange.conftest import City
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

DOCUMENTS = 8
WARDS = ("PBN", "PDK")


def _topics(database: Database) -> Counter[tuple[str, str]]:
    """(originator id, event class) counts in the event store, read as the owner."""
    with psycopg.connect(database.owner.conninfo()) as conn:
        rows = conn.execute(
            "SELECT originator_id::text, topic FROM docmgmt.docmgmt_events"
            " WHERE topic LIKE '%%.DeliveredTo' OR topic LIKE '%%IncomingDocument.Arrived'"
        ).fetchall()
    return Counter((oid, topic.rsplit(".", 1)[-1]) for oid, topic in rows)


def _start(database: Database, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DOCMGMT_DATABASE_URL": database.app.url(),
           "DOCMGMT_MIGRATION_DATABASE_URL": database.owner.url(),
           "DOCMGMT_DATA_DIR": str(data_dir)}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "dispatch"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_and_restart_delivers_every_copy_exactly_once(
        city: City, database: Database, tmp_path: Path) -> None:
    data_dir = city.write.settings.data_dir
    # The department issues eight documents to both wards while no dispatcher runs.
    docs = [city.sealed("STTTT", f"Công văn số {n} về chuyển đổi số") for n in range(DOCUMENTS)]
    for doc in docs:
        sending.dispatch(city.write.app, city["STTTT"]["clerk"], doc, list(WARDS), [], "", None)
    expected = DOCUMENTS * len(WARDS)
    assert _topics(database) == Counter()

    # The dispatch process starts, and is killed (SIGKILL: no clean-up) mid-way.
    first = _start(database, data_dir)
    try:
        wait_until(lambda: sum(_topics(database).values()) > 0, timeout=120)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    delivered_when_killed = sum(n for (_, kind), n in _topics(database).items()
                                if kind == "DeliveredTo")
    assert 0 < delivered_when_killed < expected, "the kill did not land mid-way"

    # A new process resumes from its tracking position.
    second = _start(database, data_dir)
    try:
        wait_until(lambda: sum(n for (_, kind), n in _topics(database).items()
                               if kind == "DeliveredTo") >= expected, timeout=180)
        time.sleep(1.0)  # anything duplicated would show up now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    counts = _topics(database)
    # Every copy arrived once, and every document records each delivery once.
    arrived = [n for (_, kind), n in counts.items() if kind == "Arrived"]
    assert len(arrived) == expected
    assert set(arrived) == {1}
    for doc in docs:
        assert counts[(str(doc), "DeliveredTo")] == len(WARDS)
        for ward in WARDS:
            assert city.incoming(doc, ward).authentic
    assert second.returncode == 0, (second.stderr.read() if second.stderr else b"").decode()
