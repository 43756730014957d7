"""The event store in PostgreSQL: schema from Alembic, append-only enforced by the database."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from docmgmt.domain.common import Actor
from docmgmt.identity.agencies import register_agency
from docmgmt.kernel import migrations
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from tests.support.identity import admin_acting_as
from tests.support.pg import Cluster

ACTOR = Actor(uuid.uuid4(), "tester")
TAMPERING = [
    "UPDATE docmgmt.docmgmt_events SET topic = 'forged'",
    "DELETE FROM docmgmt.docmgmt_events",
    "TRUNCATE docmgmt.docmgmt_events",
]


def record_some_events(db: Database) -> int:
    app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 2))
    try:
        for i in range(3):
            register_agency(app, admin_acting_as(ACTOR), f"AG{i}", f"Agency {i}", None)
    finally:
        app.close()
    return count_events(db)


def count_events(db: Database) -> int:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM docmgmt.docmgmt_events").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("statement", TAMPERING)
def test_application_role_cannot_change_or_remove_events(
    database: Database, statement: str
) -> None:
    before = record_some_events(database)
    with psycopg.connect(database.app.conninfo()) as conn, pytest.raises(
        psycopg.errors.InsufficientPrivilege, match="permission denied"
    ):
        conn.execute(statement)
    assert count_events(database) == before


@pytest.mark.parametrize("statement", TAMPERING)
def test_table_owner_is_stopped_by_the_triggers(database: Database, statement: str) -> None:
    before = record_some_events(database)
    with psycopg.connect(database.owner.conninfo()) as conn, pytest.raises(
        psycopg.errors.InsufficientPrivilege, match="stored events are append-only"
    ):
        conn.execute(statement)
    assert count_events(database) == before


def test_application_role_privileges_on_events_are_insert_and_select_only(
    database: Database,
) -> None:
    with psycopg.connect(database.owner.conninfo()) as conn:
        rows = conn.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema = 'docmgmt' AND table_name = 'docmgmt_events' "
            "AND grantee = 'docmgmt_app' ORDER BY 1"
        ).fetchall()
    assert [r[0] for r in rows] == ["INSERT", "SELECT"]


def test_events_are_numbered_in_commit_order_without_gaps(database: Database) -> None:
    record_some_events(database)
    with psycopg.connect(database.owner.conninfo()) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT notification_id FROM docmgmt.docmgmt_events ORDER BY notification_id")]
    assert ids == list(range(1, len(ids) + 1))


def test_alembic_schema_matches_what_eventsourcing_creates(
    database: Database, pg_cluster: Cluster
) -> None:
    # Let the library create its own tables in a scratch schema, then compare columns.
    with psycopg.connect(database.owner.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA scratch")
    datastore = PostgresDatastore(
        dbname=database.owner.dbname, host=database.owner.host, port=database.owner.port,
        user=database.owner.user, password="", schema="scratch",
    )
    try:
        PostgresApplicationRecorder(datastore, events_table_name="docmgmt_events").create_table()
    finally:
        datastore.close()
    query = ("SELECT column_name, data_type, is_nullable, ordinal_position "
             "FROM information_schema.columns WHERE table_schema = %s "
             "AND table_name = 'docmgmt_events' ORDER BY ordinal_position")
    with psycopg.connect(database.owner.conninfo()) as conn:
        ours = conn.execute(query, ("docmgmt",)).fetchall()
        theirs = conn.execute(query, ("scratch",)).fetchall()
    assert ours == theirs


def test_unmigrated_database_is_refused_with_a_clear_message(pg_cluster: Cluster) -> None:
    name = "unmigrated_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_cluster.admin.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        from dataclasses import replace
        owner = replace(pg_cluster.admin, dbname=name)
        db = Database(owner=owner, app=replace(owner, user="docmgmt_app"))
        with pytest.raises(migrations.DatabaseNotMigratedError, match="run `docmgmt migrate`"):
            migrations.require_migrated(db)
        # Migrating makes it acceptable, and migrating again changes nothing.
        migrations.upgrade(db)
        migrations.upgrade(db)
        migrations.require_migrated(db)
    finally:
        with psycopg.connect(pg_cluster.admin.conninfo(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
