"""Dispatch process: its tracking position (the process writes events and tracking together).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    # eventsourcing's single-row tracking layout: the dispatch process records the position
    # of the event it handled in the same transaction as the events it wrote, so a crash
    # or a restart can neither lose nor repeat a delivery.
    op.execute(
        f"CREATE TABLE {S}.dispatch_tracking ("
        " application_name text PRIMARY KEY, notification_id bigint)"
    )
    op.execute(f"INSERT INTO {S}.dispatch_tracking VALUES ('__migration__', 1)")
    op.execute(f"REVOKE ALL ON {S}.dispatch_tracking FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.dispatch_tracking TO {app}")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.dispatch_tracking")
