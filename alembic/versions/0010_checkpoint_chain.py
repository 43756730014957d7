"""Checkpoints keep the system key's intermediate CA certificates (PEM), so that a trust
check can link the signer to a root with nothing but the database or the bundle.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    # Adding a column touches no row: the append-only triggers stay as they are.
    op.execute(f"ALTER TABLE {S}.ledger_checkpoints ADD COLUMN signer_chain bytea")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.ledger_checkpoints DROP COLUMN signer_chain")
