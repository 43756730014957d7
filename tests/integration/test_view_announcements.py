"""Where ``docmgmt project`` runs the views beside API worker processes, their commits are
announced on a channel, and a worker's read-your-writes waits hear them instead of polling
the tracking tables: a comment's answer waits without one tracking query, a position that
changes no row is announced before its tracking row commits, and a LISTEN connection that
is lost is opened again with the positions committed meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from docmgmt.bootstrap import projection_process
from docmgmt.kernel import projections
from docmgmt.kernel.db import Database
from docmgmt.kernel.projections import ReadModelRecorder, ViewAnnouncements, tracking_view
from docmgmt.kernel.store import APP_NAME
from tests.api.conftest import Api, bootstrap_root, make_city
from tests.api.support import drafted
from tests.support.server import serve, settings_for
from tests.support.waiting import wait_until

pytestmark = pytest.mark.pg


@pytest.fixture
def env(database: Database) -> dict[str, str]:
    return database.app.eventsourcing_env("docmgmt", 2)


@pytest.fixture
def heard(database: Database, env: dict[str, str]) -> Iterator[ReadModelRecorder]:
    """A worker's handle on the read model's tracking, hearing the announcements."""
    announcements = ViewAnnouncements()
    handle = announcements.hear(tracking_view("readmodel", env))
    announcements.start(lambda: psycopg.connect(database.app.conninfo(), autocommit=True))
    assert announcements.listening
    yield handle
    announcements.stop()
    handle.datastore.close()


@pytest.fixture
def runner_side(env: dict[str, str]) -> Iterator[ReadModelRecorder]:
    """The read model's recorder as ``docmgmt project`` runs it: announcing."""
    recorder = tracking_view("readmodel", env)
    recorder.announce = True
    yield recorder
    recorder.datastore.close()


def _counting_asks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    asked: list[int] = []
    original = ReadModelRecorder.has_tracking_id

    def has_tracking_id(self: ReadModelRecorder, name: str, position: int | None) -> bool:
        asked.append(position or 0)
        return original(self, name, position)

    monkeypatch.setattr(ReadModelRecorder, "has_tracking_id", has_tracking_id)
    return asked


def _commit_pipelined(recorder: ReadModelRecorder, tracking: Tracking) -> None:
    with recorder.datastore.get_connection() as conn:
        recorder._commit_pipelined(conn, [], tracking)


@pytest.mark.parametrize("pipelined", [False, True], ids=["one query", "pipelined"])
def test_a_commit_in_another_process_wakes_the_wait_without_a_query(
    heard: ReadModelRecorder, runner_side: ReadModelRecorder, monkeypatch: pytest.MonkeyPatch,
    pipelined: bool,
) -> None:
    asked = _counting_asks(monkeypatch)
    monkeypatch.setattr(projections, "ANNOUNCED_POLL_SECONDS", 30.0)

    def commit_seven() -> None:
        if pipelined:
            _commit_pipelined(runner_side, Tracking(APP_NAME, 7))
        else:
            runner_side._commit([], Tracking(APP_NAME, 7))

    commit = threading.Timer(0.3, commit_seven)
    commit.start()
    started = time.monotonic()
    assert heard.wait_for(7, timeout=20)
    assert 0.25 < time.monotonic() - started < 10  # woken by the announcement
    assert asked == []
    # A position already announced is known at once.
    assert heard.wait_for(5, timeout=0.01)
    commit.join()


def test_an_unannounced_commit_is_still_found_by_polling(
    heard: ReadModelRecorder, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A runner that does not announce (an older version, or a view run in this process's
    own way): the wait asks the database now and then, and finds it."""
    asked = _counting_asks(monkeypatch)
    monkeypatch.setattr(projections, "ANNOUNCED_POLL_SECONDS", 0.05)
    silent = tracking_view("readmodel", env)
    try:
        threading.Timer(0.2, lambda: silent._commit([], Tracking(APP_NAME, 9))).start()
        assert heard.wait_for(9, timeout=20)
        assert asked
        assert asked[-1] == 9
    finally:
        silent.datastore.close()


def test_a_position_that_changes_no_row_is_announced_before_its_tracking_commits(
    heard: ReadModelRecorder, runner_side: ReadModelRecorder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(projections, "ANNOUNCED_POLL_SECONDS", 30.0)
    runner_side._commit([], Tracking(APP_NAME, 3))
    assert heard.wait_for(3, timeout=20)
    # Nothing buffered changes a row: the view shows position 4 already, and other
    # processes hear so now, though its tracking row waits for the flusher.
    runner_side.idle_flush_seconds = 60.0
    # A supervisor elsewhere in this process may have asked this view's recorders to
    # commit each event alone for a while (a class-wide setting): not this one.
    runner_side.one_at_a_time_until = {}
    runner_side.apply([], Tracking(APP_NAME, 4))
    assert heard.wait_for(4, timeout=20)
    assert heard.max_tracking_id(APP_NAME) == 3
    runner_side.flush()
    assert heard.max_tracking_id(APP_NAME) == 4


def test_a_lost_listen_connection_is_opened_again_with_what_committed_meanwhile(
    database: Database, heard: ReadModelRecorder, runner_side: ReadModelRecorder,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(projections, "ANNOUNCED_POLL_SECONDS", 30.0)
    announcements = heard._announcements
    assert announcements is not None
    with psycopg.connect(database.owner.conninfo(), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%%'").fetchall()
    assert ended == [(True,)]
    wait_until(lambda: not announcements.listening, timeout=10)
    wait_until(lambda: "view announcements lost their LISTEN connection" in caplog.text,
               timeout=10, what="the error logged")
    # Committed while nobody listens: no announcement reaches this process.
    runner_side._commit([], Tracking(APP_NAME, 11))
    wait_until(lambda: announcements.listening, timeout=20)
    started = time.monotonic()
    assert heard.wait_for(11, timeout=20)
    assert time.monotonic() - started < 5  # read again on LISTEN, not by the 30 s poll


def test_answers_wait_on_views_run_by_docmgmt_project_without_polling(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The production shape of several workers: the views in ``docmgmt project``, the API
    without projections. Every answer shows its write, and no wait polls."""
    settings = settings_for(database, tmp_path / "data")
    bootstrap_root(settings)
    monkeypatch.setattr(projections, "ANNOUNCED_POLL_SECONDS", 30.0)
    worker = settings.model_copy(update={"run_projections": False})
    with projection_process(settings), serve(worker) as base:
        api = Api(base, settings, database)
        make_city(api)
        official = api.client("official_a")
        doc = drafted(official)
        asked = _counting_asks(monkeypatch)
        for k in range(1, 6):
            r = official.post(f"/documents/{doc}/comments", json={"text": f"Góp ý {k}"})
            assert r.status_code == 201, r.text
            # Read your writes: the answer came once every view showed the comment.
            shown = official.get(f"/documents/{doc}").json()
            assert shown["comment_count"] == k
            assert shown["version"] == r.json()["version"]
        assert asked == []
