"""Fixtures: the write side on a fresh database, three agencies, the outbox and a sender."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from docmgmt.identity.agencies import register_agency
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.webhooks import (
    RetryPolicy,
    TargetPolicy,
    WebhookSender,
    WebhookService,
    start_webhook_outbox,
)
from tests.support.identity import admin_acting_as
from tests.webhooks.support import ACTOR

FAST = RetryPolicy(base_seconds=0.05, cap_seconds=0.2, max_attempts=3, jitter=0.1)
# The receivers of these tests listen on 127.0.0.1, which only an allow-list lets through.
RECEIVERS = TargetPolicy.from_lists(["127.0.0.1"], [])


@dataclass
class World:
    """The write side and the agencies of one test."""

    db: Database
    app: DocMgmt
    service: WebhookService
    sender_agency: uuid.UUID
    recipient: uuid.UUID
    other: uuid.UUID

    @property
    def env(self) -> dict[str, str]:
        """The eventsourcing environment of the app login."""
        return self.db.app.eventsourcing_env("docmgmt", 2)

    def outbox_until(self, position: int) -> None:
        """Run the outbox projection until it has processed ``position``, then stop it."""
        with start_webhook_outbox(self.env) as runner:
            runner.wait(position, timeout=30)

    def sender(self, policy: RetryPolicy = FAST, targets: TargetPolicy = RECEIVERS,
               ) -> WebhookSender:
        """A sender with a tiny backoff, polling fast."""
        return WebhookSender(self.db.app.conninfo(), policy=policy, timeout_seconds=2.0,
                             poll_seconds=0.02, targets=targets)


@pytest.fixture
def world(database: Database) -> Iterator[World]:
    """Agencies SOA (sends), SOB (receives) and SOC (uninvolved)."""
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 4))
    try:
        ids = [register_agency(app, admin_acting_as(ACTOR), code, f"Sở {code[-1]}", None).id
               for code in ("SOA", "SOB", "SOC")]
        yield World(database, app, WebhookService(app, targets=RECEIVERS), *ids)
    finally:
        app.close()
