"""Helpers for the ledger tests: events in a real database, and tampering with them."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Urgency
from docmgmt.identity.agencies import register_agency
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.worker import start_ledger
from tests.support import outgoing as outgoing_store
from tests.support.identity import admin_acting_as

ACTOR = Actor(uuid.uuid4(), "tester", "127.0.0.1")
SEQ = "docmgmt.docmgmt_events_notification_id_seq"


def fill(app: DocMgmt, code: str, documents: int = 3, comments: int = 2) -> None:
    agency = register_agency(app, admin_acting_as(ACTOR), code, f"Agency {code}", None).id
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


def catch_up(db: Database, app: DocMgmt) -> None:
    with start_ledger(db.app.eventsourcing_env("docmgmt", 2)) as runner:
        runner.wait(app.recorder.max_notification_id(), timeout=30)


def events(db: Database) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.owner.conninfo()) as conn:
        return conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM docmgmt.docmgmt_events ORDER BY notification_id").fetchall()


def tamper(db: Database, *statements: str) -> None:
    """Run statements as the superuser with the append-only triggers switched off."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in statements:
            conn.execute(statement)


def ledgered_database(database: Database, data_dir: Any, monkeypatch: Any) -> Database:
    """Point the ``docmgmt`` command at ``database`` and give it a small ledger."""
    monkeypatch.setenv("DOCMGMT_DATABASE_URL", database.app.url())
    monkeypatch.setenv("DOCMGMT_MIGRATION_DATABASE_URL", database.owner.url())
    monkeypatch.setenv("DOCMGMT_DATA_DIR", str(data_dir))
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        fill(app, "SOA")
        catch_up(database, app)
    finally:
        app.close()
    return database
