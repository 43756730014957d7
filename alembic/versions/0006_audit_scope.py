"""Audit scope: which agencies each auditor holds a mandate for, in the read model.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    op.execute(
        f"CREATE TABLE {S}.audit_scopes_view ("
        " auditor_id uuid NOT NULL, agency_id uuid NOT NULL,"
        " valid_from timestamptz NOT NULL, valid_to timestamptz,"
        " revoked boolean NOT NULL DEFAULT false,"
        " PRIMARY KEY (auditor_id, agency_id))"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.audit_scopes_view TO {app}")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.audit_scopes_view")
