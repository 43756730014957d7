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
    # Append-only history of state entries: one row per (aggregate, last version), so a
    # later entry supersedes an earlier one without an UPDATE; the current entry of an
    # aggregate is its highest version. Derivable from ledger_leaves, kept for speed.
    op.execute(
        f"CREATE TABLE {S}.ledger_state ("
        " originator_id uuid NOT NULL,"
        " last_version bigint NOT NULL CHECK (last_version >= 1),"
        " last_position bigint NOT NULL CHECK (last_position >= 1),"
        " PRIMARY KEY (originator_id, last_version))"
    )
    op.execute(
        f"CREATE TRIGGER ledger_state_no_update_delete BEFORE UPDATE OR DELETE ON "
        f"{S}.ledger_state FOR EACH ROW EXECUTE FUNCTION {S}.reject_event_change()"
    )
    op.execute(
        f"CREATE TRIGGER ledger_state_no_truncate BEFORE TRUNCATE ON {S}.ledger_state "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.reject_event_change()"
    )
    op.execute(f"REVOKE ALL ON {S}.ledger_state FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT ON {S}.ledger_state TO {app}")
    # Format-2 checkpoints sign the state root; format-1 rows keep NULL here.
    op.execute(
        f"ALTER TABLE {S}.ledger_checkpoints"
        " ADD COLUMN state_entries bigint CHECK (state_entries >= 0),"
        " ADD COLUMN state_root bytea CHECK (octet_length(state_root) = 32)"
    )


def downgrade() -> None:
    # Nothing here is primary evidence: the state entries derive from ledger_leaves, and
    # dropping them only removes the state roots that format-2 checkpoints would sign.
    op.execute(f"DROP TABLE {S}.ledger_state")
    op.execute(
        f"ALTER TABLE {S}.ledger_checkpoints DROP COLUMN state_entries, DROP COLUMN state_root"
    )
