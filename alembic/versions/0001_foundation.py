"""Foundation: event store, append-only guard, application role, read model, credentials.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "docmgmt"
EVENTS = f"{S}.docmgmt_events"


def upgrade() -> None:
    app = migration_app_role()
    # The event store, laid out exactly as eventsourcing's PostgreSQL recorder expects it
    # (application name "docmgmt", UUID originator ids); the library's CREATE_TABLE is off.
    op.execute(
        f"CREATE TYPE {S}.stored_event_uuid AS "
        "(originator_id uuid, originator_version bigint, topic text, state bytea)"
    )
    op.execute(
        f"CREATE TABLE {EVENTS} ("
        " originator_id uuid NOT NULL,"
        " originator_version bigint NOT NULL,"
        " topic text,"
        " state bytea,"
        " notification_id bigserial,"
        " PRIMARY KEY (originator_id, originator_version))"
        " WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000,"
        " autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000,"
        " autovacuum_analyze_scale_factor = 0.01)"
    )
    op.execute(
        f"CREATE UNIQUE INDEX docmgmt_events_notification_id_idx "
        f"ON {EVENTS} (notification_id ASC)"
    )
    # eventsourcing calls this function to insert (POSTGRES_ENABLE_DB_FUNCTIONS=y). Unlike the
    # library's own version it takes the table lock, so notification ids are committed in
    # order and a projection or the ledger can never pass over a gap that fills in later.
    # SECURITY DEFINER: the application role needs no UPDATE/DELETE right for that lock.
    op.execute(
        f"CREATE FUNCTION {S}.es_insert_events_uuid(events {S}.stored_event_uuid[]) "
        "RETURNS SETOF bigint LANGUAGE plpgsql SECURITY DEFINER "
        "SET search_path = pg_catalog, pg_temp AS $body$ "
        "BEGIN "
        "  SET LOCAL lock_timeout = '5s'; "
        f"  LOCK TABLE {EVENTS} IN EXCLUSIVE MODE; "
        "  NOTIFY docmgmt_events; "
        "  RETURN QUERY "
        f"  INSERT INTO {EVENTS} AS t (originator_id, originator_version, topic, state) "
        "  SELECT originator_id, originator_version, topic, state FROM unnest(events) "
        "  RETURNING notification_id; "
        "END; $body$"
    )
    # Append-only, enforced by the database: no UPDATE, DELETE or TRUNCATE, whoever asks.
    op.execute(
        f"CREATE FUNCTION {S}.reject_event_change() RETURNS trigger LANGUAGE plpgsql AS $body$ "
        "BEGIN "
        "  RAISE EXCEPTION 'stored events are append-only: % on %.% is not allowed', "
        "    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; "
        "END; $body$"
    )
    op.execute(
        f"CREATE TRIGGER docmgmt_events_no_update_delete BEFORE UPDATE OR DELETE ON {EVENTS} "
        f"FOR EACH ROW EXECUTE FUNCTION {S}.reject_event_change()"
    )
    op.execute(
        f"CREATE TRIGGER docmgmt_events_no_truncate BEFORE TRUNCATE ON {EVENTS} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.reject_event_change()"
    )

    # Tracking of the read-model projection (eventsourcing single-row tracking layout).
    op.execute(
        f"CREATE TABLE {S}.readmodel_tracking ("
        " application_name text PRIMARY KEY, notification_id bigint)"
    )
    op.execute(f"INSERT INTO {S}.readmodel_tracking VALUES ('__migration__', 1)")

    # Read model: rebuilt from events at any time, so ordinary mutable tables.
    op.execute(
        f"CREATE TABLE {S}.agencies_view ("
        " id uuid PRIMARY KEY, code text NOT NULL UNIQUE, name text NOT NULL,"
        " parent_id uuid, created_at timestamptz NOT NULL, version bigint NOT NULL)"
    )
    op.execute(
        f"CREATE TABLE {S}.units_view ("
        " id uuid PRIMARY KEY, agency_id uuid NOT NULL, code text NOT NULL,"
        " name text NOT NULL, UNIQUE (agency_id, code))"
    )
    op.execute(
        f"CREATE TABLE {S}.users_view ("
        " id uuid PRIMARY KEY, username text NOT NULL UNIQUE, full_name text NOT NULL,"
        " title text NOT NULL, agency_id uuid NOT NULL, unit_id uuid, roles text[] NOT NULL,"
        " active boolean NOT NULL, created_at timestamptz NOT NULL, version bigint NOT NULL)"
    )
    op.execute(f"CREATE INDEX users_view_agency_idx ON {S}.users_view (agency_id, username)")
    op.execute(
        f"CREATE TABLE {S}.documents_view ("
        " id uuid PRIMARY KEY, agency_id uuid NOT NULL, unit_id uuid,"
        " drafted_by uuid NOT NULL, summary text NOT NULL, doc_type text NOT NULL,"
        " urgency text NOT NULL, confidentiality text NOT NULL,"
        " legal_normative boolean NOT NULL, status text NOT NULL,"
        " revision_count integer NOT NULL, current_sha256 text NOT NULL,"
        " current_file_name text NOT NULL, current_size bigint NOT NULL,"
        " current_page_count integer NOT NULL, comment_count integer NOT NULL,"
        " view_count integer NOT NULL, created_at timestamptz NOT NULL,"
        " updated_at timestamptz NOT NULL, version bigint NOT NULL)"
    )
    op.execute(
        f"CREATE INDEX documents_view_agency_updated_idx "
        f"ON {S}.documents_view (agency_id, updated_at DESC, id DESC)"
    )
    op.execute(
        f"CREATE TABLE {S}.revisions_view ("
        " document_id uuid NOT NULL, revision integer NOT NULL, blob_key text NOT NULL,"
        " sha256 text NOT NULL, size bigint NOT NULL, page_count integer NOT NULL,"
        " file_name text NOT NULL, note text NOT NULL, uploaded_by uuid NOT NULL,"
        " uploaded_at timestamptz NOT NULL, PRIMARY KEY (document_id, revision))"
    )
    op.execute(f"CREATE INDEX revisions_view_blob_idx ON {S}.revisions_view (blob_key)")

    # Password hashes are secrets that must be replaceable: never in the event store.
    op.execute(
        f"CREATE TABLE {S}.credentials ("
        " user_id uuid PRIMARY KEY, password_hash text NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())"
    )

    # The application's role: INSERT and SELECT on events, nothing more; full use of the
    # rebuildable read model and of the credentials table.
    op.execute(
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app}') THEN "
        f"CREATE ROLE {app} LOGIN; END IF; END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA {S} TO {app}")
    op.execute(f"REVOKE ALL ON {EVENTS} FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT ON {EVENTS} TO {app}")
    op.execute(f"GRANT USAGE ON SEQUENCE {S}.docmgmt_events_notification_id_seq TO {app}")
    op.execute(
        f"REVOKE ALL ON FUNCTION {S}.es_insert_events_uuid({S}.stored_event_uuid[]) FROM PUBLIC"
    )
    op.execute(
        f"GRANT EXECUTE ON FUNCTION {S}.es_insert_events_uuid({S}.stored_event_uuid[]) TO {app}"
    )
    op.execute(f"GRANT USAGE ON TYPE {S}.stored_event_uuid TO {app}")
    for table in (
        "readmodel_tracking", "agencies_view", "units_view", "users_view",
        "documents_view", "revisions_view", "credentials",
    ):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.{table} TO {app}")
    op.execute(f"GRANT SELECT ON {S}.alembic_version TO {app}")


def downgrade() -> None:
    raise RuntimeError("the event store is append-only: migration 0001 cannot be downgraded")
