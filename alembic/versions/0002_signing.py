"""Signing workflow: document status details and signed outputs in the read model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    op.execute(
        f"ALTER TABLE {S}.documents_view"
        " ADD COLUMN approved_revision integer,"
        " ADD COLUMN signed_by uuid,"
        " ADD COLUMN signing_capacity text,"
        " ADD COLUMN number integer,"
        " ADD COLUMN code text,"
        " ADD COLUMN number_label text,"
        " ADD COLUMN issued_date date,"
        " ADD COLUMN series text,"
        " ADD COLUMN latest_sha256 text,"
        " ADD COLUMN validation text"
    )
    op.execute(
        f"UPDATE {S}.documents_view SET latest_sha256 = current_sha256 WHERE latest_sha256 IS NULL"
    )
    # Every file the workflow produced (signed, numbered, sealed): for orphan collection
    # and for the register.
    op.execute(
        f"CREATE TABLE {S}.outputs_view ("
        " document_id uuid NOT NULL, step text NOT NULL, blob_key text NOT NULL,"
        " sha256 text NOT NULL, size bigint NOT NULL, created_at timestamptz NOT NULL,"
        " PRIMARY KEY (document_id, step))"
    )
    op.execute(
        f"CREATE UNIQUE INDEX documents_view_number_idx ON {S}.documents_view"
        " (agency_id, series, (extract(year FROM issued_date)), number)"
        " WHERE number IS NOT NULL"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.outputs_view TO {app}")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.outputs_view")
    op.execute(f"DROP INDEX {S}.documents_view_number_idx")
    op.execute(
        f"ALTER TABLE {S}.documents_view DROP COLUMN approved_revision, DROP COLUMN signed_by,"
        " DROP COLUMN signing_capacity, DROP COLUMN number, DROP COLUMN code,"
        " DROP COLUMN number_label, DROP COLUMN issued_date, DROP COLUMN series,"
        " DROP COLUMN latest_sha256, DROP COLUMN validation"
    )
