"""Every event of an aggregate whose version the API hands out has a handler in each view.

A view row that carries an aggregate's version (documents_view, incoming_view,
agencies_view, users_view, webhook_subscriptions, ...) is what GET answers with and what
a client sends back as If-Match. An event that falls to a projection's default handler
advances tracking and changes no row, so the row's version goes stale and every later
write with it is refused (issue 12: documents stuck at "sealed"). This test lists the
events of each aggregate and fails on one that a projection does not handle, unless it is
named below with the reason it needs no handler.
"""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from docmgmt.domain.agency import Agency
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.domain.oversight_mandate import OversightMandate
from docmgmt.domain.user import User
from docmgmt.domain.webhook import WebhookSubscription
from docmgmt.incoming.views import ExchangeViews
from docmgmt.outgoing.views import ReadModel
from docmgmt.oversight.views import OversightViews
from docmgmt.webhooks.outbox import WebhookOutbox

NO_OUTBOX_COLUMN = ("outbox_view keeps no revision, comment, appendix or signature request,"
                    " and no version")
NO_STEP_CHANGE = ("the document stays at its step with its holder and deadline, and no flow"
                  " counts it")
NO_PERSON_COLUMN = "oversight_people keeps names, titles and units only"

# (projection, aggregate) -> {event class: why that projection needs no handler for it}
COVERED: dict[tuple[type[Any], type[Aggregate]], dict[type[Any], str]] = {
    (ReadModel, OutgoingDocument): {},  # documents_view: status, version, ETag
    (ReadModel, Agency): {},  # agencies_view: version
    (ReadModel, User): {},  # users_view: roles, active, version
    (ExchangeViews, IncomingDocument): {},  # incoming_view: status, version, ETag
    (ExchangeViews, Agency): {},  # agency_calendar_view: version
    (ExchangeViews, OutgoingDocument): {  # outbox_view: status
        OutgoingDocument.RevisionUploaded: NO_OUTBOX_COLUMN,
        OutgoingDocument.Commented: NO_OUTBOX_COLUMN,
        OutgoingDocument.AppendixAttached: NO_OUTBOX_COLUMN,
        # The document's status moves only with Signed, which the outbox handles.
        OutgoingDocument.SignatureRequested: NO_OUTBOX_COLUMN,
        OutgoingDocument.SignatureProvided: NO_OUTBOX_COLUMN,
        OutgoingDocument.SignatureRefused: NO_OUTBOX_COLUMN,
        OutgoingDocument.SignatureExpired: NO_OUTBOX_COLUMN,
        OutgoingDocument.SignatureCancelled: NO_OUTBOX_COLUMN,
    },
    (WebhookOutbox, WebhookSubscription): {},  # webhook_subscriptions: version
    # The oversight tables: a document's step, holder and deadline, the flows, the tree.
    (OversightViews, IncomingDocument): {
        IncomingDocument.ProgressRecorded: NO_STEP_CHANGE,
    },
    (OversightViews, OutgoingDocument): {
        OutgoingDocument.RevisionUploaded: NO_STEP_CHANGE,
        OutgoingDocument.Commented: NO_STEP_CHANGE,
        OutgoingDocument.AppendixAttached: NO_STEP_CHANGE,
        OutgoingDocument.Linked: NO_STEP_CHANGE,
        # The signer stays the holder until Signed, whatever becomes of a request.
        OutgoingDocument.SignatureProvided: NO_STEP_CHANGE,
        OutgoingDocument.SignatureRefused: NO_STEP_CHANGE,
        OutgoingDocument.SignatureExpired: NO_STEP_CHANGE,
        OutgoingDocument.SignatureCancelled: NO_STEP_CHANGE,
        # The recipient's copy (IncomingDocument.Arrived) sets the acknowledgement's due.
        OutgoingDocument.DeliveredTo: NO_STEP_CHANGE,
    },
    (OversightViews, OversightMandate): {},  # oversight_mandates: terms, version
    (OversightViews, Agency): {
        Agency.PlaceNameSet: "oversight_agencies keeps no place name",
    },
    (OversightViews, User): {
        User.RolesChanged: NO_PERSON_COLUMN,
        User.PasswordChanged: NO_PERSON_COLUMN,
        User.Deactivated: NO_PERSON_COLUMN,
        User.Reactivated: NO_PERSON_COLUMN,
        User.CertificateRegistered: NO_PERSON_COLUMN,
        User.CertificateRemoved: NO_PERSON_COLUMN,
    },
}


def events_of(aggregate: type[Aggregate]) -> list[type[Any]]:
    """The event classes declared on ``aggregate`` (not the bases eventsourcing adds)."""
    return [v for v in vars(aggregate).values()
            if isinstance(v, type) and issubclass(v, Aggregate.Event)
            and v not in (aggregate.Event, aggregate.Created)]


def handles(projection: type[Any], event_class: type[Any]) -> bool:
    """Whether the projection has a handler of its own for ``event_class`` (and, if it
    subscribes to chosen topics only, receives it)."""
    getattr(projection, "process_event")  # noqa: B009 (registers deferred handlers)
    dispatcher = vars(projection)["process_event"].dispatcher
    if dispatcher.dispatch(event_class) is dispatcher.registry[object]:
        return False
    topics = getattr(projection, "topics", ())
    return not topics or get_topic(event_class) in topics


@pytest.mark.parametrize(("projection", "aggregate"), list(COVERED),
                         ids=[f"{p.__name__}-{a.__name__}" for p, a in COVERED])
def test_every_event_of_the_aggregate_has_a_handler(
    projection: type[Any], aggregate: type[Aggregate]
) -> None:
    exempt = COVERED[projection, aggregate]
    events = events_of(aggregate)
    assert len(events) >= 2  # the listing found the aggregate's events
    missing = [e.__qualname__ for e in events if e not in exempt and not handles(projection, e)]
    assert missing == [], (
        f"{projection.__name__} has no handler for {missing}: the view's version would go"
        " stale; add a handler, or name the event in COVERED with the reason it needs none")
    # An exemption that is no longer needed (or names another aggregate's event) is stale.
    assert [e for e in exempt if e not in events or handles(projection, e)] == []
