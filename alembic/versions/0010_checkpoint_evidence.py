"""Checkpoints keep what a later, offline trust check needs: the system key's intermediate
CA certificates (PEM), to link the signer to a root, and the CRLs of the signer's and the
TSA's issuers fetched when the checkpoint was made (PEM), to show neither was revoked.

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
    # Adding columns touches no row: the append-only triggers stay as they are.
    op.execute(f"ALTER TABLE {S}.ledger_checkpoints ADD COLUMN signer_chain bytea,"
               " ADD COLUMN revocation_info bytea")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.ledger_checkpoints DROP COLUMN revocation_info,"
               " DROP COLUMN signer_chain")
