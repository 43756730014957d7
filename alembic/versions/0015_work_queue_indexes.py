"""Indexes for counting what waits for a person: their own drafts by status, and the
agency's withdrawals awaiting confirmation. No table or column changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    """Add the two indexes."""
    op.execute(f"CREATE INDEX documents_view_drafter_status_idx ON {S}.documents_view"
               " (drafted_by, status)")
    op.execute(f"CREATE INDEX incoming_view_withdrawn_idx ON {S}.incoming_view (agency_id)"
               " WHERE status = 'withdrawn' AND NOT withdrawal_confirmed")


def downgrade() -> None:
    """Drop them."""
    op.execute(f"DROP INDEX {S}.incoming_view_withdrawn_idx")
    op.execute(f"DROP INDEX {S}.documents_view_drafter_status_idx")
