"""Exchange views: incoming documents, the outbox with per-recipient delivery, calendars.

Written by the ``exchange`` projection (docmgmt.incoming.views) with its own tracking;
rebuildable from events at any time, so ordinary mutable tables. Overdue and due-soon are
never stored: queries derive them from the deadline and the current time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "docmgmt"
VIEWS = ("agency_calendar_view", "incoming_view", "outbox_view", "dispatch_recipients_view")


def upgrade() -> None:
    app = migration_app_role()
    # The projection's position (eventsourcing single-row tracking layout, as 0005).
    op.execute(
        f"CREATE TABLE {S}.exchange_tracking ("
        " application_name text PRIMARY KEY, notification_id bigint)"
    )
    op.execute(f"INSERT INTO {S}.exchange_tracking VALUES ('__migration__', 1)")
    op.execute(f"REVOKE ALL ON {S}.exchange_tracking FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.exchange_tracking TO {app}")

    # Agency names (folded, for the recipient part of search keys) and calendars.
    op.execute(
        f"CREATE TABLE {S}.agency_calendar_view ("
        " id uuid PRIMARY KEY, code text NOT NULL, name text NOT NULL,"
        " search_name text NOT NULL,"
        " extra_days_off date[] NOT NULL DEFAULT '{}',"
        " make_up_working_days date[] NOT NULL DEFAULT '{}',"
        " version bigint NOT NULL, updated_at timestamptz NOT NULL)"
    )

    # One row per IncomingDocument (a recipient agency's copy).
    op.execute(
        f"CREATE TABLE {S}.incoming_view ("
        " id uuid PRIMARY KEY, agency_id uuid NOT NULL, recipient_name text NOT NULL,"
        " sender_agency_id uuid NOT NULL, sender_code text NOT NULL, sender_name text NOT NULL,"
        " outgoing_id uuid NOT NULL, number_label text NOT NULL, code text NOT NULL,"
        " issued_date date, doc_type text NOT NULL, summary text NOT NULL,"
        " urgency text NOT NULL, confidentiality text NOT NULL,"
        " file jsonb NOT NULL, appendices jsonb NOT NULL, links jsonb NOT NULL,"
        " arrived_at timestamptz NOT NULL, registration_due timestamptz,"
        " authentic boolean NOT NULL, authenticity jsonb NOT NULL,"
        " status text NOT NULL,"
        " arrival_number integer, arrival_year integer, registered_on date,"
        " registered_at timestamptz, registered_by uuid,"
        " return_reason text, returned_at timestamptz, returned_by uuid,"
        " lead_unit_id uuid, lead_user_id uuid,"
        " supporting_unit_ids uuid[] NOT NULL DEFAULT '{}', instructions text,"
        " assigned_at timestamptz, last_assigned_at timestamptz, assigned_by uuid,"
        " deadline timestamptz,"
        " pending_extension_deadline timestamptz, pending_extension_reason text,"
        " pending_extension_by uuid, pending_extension_at timestamptz,"
        " progress_count integer NOT NULL DEFAULT 0, last_progress_at timestamptz,"
        " last_progress_note text,"
        " completed_at timestamptz, completed_on_time boolean, completed_by uuid,"
        " result text, reply_document_id uuid,"
        " withdrawn boolean NOT NULL DEFAULT false, withdrawal_reason text,"
        " withdrawn_at timestamptz, status_before_withdrawal text,"
        " withdrawal_confirmed boolean NOT NULL DEFAULT false,"
        " withdrawal_confirmed_at timestamptz,"
        " search_key text NOT NULL, search_vector tsvector NOT NULL,"
        " version bigint NOT NULL, updated_at timestamptz NOT NULL)"
    )
    # Inbox paging (newest first): per agency, per lead person, per lead unit; supporting
    # units through the array index; the clerks' queue (not yet registered or assigned).
    for name, cols, where in [
        ("agency", "agency_id, arrived_at DESC, id DESC", ""),
        ("lead_user", "lead_user_id, arrived_at DESC, id DESC",
         " WHERE lead_user_id IS NOT NULL"),
        ("lead_unit", "lead_unit_id, arrived_at DESC, id DESC",
         " WHERE lead_unit_id IS NOT NULL"),
        ("clerk_queue", "agency_id, arrived_at DESC, id DESC",
         " WHERE status IN ('received', 'registered')"),
        # The incoming register, by year and arrival number.
        ("register", "agency_id, arrival_year, arrival_number",
         " WHERE arrival_number IS NOT NULL"),
        # Dashboard periods: by assignment time or by deadline.
        ("assigned", "agency_id, assigned_at", ""),
        ("deadline", "agency_id, deadline", ""),
    ]:
        op.execute(f"CREATE INDEX incoming_view_{name}_idx ON {S}.incoming_view ({cols}){where}")
    op.execute(f"CREATE INDEX incoming_view_supporting_idx ON {S}.incoming_view "
               "USING gin (supporting_unit_ids)")
    op.execute(f"CREATE INDEX incoming_view_search_idx ON {S}.incoming_view "
               "USING gin (search_vector)")

    # One row per OutgoingDocument from its draft on; the outgoing register and the outbox
    # are the rows that got a number.
    op.execute(
        f"CREATE TABLE {S}.outbox_view ("
        " id uuid PRIMARY KEY, agency_id uuid NOT NULL, unit_id uuid, drafted_by uuid NOT NULL,"
        " summary text NOT NULL, doc_type text NOT NULL, urgency text NOT NULL,"
        " confidentiality text NOT NULL, legal_normative boolean NOT NULL,"
        " status text NOT NULL,"
        " signed_by uuid, signer_title text, signing_capacity text, signed_at timestamptz,"
        " number integer, code text, series text, year integer, issued_date date,"
        " number_label text, numbered_at timestamptz, sealed_at timestamptz,"
        " dispatch_due timestamptz,"
        " links jsonb NOT NULL DEFAULT '[]',"
        " dispatched_at timestamptz, dispatched_by uuid, dispatch_note text,"
        " external_recipients text[] NOT NULL DEFAULT '{}',"
        " recalled_at timestamptz, recall_reason text,"
        " search_key text NOT NULL, search_vector tsvector NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
    )
    for name, cols in [
        ("agency", "agency_id, numbered_at DESC, id DESC"),
        ("unit", "unit_id, numbered_at DESC, id DESC"),
        ("drafter", "drafted_by, numbered_at DESC, id DESC"),
        ("register", "agency_id, year, series, number"),
    ]:
        op.execute(f"CREATE INDEX outbox_view_{name}_idx ON {S}.outbox_view ({cols})"
                   " WHERE number IS NOT NULL")
    op.execute(f"CREATE INDEX outbox_view_search_idx ON {S}.outbox_view "
               "USING gin (search_vector)")

    # Nơi nhận: one row per recipient of a dispatched document, in the order listed;
    # agencies in the system first (with their delivery state), then external names.
    op.execute(
        f"CREATE TABLE {S}.dispatch_recipients_view ("
        " outgoing_id uuid NOT NULL, position integer NOT NULL,"
        " agency_id uuid, code text, name text NOT NULL, external boolean NOT NULL,"
        " state text NOT NULL, incoming_id uuid, delivered_at timestamptz,"
        " arrival_label text, acknowledged_at timestamptz, acknowledged_by uuid,"
        " return_reason text, returned_at timestamptz, withdrawn_at timestamptz,"
        " recall_confirmed_at timestamptz,"
        " PRIMARY KEY (outgoing_id, position))"
    )
    op.execute(f"CREATE UNIQUE INDEX dispatch_recipients_agency_idx ON "
               f"{S}.dispatch_recipients_view (outgoing_id, agency_id)"
               " WHERE agency_id IS NOT NULL")

    for table in VIEWS:
        op.execute(f"REVOKE ALL ON {S}.{table} FROM PUBLIC")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.{table} TO {app}")


def downgrade() -> None:
    for table in (*VIEWS, "exchange_tracking"):
        op.execute(f"DROP TABLE {S}.{table}")
