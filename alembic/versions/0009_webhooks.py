"""Webhook notifications: subscriptions view, secrets, deadlines, the delivery outbox.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from alembic import op
from docmgmt.kernel.migrations import migration_app_role

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

S = "docmgmt"


def upgrade() -> None:
    app = migration_app_role()
    # Signing secrets are mutable and deletable, like password hashes: never in the events.
    op.execute(
        f"CREATE TABLE {S}.webhook_secrets ("
        " subscription_id uuid PRIMARY KEY,"
        " secret bytea NOT NULL CHECK (octet_length(secret) = 32),"
        " created_at timestamptz NOT NULL DEFAULT now())"
    )
    # Everything below is derived from events by the "webhooks" projection.
    op.execute(
        f"CREATE TABLE {S}.webhook_subscriptions ("
        " id uuid PRIMARY KEY, agency_id uuid NOT NULL, url text NOT NULL,"
        " kinds text[] NOT NULL, active boolean NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
        " version bigint NOT NULL)"
    )
    op.execute(f"CREATE INDEX webhook_subscriptions_agency ON {S}.webhook_subscriptions"
               " (agency_id) WHERE active")
    # What the outbox must remember of each incoming copy to address later events.
    op.execute(
        f"CREATE TABLE {S}.webhook_documents ("
        " id uuid PRIMARY KEY, outgoing_id uuid NOT NULL, agency_id uuid NOT NULL,"
        " sender_agency_id uuid NOT NULL, number_label text NOT NULL, summary text NOT NULL)"
    )
    # Deadlines of assigned documents still being handled; "sent_for" holds the deadline
    # value a notice was sent for, so moving the deadline re-arms both notices.
    op.execute(
        f"CREATE TABLE {S}.webhook_deadlines ("
        " document_id uuid PRIMARY KEY, agency_id uuid NOT NULL,"
        " deadline timestamptz NOT NULL, active boolean NOT NULL,"
        " due_soon_sent_for timestamptz, overdue_sent_for timestamptz)"
    )
    op.execute(f"CREATE INDEX webhook_deadlines_due ON {S}.webhook_deadlines (deadline)"
               " WHERE active")
    op.execute(
        f"CREATE TABLE {S}.webhook_deliveries ("
        " id uuid PRIMARY KEY, subscription_id uuid NOT NULL, agency_id uuid NOT NULL,"
        " kind text NOT NULL, event_id uuid NOT NULL, document_id uuid,"
        " payload text NOT NULL,"
        " status text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),"
        " attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz,"
        " last_attempt_at timestamptz, last_status integer, last_error text,"
        " delivered_at timestamptz, created_at timestamptz NOT NULL DEFAULT now(),"
        " UNIQUE (subscription_id, event_id))"
    )
    op.execute(f"CREATE INDEX webhook_deliveries_due ON {S}.webhook_deliveries"
               " (next_attempt_at) WHERE status = 'pending'")
    op.execute(f"CREATE INDEX webhook_deliveries_recent ON {S}.webhook_deliveries"
               " (subscription_id, created_at DESC)")
    # The projection's position (eventsourcing single-row tracking layout).
    op.execute(
        f"CREATE TABLE {S}.webhooks_tracking ("
        " application_name text PRIMARY KEY, notification_id bigint)"
    )
    op.execute(f"INSERT INTO {S}.webhooks_tracking VALUES ('__migration__', 1)")
    for table in ("webhook_secrets", "webhook_subscriptions", "webhook_documents",
                  "webhook_deadlines", "webhook_deliveries"):
        op.execute(f"REVOKE ALL ON {S}.{table} FROM PUBLIC")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.{table} TO {app}")
    op.execute(f"REVOKE ALL ON {S}.webhooks_tracking FROM PUBLIC")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.webhooks_tracking TO {app}")


def downgrade() -> None:
    for table in ("webhooks_tracking", "webhook_deliveries", "webhook_deadlines",
                  "webhook_documents", "webhook_subscriptions", "webhook_secrets"):
        op.execute(f"DROP TABLE {S}.{table}")
