"""Ledger tiles: the root of every complete aligned block of 256 leaves.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    # Tile k: the Merkle root of leaves 256k .. 256k+255 and the log positions of the
    # first and last of them. Derived from ledger_leaves (which stays the evidence) and
    # written with each checkpoint, so that an inclusion proof reads the tiles and one
    # block of leaves instead of every leaf. Append-only like the leaves: a tile's leaves
    # never change, so neither does its root. Tiles for leaves hashed before this
    # migration are written by the next checkpoint.
    op.execute(
        f"CREATE TABLE {S}.ledger_tiles ("
        " tile bigint PRIMARY KEY CHECK (tile >= 0),"
        " first_position bigint NOT NULL,"
        " last_position bigint NOT NULL CHECK (last_position > first_position),"
        " root bytea NOT NULL CHECK (octet_length(root) = 32))"
    )
    op.execute(
        f"CREATE TRIGGER ledger_tiles_no_update_delete BEFORE UPDATE OR DELETE ON"
        f" {S}.ledger_tiles FOR EACH ROW EXECUTE FUNCTION {S}.reject_event_change()"
    )
    op.execute(
        f"CREATE TRIGGER ledger_tiles_no_truncate BEFORE TRUNCATE ON {S}.ledger_tiles"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {S}.reject_event_change()"
    )
    op.execute(f"REVOKE ALL ON {S}.ledger_tiles FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT ON {S}.ledger_tiles TO {app}")


def downgrade() -> None:
    # Nothing here is evidence: tiles are recomputed from the leaves by the next checkpoint.
    op.execute(f"DROP TABLE {S}.ledger_tiles")
