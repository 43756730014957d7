"""Automatic checkpoints: after every N new leaves, or after T seconds if anything is new."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest

from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.checkpoint import CheckpointScheduler
from docmgmt.ledger.devkeys import Pkcs12NoteSigner, PyHankoNoteTimestamper
from docmgmt.ledger.verify import verify_log
from tests.ledger.ledger_support import catch_up, fill
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres
Keys = tuple[Pkcs12NoteSigner, PyHankoNoteTimestamper]


def sizes(db: Database) -> list[int]:
    with psycopg.connect(db.app.conninfo()) as conn:
        return [int(n) for (n,) in conn.execute(
            "SELECT tree_size FROM docmgmt.ledger_checkpoints ORDER BY tree_size")]


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    wait_until(check, timeout, "the checkpoint scheduler")


def test_checkpoints_follow_the_event_count(
    database: Database, app: DocMgmt, system_keys: Keys
) -> None:
    scheduler = CheckpointScheduler(database.app.conninfo(), *system_keys, every_events=10,
                                    every_seconds=3600, poll=0.05)
    scheduler.start()
    try:
        # 10 events reach the ledger: a checkpoint of all 10 follows.
        fill(app, "SOA")
        catch_up(database, app)
        eventually(lambda: sizes(database) == [10])
        # 2 more are fewer than 10 and the hour is not up: no checkpoint.
        fill(app, "SOB", documents=1, comments=0)
        catch_up(database, app)
        time.sleep(0.5)
        assert sizes(database) == [10]
    finally:
        scheduler.stop()
    assert not scheduler._thread.is_alive()
    assert (scheduler.written, scheduler.last_error) == (1, None)
    report = verify_log(database.app.conninfo())
    assert report.ok, report.summary()
    assert report.checkpoints_signed == 1


def test_checkpoints_follow_the_clock_when_anything_is_new(
    database: Database, app: DocMgmt, system_keys: Keys
) -> None:
    fill(app, "SOA", documents=1, comments=0)
    catch_up(database, app)
    scheduler = CheckpointScheduler(database.app.conninfo(), *system_keys,
                                    every_events=1000, every_seconds=0.3, poll=0.05)
    scheduler.start()
    try:
        eventually(lambda: sizes(database) == [2])
        fill(app, "SOB", documents=1, comments=1)
        catch_up(database, app)
        eventually(lambda: sizes(database) == [2, 5])
        # Nothing new: the clock alone makes no checkpoint.
        time.sleep(0.8)
        assert sizes(database) == [2, 5]
    finally:
        scheduler.stop()
    assert scheduler.written == 2
    # The second root was folded onto the first checkpoint's frontier: verify recomputes
    # both from the events.
    report = verify_log(database.app.conninfo())
    assert report.ok, report.summary()
    assert report.checkpoints_checked == 2


def test_a_failure_is_kept_and_retried(system_keys: Keys) -> None:
    scheduler = CheckpointScheduler("host=127.0.0.1 port=1 dbname=none connect_timeout=1",
                                    *system_keys, every_events=1, poll=0.05)
    scheduler.start()
    try:
        eventually(lambda: scheduler.last_error is not None)
        assert scheduler._thread.is_alive()
    finally:
        scheduler.stop()
    assert "OperationalError" in str(scheduler.last_error)


def test_nonsense_intervals_are_refused(system_keys: Keys) -> None:
    with pytest.raises(ValueError, match="positive"):
        CheckpointScheduler("", *system_keys, every_events=0)
