"""The webhook outbox: a projection that turns events into delivery rows, exactly once.

Each event and the tracking position are written in one transaction, so a crash or a
restart neither loses nor repeats a delivery row. The projection also keeps what later
events need: the subscriptions, the facts of each incoming copy, and the deadlines that
the scanner watches for "due soon" and "overdue".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow

from docmgmt.domain.calendar import to_vietnam_time
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.webhook import WebhookKind, WebhookSubscription
from docmgmt.kernel.projections import ReadModelRecorder, Work, start_projection
from docmgmt.kernel.store import DocMgmt

log = logging.getLogger("docmgmt.webhooks")



def vn_iso(moment: datetime) -> str:
    """ISO 8601 in Vietnam time (+07:00), as every payload time is written."""
    return to_vietnam_time(moment).isoformat()


def event_id_for(originator_id: UUID, originator_version: int) -> UUID:
    """A stable id for a stored event (the same on every replay)."""
    return uuid5(originator_id, f"event:{originator_version}")


def derived_event_id(document_id: UUID, kind: str, deadline: datetime) -> UUID:
    """A stable id for a notice derived from a deadline: once per document and deadline."""
    return uuid5(document_id, f"{kind}:{deadline.astimezone(UTC).isoformat()}")


def delivery_id_for(subscription_id: UUID, event_id: UUID) -> UUID:
    """One delivery per subscription and event."""
    return uuid5(subscription_id, f"delivery:{event_id}")


@dataclass(frozen=True)
class DocumentFacts:
    """What a payload says about an incoming copy."""

    id: UUID
    outgoing_id: UUID
    agency_id: UUID
    sender_agency_id: UUID
    number_label: str
    summary: str

    @classmethod
    def from_row(cls, row: DictRow) -> DocumentFacts:
        """From a ``webhook_documents`` row."""
        return cls(row["id"], row["outgoing_id"], row["agency_id"], row["sender_agency_id"],
                   row["number_label"], row["summary"])


def build_payload(*, event_id: UUID, kind: WebhookKind, agency_id: UUID,
                  document: DocumentFacts, deadline: datetime | None, occurred_at: datetime,
                  extra: dict[str, Any] | None = None) -> str:
    """The JSON body sent (and signed) exactly as stored."""
    body: dict[str, Any] = {
        "event_id": str(event_id),
        "kind": kind.value,
        "agency_id": str(agency_id),
        "document": {
            "incoming_id": str(document.id),
            "outgoing_id": str(document.outgoing_id),
            "sender_agency_id": str(document.sender_agency_id),
            "recipient_agency_id": str(document.agency_id),
            "number_label": document.number_label,
            "summary": document.summary,
        },
        "deadline": None if deadline is None else vn_iso(deadline),
        "occurred_at": vn_iso(occurred_at),
        **(extra or {}),
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def enqueue(curs: Cursor[DictRow], *, agency_id: UUID, kind: WebhookKind, event_id: UUID,
            document_id: UUID | None, payload: str) -> int:
    """Queue one delivery per active subscription of the agency to this kind."""
    curs.execute(
        "SELECT id FROM docmgmt.webhook_subscriptions"
        " WHERE agency_id = %s AND active AND %s = ANY(kinds)",
        (agency_id, kind.value), prepare=True)
    subscriptions = [row["id"] for row in curs.fetchall()]
    for subscription_id in subscriptions:
        curs.execute(
            "INSERT INTO docmgmt.webhook_deliveries (id, subscription_id, agency_id, kind,"
            " event_id, document_id, payload, status, next_attempt_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', now())"
            " ON CONFLICT DO NOTHING",
            (delivery_id_for(subscription_id, event_id), subscription_id, agency_id,
             kind.value, event_id, document_id, payload), prepare=True)
    return len(subscriptions)


def load_document(curs: Cursor[DictRow], document_id: UUID) -> DocumentFacts | None:
    """The facts recorded when the copy arrived."""
    curs.execute("SELECT * FROM docmgmt.webhook_documents WHERE id = %s", (document_id,),
                 prepare=True)
    row = curs.fetchone()
    return None if row is None else DocumentFacts.from_row(row)


class OutboxRecorder(ReadModelRecorder):
    """Runs the events' work in batches, each committed with the tracking position of its
    last event (exactly once; see ReadModelRecorder)."""


def _notify(e: Any, kind: WebhookKind, *, to_sender: bool = False,
            deadline: datetime | None = None, extra: dict[str, Any] | None = None) -> Work:
    """Work that queues a notice of ``kind`` about the copy ``e`` belongs to."""

    def work(curs: Cursor[DictRow]) -> None:
        document = load_document(curs, e.originator_id)
        if document is None:  # pragma: no cover - Arrived always comes first
            log.warning("no arrival recorded for incoming document %s", e.originator_id)
            return
        agency_id = document.sender_agency_id if to_sender else document.agency_id
        event_id = event_id_for(e.originator_id, e.originator_version)
        enqueue(curs, agency_id=agency_id, kind=kind, event_id=event_id,
                document_id=document.id,
                payload=build_payload(event_id=event_id, kind=kind, agency_id=agency_id,
                                      document=document, deadline=deadline,
                                      occurred_at=e.timestamp, extra=extra))
    return work


class WebhookOutbox(Projection[OutboxRecorder]):
    """Turns subscription and incoming-document events into webhook deliveries."""

    name = "webhooks"
    topics = tuple(get_topic(cls) for cls in (
        WebhookSubscription.Subscribed, WebhookSubscription.Changed,
        WebhookSubscription.Cancelled, IncomingDocument.Arrived,
        IncomingDocument.ReturnedToSender, IncomingDocument.Assigned,
        IncomingDocument.ExtensionDecided, IncomingDocument.Completed,
        IncomingDocument.Withdrawn,
    ))

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Other events only advance the tracking position."""
        self.view.apply([], tracking)

    @process_event.register
    def _(self, e: WebhookSubscription.Subscribed, tracking: Tracking) -> None:
        def work(curs: Cursor[DictRow]) -> None:
            curs.execute(
                "INSERT INTO docmgmt.webhook_subscriptions (id, agency_id, url, kinds, active,"
                " created_at, updated_at, version) VALUES (%s, %s, %s, %s, true, %s, %s, %s)",
                (e.originator_id, e.agency_id, e.url, list(e.kinds), e.timestamp,
                 e.timestamp, e.originator_version))
        self.view.apply([work], tracking)

    @process_event.register
    def _(self, e: WebhookSubscription.Changed, tracking: Tracking) -> None:
        def work(curs: Cursor[DictRow]) -> None:
            curs.execute(
                "UPDATE docmgmt.webhook_subscriptions SET url = %s, kinds = %s,"
                " updated_at = %s, version = %s WHERE id = %s",
                (e.url, list(e.kinds), e.timestamp, e.originator_version, e.originator_id))
        self.view.apply([work], tracking)

    @process_event.register
    def _(self, e: WebhookSubscription.Cancelled, tracking: Tracking) -> None:
        def work(curs: Cursor[DictRow]) -> None:
            curs.execute(
                "UPDATE docmgmt.webhook_subscriptions SET active = false, updated_at = %s,"
                " version = %s WHERE id = %s",
                (e.timestamp, e.originator_version, e.originator_id))
            curs.execute(
                "UPDATE docmgmt.webhook_deliveries SET status = 'cancelled',"
                " next_attempt_at = NULL, last_error = 'the subscription was cancelled'"
                " WHERE subscription_id = %s AND status = 'pending'", (e.originator_id,))
        self.view.apply([work], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Arrived, tracking: Tracking) -> None:
        def work(curs: Cursor[DictRow]) -> None:
            curs.execute(
                "INSERT INTO docmgmt.webhook_documents (id, outgoing_id, agency_id,"
                " sender_agency_id, number_label, summary) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                (e.originator_id, e.outgoing_id, e.recipient_agency_id, e.sender_agency_id,
                 e.number_label, e.summary))
            _notify(e, WebhookKind.RECEIVED, extra={
                "sender": {"code": e.sender_code, "name": e.sender_name},
                "urgency": e.urgency, "registration_due": e.registration_due,
            })(curs)
        self.view.apply([work], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ReturnedToSender, tracking: Tracking) -> None:
        self.view.apply([_notify(e, WebhookKind.RETURNED, to_sender=True,
                                 extra={"reason": e.reason})], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Assigned, tracking: Tracking) -> None:
        deadline = datetime.fromisoformat(e.deadline)

        def work(curs: Cursor[DictRow]) -> None:
            curs.execute(
                "INSERT INTO docmgmt.webhook_deadlines (document_id, agency_id, deadline,"
                " active) SELECT id, agency_id, %s, true FROM docmgmt.webhook_documents"
                " WHERE id = %s ON CONFLICT (document_id) DO UPDATE"
                " SET deadline = EXCLUDED.deadline, active = true",
                (deadline, e.originator_id))
            _notify(e, WebhookKind.ASSIGNED, deadline=deadline, extra={
                "instructions": e.instructions, "reassignment": e.reassignment,
                "lead_unit_id": None if e.lead_unit_id is None else str(e.lead_unit_id),
                "lead_user_id": None if e.lead_user_id is None else str(e.lead_user_id),
            })(curs)
        self.view.apply([work], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.ExtensionDecided, tracking: Tracking) -> None:
        # A new deadline value re-arms both notices (they are kept per deadline value).
        def work(curs: Cursor[DictRow]) -> None:
            curs.execute(
                "UPDATE docmgmt.webhook_deadlines SET deadline = %s WHERE document_id = %s",
                (datetime.fromisoformat(e.deadline), e.originator_id))
        self.view.apply([work], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Completed, tracking: Tracking) -> None:
        self.view.apply([_close_deadline(e.originator_id)], tracking)

    @process_event.register
    def _(self, e: IncomingDocument.Withdrawn, tracking: Tracking) -> None:
        notify = _notify(e, WebhookKind.RECALLED, extra={"reason": e.reason})

        def work(curs: Cursor[DictRow]) -> None:
            _close_deadline(e.originator_id)(curs)
            notify(curs)
        self.view.apply([work], tracking)


def _close_deadline(document_id: UUID) -> Work:
    def work(curs: Cursor[DictRow]) -> None:
        curs.execute("UPDATE docmgmt.webhook_deadlines SET active = false"
                     " WHERE document_id = %s", (document_id,))
    return work


def start_webhook_outbox(es_env: dict[str, str]) -> ProjectionRunner[DocMgmt, OutboxRecorder]:
    """Start the outbox projection (the caller enters and exits the runner)."""
    return start_projection(WebhookOutbox, OutboxRecorder, es_env)
