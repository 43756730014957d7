"""Per-agency webhook notifications: the outbox projection, deadline scanner and sender.

Wiring (composition root): run the outbox projection where the projections run, and the
scanner and sender in any number of processes (rows are claimed with SKIP LOCKED)::

    outbox = start_webhook_outbox(es_env)          # a ProjectionRunner: enter/exit it
    workers = start_webhooks(conninfo)             # scanner + sender threads, started
    ...
    workers.stop()
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from docmgmt.webhooks.outbox import OutboxRecorder, WebhookOutbox, start_webhook_outbox
from docmgmt.webhooks.scanner import DEFAULT_DUE_SOON, DeadlineScanner, utc_now
from docmgmt.webhooks.sender import RetryPolicy, Transport, WebhookSender, signature
from docmgmt.webhooks.service import (
    NewSubscription,
    PostgresSecretStore,
    WebhookQueries,
    WebhookService,
)
from docmgmt.webhooks.targets import Target, TargetPolicy, WebhookTargetRefusedError

__all__ = [
    "DeadlineScanner",
    "NewSubscription",
    "OutboxRecorder",
    "PostgresSecretStore",
    "RetryPolicy",
    "Target",
    "TargetPolicy",
    "WebhookOutbox",
    "WebhookQueries",
    "WebhookSender",
    "WebhookService",
    "WebhookTargetRefusedError",
    "WebhookWorkers",
    "signature",
    "start_webhook_outbox",
    "start_webhooks",
]


class WebhookWorkers:
    """The deadline scanner and the sender, started and stopped together."""

    def __init__(self, scanner: DeadlineScanner, sender: WebhookSender) -> None:
        self.scanner = scanner
        self.sender = sender

    def start(self) -> None:
        """Start both threads."""
        self.scanner.start()
        self.sender.start()

    def stop(self) -> None:
        """Stop both threads."""
        self.scanner.stop()
        self.sender.stop()


def start_webhooks(
    conninfo: str, *, due_soon: timedelta = DEFAULT_DUE_SOON,
    scan_every_seconds: float = 60.0, policy: RetryPolicy | None = None,
    timeout_seconds: float = 5.0, poll_seconds: float = 1.0,
    clock: Callable[[], datetime] = utc_now, transport: Transport | None = None,
    targets: TargetPolicy | None = None,
) -> WebhookWorkers:
    """Build and start the scanner and the sender on this database (psycopg conninfo)."""
    workers = WebhookWorkers(
        DeadlineScanner(conninfo, due_soon=due_soon, clock=clock,
                        every_seconds=scan_every_seconds),
        WebhookSender(conninfo, policy=policy, timeout_seconds=timeout_seconds,
                      poll_seconds=poll_seconds, transport=transport,
                      clock=lambda: clock().timestamp(), targets=targets),
    )
    workers.start()
    return workers
