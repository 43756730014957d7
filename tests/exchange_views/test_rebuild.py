"""The exchange projection: exactly once across restarts, and rebuildable from events."""

from __future__ import annotations

from typing import Any

import psycopg

from docmgmt.incoming.views import ExchangeViews, start_exchange_views
from docmgmt.kernel.db import Database
from docmgmt.kernel.projections import tracking_view
from docmgmt.kernel.store import DocMgmt
from tests.exchange_views.scenario import build, catch_up

VIEWS = ["agency_calendar_view", "incoming_view", "outbox_view", "dispatch_recipients_view"]


def dump(db: Database) -> dict[str, list[Any]]:
    """Every row of every table the projection writes, in a stable order."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        return {v: conn.execute(f"SELECT * FROM docmgmt.{v} ORDER BY 1, 2").fetchall()
                for v in VIEWS}


def position(db: Database) -> Any:
    """The exchange projection's tracked position."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        return conn.execute("SELECT notification_id FROM docmgmt.exchange_tracking"
                            " WHERE application_name = 'docmgmt'").fetchone()


def test_rebuilding_the_exchange_views_gives_identical_tables(database: Database) -> None:
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        build(app)
        catch_up(database, app)
        before = dump(database)
        assert len(before["incoming_view"]) == 10
        assert len(before["outbox_view"]) == 4
        assert len(before["dispatch_recipients_view"]) == 5
        assert position(database) == (app.recorder.max_notification_id(),)
        # Empty every view and forget the position, as an operator would to rebuild.
        with psycopg.connect(database.owner.conninfo()) as conn:
            conn.execute("TRUNCATE " + ", ".join(f"docmgmt.{v}" for v in VIEWS))
            conn.execute("DELETE FROM docmgmt.exchange_tracking"
                         " WHERE application_name = 'docmgmt'")
        assert dump(database)["incoming_view"] == []
        catch_up(database, app)
        assert dump(database) == before
    finally:
        app.close()


def test_a_restarted_projection_resumes_without_repeating(database: Database) -> None:
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    env = database.app.eventsourcing_env("docmgmt", 2)
    try:
        # Running while the story is written, then stopped; restarted after more events.
        with start_exchange_views(env) as runner:
            story = build(app)
            runner.wait(app.recorder.max_notification_id(), timeout=60)
        in1 = app.repository.get(story.incoming["in1"])
        for n in range(3):
            in1.record_progress(f"Tiến độ {n}", story.actor("alice"))
        app.save(in1)
        head = app.recorder.max_notification_id()
        recorder = tracking_view(ExchangeViews.name, env)
        assert not recorder.wait_for(head, timeout=0.2)
        catch_up(database, app)
        assert recorder.wait_for(head, timeout=5)
        recorder.datastore.close()
        with psycopg.connect(database.owner.conninfo()) as conn:
            row = conn.execute("SELECT progress_count, version FROM docmgmt.incoming_view"
                               " WHERE id = %s", (story.incoming["in1"],)).fetchone()
        # One progress report in the story, three after the restart: each counted once.
        assert row == (4, in1.version)
    finally:
        app.close()
