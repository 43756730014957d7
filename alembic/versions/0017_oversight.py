"""Oversight: the read side the city's and the departments' leaders see across the agency
tree (who holds which late document, where, since when), and oversight mandates.

Written by the ``oversight`` projection (docmgmt.oversight.views) with its own tracking;
rebuildable from the events at any time, so ordinary mutable tables. Nothing here says
"late": queries derive it from ``due`` and the clock at query time.

- ``oversight_agencies``, ``oversight_units``, ``oversight_people``: names and the tree
  (and each agency's calendar, for the dispatch deadlines the projection computes).
- ``oversight_open``: one row per open document (incoming copy or outgoing document) at the
  step it waits at, with its holder; the row goes when the document leaves the open states
  (completed, returned, withdrawn, dispatched and acknowledged by every recipient...);
  ``assigned_at``: an incoming copy's first assignment (handling time counts from it).
- ``oversight_unacknowledged``: one row per dispatched document and recipient agency in the
  system that has not registered (nor returned) its copy yet.
- ``oversight_daily``: flows counted on the local (Vietnam) day they happened, at three
  levels of one key: 0 the agency, 1 agency + unit, 2 agency + unit + person. ``unit_id``
  and ``person_id`` hold the nil UUID for "none" (and at the levels above theirs), so each
  level sums to the same totals.
- ``oversight_mandates``: who may oversee which agency subtree, from when, until when.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

S = "docmgmt"
TABLES = ("oversight_agencies", "oversight_units", "oversight_people", "oversight_open",
          "oversight_unacknowledged", "oversight_daily", "oversight_mandates")
NIL = "'00000000-0000-0000-0000-000000000000'::uuid"


def upgrade() -> None:
    """Create the oversight tracking, views and their indexes."""
    app = migration_app_role()
    # The projection's position (eventsourcing single-row tracking layout, as 0005).
    op.execute(f"CREATE TABLE {S}.oversight_tracking ("
               " application_name text PRIMARY KEY, notification_id bigint)")
    op.execute(f"INSERT INTO {S}.oversight_tracking VALUES ('__migration__', 1)")
    op.execute(f"REVOKE ALL ON {S}.oversight_tracking FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.oversight_tracking TO {app}")

    op.execute(f"CREATE TABLE {S}.oversight_agencies ("
               " id uuid PRIMARY KEY, code text NOT NULL, name text NOT NULL,"
               " parent_id uuid, extra_days_off date[] NOT NULL DEFAULT '{}',"
               " make_up_working_days date[] NOT NULL DEFAULT '{}')")
    op.execute(f"CREATE INDEX oversight_agencies_parent_idx ON {S}.oversight_agencies"
               " (parent_id)")
    op.execute(f"CREATE TABLE {S}.oversight_units ("
               " id uuid PRIMARY KEY, agency_id uuid NOT NULL, code text NOT NULL,"
               " name text NOT NULL)")
    op.execute(f"CREATE INDEX oversight_units_agency_idx ON {S}.oversight_units (agency_id)")
    op.execute(f"CREATE TABLE {S}.oversight_people ("
               " id uuid PRIMARY KEY, agency_id uuid NOT NULL, unit_id uuid,"
               " full_name text NOT NULL, title text NOT NULL DEFAULT '')")
    op.execute(f"CREATE INDEX oversight_people_agency_idx ON {S}.oversight_people"
               " (agency_id, unit_id)")

    # direction: incoming | outgoing; step, holder_kind: docmgmt.oversight.model values.
    # unit_id / person_id: the line the document rolls up under (NULL: none).
    op.execute(f"CREATE TABLE {S}.oversight_open ("
               " document_id uuid PRIMARY KEY, direction text NOT NULL,"
               " agency_id uuid NOT NULL, unit_id uuid, person_id uuid,"
               " label text NOT NULL DEFAULT '', summary text NOT NULL DEFAULT '',"
               " urgency text NOT NULL DEFAULT '',"
               " step text NOT NULL, holder_kind text NOT NULL, holder_id uuid,"
               " since timestamptz NOT NULL, due timestamptz,"
               " extension_pending boolean NOT NULL DEFAULT false, assigned_at timestamptz)")
    op.execute(f"CREATE INDEX oversight_open_agency_idx ON {S}.oversight_open"
               " (agency_id, due)")
    op.execute(f"CREATE INDEX oversight_open_line_idx ON {S}.oversight_open"
               " (agency_id, unit_id, person_id)")

    op.execute(f"CREATE TABLE {S}.oversight_unacknowledged ("
               " document_id uuid NOT NULL, recipient_agency_id uuid NOT NULL,"
               " agency_id uuid NOT NULL, unit_id uuid, person_id uuid,"
               " dispatched_at timestamptz NOT NULL, due timestamptz,"
               # The document's label and summary at dispatch, for the late lists.
               " label text NOT NULL DEFAULT '', summary text NOT NULL DEFAULT '',"
               " PRIMARY KEY (document_id, recipient_agency_id))")
    op.execute(f"CREATE INDEX oversight_unacknowledged_agency_idx ON"
               f" {S}.oversight_unacknowledged (agency_id, unit_id, person_id)")

    op.execute(f"CREATE TABLE {S}.oversight_daily ("
               " agency_id uuid NOT NULL, level smallint NOT NULL,"
               f" unit_id uuid NOT NULL DEFAULT {NIL}, person_id uuid NOT NULL DEFAULT {NIL},"
               " day date NOT NULL,"
               " arrived integer NOT NULL DEFAULT 0,"
               " completed_on_time integer NOT NULL DEFAULT 0,"
               " completed_late integer NOT NULL DEFAULT 0,"
               " handling_seconds double precision NOT NULL DEFAULT 0,"
               " extensions_requested integer NOT NULL DEFAULT 0,"
               " extensions_granted integer NOT NULL DEFAULT 0,"
               " dispatched integer NOT NULL DEFAULT 0,"
               " dispatched_late integer NOT NULL DEFAULT 0,"
               " PRIMARY KEY (level, agency_id, unit_id, person_id, day),"
               " CHECK (level IN (0, 1, 2)))")
    op.execute(f"CREATE INDEX oversight_daily_day_idx ON {S}.oversight_daily (level, day)")

    op.execute(f"CREATE TABLE {S}.oversight_mandates ("
               " id uuid PRIMARY KEY, user_id uuid NOT NULL, agency_id uuid NOT NULL,"
               " valid_from timestamptz, valid_to timestamptz,"
               " legal_basis text NOT NULL DEFAULT '', revoked boolean NOT NULL DEFAULT false,"
               " revoked_reason text NOT NULL DEFAULT '',"
               " granted_by uuid, granted_at timestamptz NOT NULL, version integer NOT NULL)")
    op.execute(f"CREATE INDEX oversight_mandates_user_idx ON {S}.oversight_mandates"
               " (user_id)")

    for table in TABLES:
        op.execute(f"REVOKE ALL ON {S}.{table} FROM PUBLIC")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.{table} TO {app}")


def downgrade() -> None:
    """Drop them."""
    for table in (*TABLES, "oversight_tracking"):
        op.execute(f"DROP TABLE {S}.{table}")
