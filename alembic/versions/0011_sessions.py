"""Sessions: a per-account session generation that ends older tokens, and the record of
login attempts that throttles guessing (kept outside the append-only event log, bounded).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    # Bumped by every password change, role change and deactivation; a token carries the
    # generation it was issued under.
    op.execute(f"ALTER TABLE {S}.credentials"
               " ADD COLUMN session_generation bigint NOT NULL DEFAULT 0")
    # One row per failed login (and per attempt still being checked); pruned by count and
    # age on every attempt, so a flood of guesses cannot grow it without bound.
    op.execute(
        f"CREATE TABLE {S}.login_failures ("
        " id bigserial PRIMARY KEY, username text NOT NULL, client_address text NOT NULL,"
        " at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )
    op.execute(f"CREATE INDEX login_failures_username ON {S}.login_failures (username, at)")
    op.execute(f"CREATE INDEX login_failures_address ON {S}.login_failures"
               " (client_address, at)")
    op.execute(f"CREATE INDEX login_failures_at ON {S}.login_failures (at)")
    op.execute(f"GRANT SELECT, INSERT, DELETE ON {S}.login_failures TO {app}")
    op.execute(f"GRANT USAGE ON SEQUENCE {S}.login_failures_id_seq TO {app}")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.login_failures")
    op.execute(f"ALTER TABLE {S}.credentials DROP COLUMN session_generation")
