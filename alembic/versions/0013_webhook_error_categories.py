"""Webhook delivery records keep a short error category, never a connection error's text:
the text (host, port, errno) let whoever reads the deliveries probe the network. Rows
written before are rewritten to their category, and a check keeps it so.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

S = "docmgmt"
ALLOWED = "'^(HTTP [0-9]{3}|[a-z_]{1,40}|the subscription was cancelled)$'"


def upgrade() -> None:
    op.execute(
        f"UPDATE {S}.webhook_deliveries SET last_error = CASE"
        " WHEN last_error ILIKE '%connection refused%' THEN 'connection_refused'"
        " WHEN last_error ILIKE '%timeout%' OR last_error ILIKE '%timed out%' THEN 'timeout'"
        " WHEN last_error ILIKE '%ssl%' OR last_error ILIKE '%certificate%' THEN 'tls'"
        " ELSE 'connection_failed' END"
        f" WHERE last_error IS NOT NULL AND last_error !~ {ALLOWED}")
    op.execute(f"ALTER TABLE {S}.webhook_deliveries ADD CONSTRAINT"
               " webhook_deliveries_error_category"
               f" CHECK (last_error IS NULL OR last_error ~ {ALLOWED})")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.webhook_deliveries DROP CONSTRAINT"
               " webhook_deliveries_error_category")
