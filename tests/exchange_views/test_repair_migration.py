"""Migration 0014 repairs the rows older projection code left behind their aggregates.

The old read model skipped dispatch, recall, links and delivery events (and
Agency.CalendarSet; the exchange views skipped Agency.UnitAdded), and its tracking is past
them, so the fixed handlers never see them again. The migration must bring such rows to
what the fixed projections give, as of each projection's own position: equal to a rebuild.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from psycopg.rows import dict_row

from alembic import command
from docmgmt.domain.outgoing import OutgoingDocument, Relation
from docmgmt.kernel.db import Database
from docmgmt.kernel.migrations import alembic_config
from docmgmt.kernel.store import DocMgmt
from tests.exchange_views.scenario import build, catch_up

VIEWS = ["documents_view", "agencies_view", "agency_calendar_view"]
READ_MODEL = ["agencies_view", "units_view", "users_view", "documents_view",
              "revisions_view", "outputs_view", "appendices_view", "audit_scopes_view"]
EXCHANGE = ["agency_calendar_view", "incoming_view", "outbox_view",
            "dispatch_recipients_view"]


def dump(db: Database) -> dict[str, list[Any]]:
    """The rows of the views whose version and status the migration repairs."""
    with psycopg.connect(db.owner.conninfo(), row_factory=dict_row) as conn:
        return {v: conn.execute(f"SELECT * FROM docmgmt.{v} ORDER BY id").fetchall()
                for v in VIEWS}


def shown(rows: dict[str, list[Any]], document_id: uuid.UUID) -> tuple[str, int]:
    """The status and version the documents view shows for one document."""
    row = next(r for r in rows["documents_view"] if r["id"] == document_id)
    return row["status"], row["version"]


def as_old_code_left_them(db: Database) -> None:
    """Put the rows the fixed handlers moved back behind their aggregates (UBDN's
    calendar was set; every agency got units)."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        conn.execute("UPDATE docmgmt.documents_view SET status = 'sealed', version = 1,"
                     " updated_at = '2000-01-01Z' WHERE status IN ('dispatched', 'recalled')"
                     " OR version > 2")
        conn.execute("UPDATE docmgmt.agencies_view SET version = 1 WHERE code = 'UBDN'")
        conn.execute("UPDATE docmgmt.agency_calendar_view SET version = 1,"
                     " updated_at = '2000-01-01Z'")


def migrate_again(db: Database) -> None:
    """Step back to before 0014 and upgrade to the head, as a deployment does."""
    cfg = alembic_config(db)
    before = ScriptDirectory.from_config(cfg).get_revision("0014").down_revision
    assert isinstance(before, str)
    command.downgrade(cfg, before)
    command.upgrade(cfg, "head")


def test_the_migration_gives_the_rows_a_rebuild_gives(database: Database) -> None:
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        story = build(app)
        # A draft that replaces the decision; the letter recalled, and the confirmation
        # carries a NUL in a name (stored as "\u0000" in the event's JSON).
        draft: OutgoingDocument = app.repository.get(story.outgoing["draft"])
        qd: OutgoingDocument = app.repository.get(story.outgoing["qd"])
        draft.link(Relation.REPLACES, qd, story.actor("drafter"))
        app.save(draft)
        cv: OutgoingDocument = app.repository.get(story.outgoing["cv"])
        cv.recall("Sai số liệu", story.actor("clerk.stc"))
        cv.record_recall_confirmation(story.agencies["UBDN"], {
            "user_id": str(story.users["clerk"]), "username": "clerk\x00x"})
        app.save(cv)
        catch_up(database, app)
        expected = dump(database)
        versions = {k: app.repository.get(story.outgoing[k]).version
                    for k in ("qd", "cv", "tb", "draft")}
        assert {k: shown(expected, story.outgoing[k]) for k in versions} == {
            "qd": ("dispatched", versions["qd"]), "cv": ("recalled", versions["cv"]),
            "tb": ("recalled", versions["tb"]), "draft": ("draft", versions["draft"])}

        # One more event the projections have not processed yet: not part of the repair.
        qd = app.repository.get(story.outgoing["qd"])
        assert qd.record_acknowledgement(story.agencies["SXD"], "09",
                                         {"user_id": str(uuid.uuid4())})
        app.save(qd)

        as_old_code_left_them(database)
        assert dump(database) != expected
        migrate_again(database)
        assert dump(database) == expected

        # The projections go on from their positions, and the result equals a rebuild.
        catch_up(database, app)
        after = dump(database)
        assert shown(after, qd.id) == ("dispatched", qd.version)
        with psycopg.connect(database.owner.conninfo()) as conn:
            conn.execute("TRUNCATE " + ", ".join(f"docmgmt.{v}" for v in READ_MODEL + EXCHANGE))
            for tracking in ("readmodel_tracking", "exchange_tracking"):
                conn.execute(f"DELETE FROM docmgmt.{tracking}"
                             " WHERE application_name = 'docmgmt'")
        catch_up(database, app)
        assert dump(database) == after
    finally:
        app.close()
