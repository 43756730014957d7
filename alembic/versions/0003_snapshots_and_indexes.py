"""Snapshots table (eventsourcing layout) and a status index for filtered document lists.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    # Snapshots are a cache of replayed state: they may be dropped and rebuilt, so the
    # application may insert them, while the events themselves stay append-only.
    op.execute(
        f"CREATE TABLE {S}.docmgmt_snapshots ("
        " originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
        " topic text, state bytea, PRIMARY KEY (originator_id, originator_version))"
    )
    op.execute(f"GRANT SELECT, INSERT ON {S}.docmgmt_snapshots TO {app}")
    op.execute(
        f"CREATE INDEX documents_view_agency_status_idx ON {S}.documents_view"
        " (agency_id, status, updated_at DESC, id DESC)"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX {S}.documents_view_agency_status_idx")
    op.execute(f"DROP TABLE {S}.docmgmt_snapshots")
