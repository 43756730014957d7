"""Appendix files (phụ lục) of outgoing documents in the read model.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    op.execute(
        f"CREATE TABLE {S}.appendices_view ("
        " document_id uuid NOT NULL, number integer NOT NULL, title text NOT NULL,"
        " blob_key text NOT NULL, sha256 text NOT NULL, size bigint NOT NULL,"
        " page_count integer NOT NULL, file_name text NOT NULL,"
        " sealed_blob_key text, sealed_sha256 text, PRIMARY KEY (document_id, number))"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.appendices_view TO {app}")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.appendices_view")
