"""The ledger worker: an eventsourcing projection that hashes every stored event, once.

It reads the application's notifications in order, like the read model, but hashes the
events exactly as stored: its source application hands the runner the stored
notifications themselves instead of decoding them, so no topic ever has to resolve and
the bytes hashed are the bytes in the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification, StoredEvent, Tracking
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg import Connection
from psycopg.rows import DictRow

from docmgmt.kernel.projections import ReadModelRecorder, Statement, Work, start_projection
from docmgmt.kernel.store import APP_NAME
from docmgmt.ledger.leaf import event_leaf_hash

# The leaf's primary key refuses a second leaf for a position, so an event can never be
# hashed twice; leaves commit in batches together with the tracking position of the last.
INSERT_LEAF = (
    "INSERT INTO docmgmt.ledger_leaves (position, originator_id, originator_version, leaf_hash)"
    " VALUES (%s, %s, %s, %s)"
)
# Each aggregate's state entry moves to its last event of the batch, in the batch's
# transaction, so a checkpoint's snapshot sees leaves and state entries that agree (see
# state_leaf.py); one statement a batch, one row an aggregate.
UPSERT_STATES = (
    "INSERT INTO docmgmt.ledger_state (originator_id, last_version, last_position)"
    " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[])"
    " ON CONFLICT (originator_id) DO UPDATE"
    " SET last_version = EXCLUDED.last_version, last_position = EXCLUDED.last_position"
)


class UnhashableEventError(RuntimeError):
    """A stored event lacks a topic or state, so it has no canonical leaf."""


class _StoredEventMapper(Mapper[UUID]):
    """Hands stored events through untouched (the ledger hashes bytes, not objects)."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The stored event itself."""
        return cast(DomainEventProtocol[UUID], stored_event)


class StoredEventSource(Application[UUID]):
    """The docmgmt event log, read as raw stored events (never written through)."""

    name = APP_NAME

    def construct_mapper(self) -> Mapper[UUID]:
        """A pass-through mapper."""
        return _StoredEventMapper(transcoder=self.factory.transcoder())


class LedgerRecorder(ReadModelRecorder):
    """Appends leaves in batches, each committed with the tracking position of its last
    event in one transaction (exactly once; see ReadModelRecorder). A crash can only lose
    the last batch of both, which the worker then redoes.

    No request waits for the ledger, so a batch gathers events for up to 0.1 s instead of
    committing each lone event at once (one transaction per API write less)."""

    commit_delay_seconds = 0.1

    def append_leaf(
        self, originator_id: UUID, originator_version: int, leaf: bytes, tracking: Tracking
    ) -> None:
        """Record the leaf of the event at ``tracking.notification_id``."""
        self.apply([(INSERT_LEAF, (tracking.notification_id, originator_id,
                                   originator_version, leaf))], tracking)

    def _commit_on(self, conn: Connection[DictRow], statements: Sequence[Statement | Work],
                   tracking: Tracking) -> None:
        """The batch's leaves, then its state entries (the recorder's one commit path)."""
        last: dict[UUID, tuple[int, int]] = {}
        for step in statements:
            if not callable(step) and step[0] == INSERT_LEAF:
                position, originator_id, version, _ = step[1]
                last[originator_id] = (version, position)  # in log order: the last wins
        states: list[Statement | Work] = [(UPSERT_STATES, (
            list(last), [v for v, _ in last.values()], [p for _, p in last.values()]))]
        super()._commit_on(conn, [*statements, *(states if last else [])], tracking)


class Ledger(Projection[LedgerRecorder]):
    """Appends the RFC 9162 leaf hash of every event, in notification order."""

    name = "ledger"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Hash the stored event and append its leaf."""
        stored: Notification = domain_event
        if stored.topic is None or stored.state is None:
            raise UnhashableEventError(
                f"event at position {tracking.notification_id} has no topic or state")
        originator_id = UUID(str(stored.originator_id))
        leaf = event_leaf_hash(tracking.notification_id, originator_id,
                               stored.originator_version, stored.topic, bytes(stored.state))
        self.view.append_leaf(originator_id, stored.originator_version, leaf, tracking)


def start_ledger(es_env: dict[str, str]) -> ProjectionRunner[StoredEventSource, LedgerRecorder]:
    """Start the ledger worker (the caller enters and exits the runner)."""
    return start_projection(Ledger, LedgerRecorder, es_env, StoredEventSource)
