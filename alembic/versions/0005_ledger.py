"""Evidence ledger: Merkle leaves of every event, signed checkpoints, the worker's tracking.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    # One leaf per event, keyed by its notification id. The aggregate id and version are
    # kept beside the hash only so that `docmgmt verify` can say *which* event was
    # swapped or replaced; the hash alone is the evidence.
    op.execute(
        f"CREATE TABLE {S}.ledger_leaves ("
        " position bigint PRIMARY KEY,"
        " originator_id uuid NOT NULL,"
        " originator_version bigint NOT NULL,"
        " leaf_hash bytea NOT NULL CHECK (octet_length(leaf_hash) = 32))"
    )
    op.execute(
        f"CREATE TABLE {S}.ledger_checkpoints ("
        " tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),"
        " root_hash bytea NOT NULL CHECK (octet_length(root_hash) = 32),"
        " created_at timestamptz NOT NULL,"
        " signature bytea, signer_certificate bytea, timestamp_token bytea, note text)"
    )
    # Append-only like the events themselves (the trigger function comes from 0001).
    for table in ("ledger_leaves", "ledger_checkpoints"):
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {S}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {S}.reject_event_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {S}.{table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.reject_event_change()"
        )
        op.execute(f"REVOKE ALL ON {S}.{table} FROM PUBLIC")
        op.execute(f"GRANT SELECT, INSERT ON {S}.{table} TO {app}")
    # The ledger worker's position (eventsourcing single-row tracking layout).
    op.execute(
        f"CREATE TABLE {S}.ledger_tracking ("
        " application_name text PRIMARY KEY, notification_id bigint)"
    )
    op.execute(f"INSERT INTO {S}.ledger_tracking VALUES ('__migration__', 1)")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.ledger_tracking TO {app}")


def downgrade() -> None:
    raise RuntimeError("the ledger is evidence: migration 0005 cannot be downgraded")
