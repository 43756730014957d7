"""Follows pending signature requests while the app runs: asks a signing service that waits
for the signer's confirmation where each request stands, and records the requests whose
time ran out. So a confirmation on the signer's phone is recorded even if nobody has the
page open, and an abandoned request ends as expired instead of pending forever."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import psycopg

from docmgmt.domain.common import Role
from docmgmt.domain.errors import DomainError
from docmgmt.kernel.principal import Principal
from docmgmt.outgoing.context import OutgoingContext
from docmgmt.outgoing.signing import request_state

log = logging.getLogger("docmgmt.signing")
BATCH = 100
PENDING_SQL = (
    "SELECT id, agency_id, signature_request_id, signature_signer_id"
    " FROM docmgmt.documents_view WHERE signature_request_id IS NOT NULL"
    " AND (signature_method = 'provider' OR signature_expires_at <= now())"
    " ORDER BY signature_expires_at LIMIT %s")


@dataclass(frozen=True)
class Pending:
    """A pending request as the read model has it."""

    document_id: UUID
    agency_id: UUID
    request_id: str
    signer_id: UUID


def pending_requests(conninfo: str) -> Callable[[], list[Pending]]:
    """What to follow: requests a service answers later, and any request past its expiry."""
    def query() -> list[Pending]:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            rows = conn.execute(
                PENDING_SQL, (BATCH,)).fetchall()
        return [Pending(*row) for row in rows]
    return query


def follow_once(ctx: OutgoingContext, pending: list[Pending]) -> int:
    """Ask about each pending request as its signer would; how many were looked at. One
    that fails (the service down, a refusal) is logged and the others go on."""
    for item in pending:
        signer = Principal(item.signer_id, "", item.agency_id, None,
                           frozenset({Role.LEADER}), user_agent="docmgmt-follower")
        try:
            request_state(ctx, signer, item.document_id, item.request_id)
        except (DomainError, OSError) as exc:
            log.warning("signature request %s of document %s: %s: %s", item.request_id,
                        item.document_id, getattr(exc, "code", type(exc).__name__), exc)
    return len(pending)


class SignatureFollower:
    """A background thread that runs ``follow_once`` every ``every`` seconds."""

    def __init__(self, ctx: OutgoingContext, pending: Callable[[], list[Pending]], *,
                 every: float = 5.0) -> None:
        self._ctx = ctx
        self._pending = pending
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="signature-follower",
                                        daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after the round in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                follow_once(self._ctx, self._pending())
            except (psycopg.Error, OSError) as exc:
                log.warning("following signature requests failed; retrying: %s", exc)
