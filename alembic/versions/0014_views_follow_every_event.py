"""Repair the view rows that older projection code left behind their aggregates.

Before this revision the read model ignored OutgoingDocument.Linked, Dispatched,
DeliveredTo, ReceiptAcknowledged, DeliveryReturned, Recalled and RecallConfirmed, and
Agency.CalendarSet; the exchange views ignored Agency.UnitAdded. Their projections are
past those events, so the fixed handlers never see them again: a dispatched document kept
showing "sealed" and the version it had when sealed. This sets each affected row to what
the fixed handlers give for the events up to that projection's own tracking position (the
last event's version and time, "recalled" or "dispatched" where such an event exists), so
the tables equal a rebuild from the events. No table or column changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

S = "docmgmt"
EVENTS = f"{S}.docmgmt_events"
OUTGOING = "docmgmt.domain.outgoing:OutgoingDocument."
AGENCY = "docmgmt.domain.agency:Agency."
# The events the old handlers skipped; a row needs repair only if one exists.
SKIPPED_OUTGOING = ("Linked", "Dispatched", "DeliveredTo", "ReceiptAcknowledged",
                    "DeliveryReturned", "Recalled", "RecallConfirmed")


def _position(tracking: str) -> str:
    """SQL: the projection's tracking position (0 when it has processed nothing)."""
    return (f"(SELECT coalesce(max(notification_id), 0) FROM {S}.{tracking}"
            " WHERE application_name = 'docmgmt')")


def _last_event(position: str) -> str:
    """SQL (LATERAL): the version and time of ``a.originator_id``'s last event up to
    ``position``, the time read from the event's stored JSON. An escaped NUL anywhere in
    it stops PostgreSQL's JSON functions, so it is replaced first (the timestamp has none).
    """
    return (
        "CROSS JOIN LATERAL (SELECT e.originator_version AS version,"
        " (replace(convert_from(e.state, 'UTF8'), '\\u0000', '\\ufffd')::json"
        " #>> '{timestamp,_data_}')::timestamptz AS at"
        f" FROM {EVENTS} e WHERE e.originator_id = a.originator_id"
        f" AND e.notification_id <= {position}"
        " ORDER BY e.originator_version DESC LIMIT 1) AS l"
    )


def upgrade() -> None:
    read_model = _position("readmodel_tracking")
    topics = ", ".join(f"'{OUTGOING}{name}'" for name in SKIPPED_OUTGOING)
    op.execute(
        f"UPDATE {S}.documents_view d SET"
        " status = CASE WHEN a.recalled THEN 'recalled' WHEN a.dispatched THEN 'dispatched'"
        " ELSE d.status END, version = l.version, updated_at = l.at"
        f" FROM (SELECT originator_id, bool_or(topic = '{OUTGOING}Recalled') AS recalled,"
        f" bool_or(topic = '{OUTGOING}Dispatched') AS dispatched FROM {EVENTS}"
        f" WHERE topic IN ({topics}) AND notification_id <= {read_model}"
        f" GROUP BY originator_id) AS a {_last_event(read_model)}"
        " WHERE d.id = a.originator_id"
    )
    op.execute(
        f"UPDATE {S}.agencies_view v SET version = a.version"
        f" FROM (SELECT DISTINCT originator_id FROM {EVENTS}"
        f" WHERE topic = '{AGENCY}CalendarSet' AND notification_id <= {read_model}) AS c"
        f" CROSS JOIN LATERAL (SELECT max(originator_version) AS version FROM {EVENTS}"
        f" WHERE originator_id = c.originator_id AND notification_id <= {read_model}) AS a"
        " WHERE v.id = c.originator_id"
    )
    exchange = _position("exchange_tracking")
    op.execute(
        f"UPDATE {S}.agency_calendar_view v SET version = l.version,"
        " updated_at = l.at"
        f" FROM (SELECT DISTINCT originator_id FROM {EVENTS}"
        f" WHERE topic = '{AGENCY}UnitAdded' AND notification_id <= {exchange}) AS a"
        f" {_last_event(exchange)} WHERE v.id = a.originator_id"
    )


def downgrade() -> None:
    # The repaired rows are what the events say; older code would leave them as they are.
    pass
