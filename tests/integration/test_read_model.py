"""The read-model projection: exactly once across restarts, and rebuildable from events."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Role, Urgency
from docmgmt.identity.agencies import add_unit, register_agency
from docmgmt.identity.users import register_user
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.outgoing.views import start_read_model
from tests.support import outgoing as outgoing_store
from tests.support.identity import admin_acting_as

ACTOR = Actor(uuid.uuid4(), "tester", "127.0.0.1")
VIEWS = ["agencies_view", "units_view", "users_view", "documents_view", "revisions_view",
         "outputs_view", "appendices_view", "audit_scopes_view"]


def fill(app: DocMgmt, agency_code: str, documents: int, comments: int) -> list[uuid.UUID]:
    admin = admin_acting_as(ACTOR)
    agency = register_agency(app, admin, agency_code, f"Agency {agency_code}", None).id
    add_unit(app, admin, agency, "VP", "Văn phòng", None)
    register_user(app, admin, username=f"user.{agency_code.lower()}", full_name="Người dùng",
                  title="", agency_id=agency, unit_id=None, roles=[Role.OFFICIAL])
    ids = []
    for n in range(documents):
        digest = uuid.uuid4().hex * 2
        file = FileRef(f"sha256/{digest[:2]}/{digest[2:4]}/{digest}", digest, 10, 1, "a.pdf")
        doc = outgoing_store.draft(app, agency_id=agency, unit_id=None,
                                   summary=f"Văn bản {n}", doc_type=DocumentType.CONG_VAN,
                                   urgency=Urgency.NORMAL,
                                   confidentiality=Confidentiality.NORMAL,
                                   legal_normative=False, file=file, actor=ACTOR).id
        for c in range(comments):
            outgoing_store.comment(app, doc, f"góp ý {c}", ACTOR)
        ids.append(doc)
    return ids


def dump(db: Database) -> dict[str, list[Any]]:
    with psycopg.connect(db.owner.conninfo()) as conn:
        return {v: conn.execute(f"SELECT * FROM docmgmt.{v} ORDER BY 1, 2").fetchall()
                for v in VIEWS}


def run_until_caught_up(db: Database, app: DocMgmt) -> None:
    head = app.recorder.max_notification_id()
    with start_read_model(db.app.eventsourcing_env("docmgmt", 2)) as runner:
        runner.wait(head, timeout=30)


def test_restarted_projection_processes_each_event_exactly_once(database: Database) -> None:
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        env = database.app.eventsourcing_env("docmgmt", 2)
        # The projection runs while the first documents are written, then stops mid-stream.
        with start_read_model(env) as runner:
            first = fill(app, "SOA", documents=5, comments=4)
            runner.wait(app.recorder.max_notification_id(), timeout=30)
        second = fill(app, "SOB", documents=5, comments=4)
        # Restarted, it resumes from its tracking position.
        run_until_caught_up(database, app)
        with psycopg.connect(database.owner.conninfo()) as conn:
            counts = dict(conn.execute(
                "SELECT id, comment_count FROM docmgmt.documents_view").fetchall())
            tracked = conn.execute(
                "SELECT notification_id FROM docmgmt.readmodel_tracking "
                "WHERE application_name = 'docmgmt'").fetchone()
        assert {k: v for k, v in counts.items()} == {d: 4 for d in first + second}
        assert tracked == (app.recorder.max_notification_id(),)
    finally:
        app.close()


def test_rebuilding_the_views_from_events_gives_identical_tables(database: Database) -> None:
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        fill(app, "SOA", documents=4, comments=2)
        run_until_caught_up(database, app)
        before = dump(database)
        assert len(before["documents_view"]) == 4
        # Empty every view and forget the position, as an operator would to rebuild.
        with psycopg.connect(database.owner.conninfo()) as conn:
            for v in VIEWS:
                conn.execute(f"DELETE FROM docmgmt.{v}")
            conn.execute("DELETE FROM docmgmt.readmodel_tracking "
                         "WHERE application_name = 'docmgmt'")
        assert dump(database)["documents_view"] == []
        run_until_caught_up(database, app)
        assert dump(database) == before
    finally:
        app.close()

