"""Ledger state tree: each aggregate's last version/position, state roots on checkpoints.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    # One row per aggregate: its last version and the log position of that event, kept by
    # the ledger worker in the transaction that appends the leaf. It is derived from
    # ledger_leaves (which stays the evidence) and kept so that a checkpoint reads only
    # the aggregates changed since the previous one, not every leaf.
    op.execute(
        f"CREATE TABLE {S}.ledger_state ("
        " originator_id uuid PRIMARY KEY,"
        " last_version bigint NOT NULL CHECK (last_version >= 1),"
        " last_position bigint NOT NULL CHECK (last_position >= 1))"
    )
    op.execute(f"CREATE INDEX ledger_state_position ON {S}.ledger_state (last_position)")
    # Append-only in spirit: a row only moves forward (a later event of its aggregate);
    # it is never deleted, truncated or moved back.
    op.execute(
        f"CREATE FUNCTION {S}.ledger_state_forward_only() RETURNS trigger LANGUAGE plpgsql"
        " AS $body$ BEGIN"
        "  IF NEW.originator_id <> OLD.originator_id"
        "     OR NEW.last_version <= OLD.last_version"
        "     OR NEW.last_position <= OLD.last_position THEN"
        "    RAISE EXCEPTION 'ledger state entries only move forward'"
        "      USING ERRCODE = 'insufficient_privilege';"
        "  END IF;"
        "  RETURN NEW;"
        " END; $body$"
    )
    op.execute(
        f"CREATE TRIGGER ledger_state_forward_only BEFORE UPDATE ON {S}.ledger_state "
        f"FOR EACH ROW EXECUTE FUNCTION {S}.ledger_state_forward_only()"
    )
    op.execute(
        f"CREATE TRIGGER ledger_state_no_delete BEFORE DELETE ON {S}.ledger_state "
        f"FOR EACH ROW EXECUTE FUNCTION {S}.reject_event_change()"
    )
    op.execute(
        f"CREATE TRIGGER ledger_state_no_truncate BEFORE TRUNCATE ON {S}.ledger_state "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.reject_event_change()"
    )
    # Leaves hashed before this migration: their aggregates' entries, from the leaves.
    op.execute(
        f"INSERT INTO {S}.ledger_state"
        " SELECT DISTINCT ON (originator_id) originator_id, originator_version, position"
        f" FROM {S}.ledger_leaves ORDER BY originator_id, originator_version DESC"
    )
    op.execute(f"REVOKE ALL ON {S}.ledger_state FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.ledger_state TO {app}")
    # Format-2 checkpoints sign the state root; format-1 rows keep NULL here.
    op.execute(
        f"ALTER TABLE {S}.ledger_checkpoints"
        " ADD COLUMN state_entries bigint CHECK (state_entries >= 0),"
        " ADD COLUMN state_root bytea CHECK (octet_length(state_root) = 32)"
    )


def downgrade() -> None:
    # Nothing here is primary evidence: the state entries derive from ledger_leaves, and
    # dropping them only removes the state roots that format-2 checkpoints signed (their
    # notes keep the roots; `docmgmt verify` recomputes them from the leaves).
    op.execute(f"DROP TABLE {S}.ledger_state")
    op.execute(f"DROP FUNCTION {S}.ledger_state_forward_only()")
    op.execute(
        f"ALTER TABLE {S}.ledger_checkpoints DROP COLUMN state_entries, DROP COLUMN state_root"
    )
