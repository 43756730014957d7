"""The pending signature request of each document, in the read model: what the server
follows (a service waiting for the signer's confirmation, a request that expires) and what
the pages show. Existing rows have none (no request existed before this revision).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    """Add the columns and the index of pending requests by expiry."""
    op.execute(f"ALTER TABLE {S}.documents_view"
               " ADD COLUMN signature_request_id text,"
               " ADD COLUMN signature_method text,"
               " ADD COLUMN signature_provider text,"
               " ADD COLUMN signature_signer_id uuid,"
               " ADD COLUMN signature_expires_at timestamptz")
    op.execute(f"CREATE INDEX documents_view_pending_signature_idx ON {S}.documents_view"
               " (signature_expires_at) WHERE signature_request_id IS NOT NULL")


def downgrade() -> None:
    """Drop them."""
    op.execute(f"DROP INDEX {S}.documents_view_pending_signature_idx")
    op.execute(f"ALTER TABLE {S}.documents_view"
               " DROP COLUMN signature_request_id, DROP COLUMN signature_method,"
               " DROP COLUMN signature_provider, DROP COLUMN signature_signer_id,"
               " DROP COLUMN signature_expires_at")
