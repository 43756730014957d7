"""Webhook administration: subscribe, change, cancel; the signing secrets; the queries.

The secret is generated here (32 random bytes), shown once, and kept in the mutable
``docmgmt.webhook_secrets`` table: never in an event, a log line or a listing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from docmgmt.domain.common import Role
from docmgmt.domain.webhook import WebhookNotFoundError, WebhookSubscription, check_url
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt
from docmgmt.webhooks.targets import TargetPolicy

SECRET_BYTES = 32


class SecretStore(Protocol):
    """Webhook signing secrets, outside the append-only event store."""

    def put(self, subscription_id: UUID, secret: bytes) -> None:
        """Store the subscription's secret."""

    def delete(self, subscription_id: UUID) -> None:
        """Forget the subscription's secret."""


class PostgresSecretStore:
    """Secrets in ``docmgmt.webhook_secrets``, on the write side's pool."""

    def __init__(self, app: DocMgmt) -> None:
        self._datastore = app.recorder.datastore  # type: ignore[attr-defined]

    def put(self, subscription_id: UUID, secret: bytes) -> None:
        """Store the subscription's secret."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute("INSERT INTO docmgmt.webhook_secrets (subscription_id, secret)"
                         " VALUES (%s, %s)", (subscription_id, secret))

    def delete(self, subscription_id: UUID) -> None:
        """Forget the subscription's secret."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute("DELETE FROM docmgmt.webhook_secrets WHERE subscription_id = %s",
                         (subscription_id,))


@dataclass(frozen=True)
class NewSubscription:
    """A created subscription and its secret (the only time the secret is shown)."""

    result: CommandResult
    subscription: WebhookSubscription
    secret: str


def authorise(who: Principal, agency_id: UUID) -> None:
    """Webhooks are administered by admins (the admin role is system-wide here)."""
    who.require(Role.ADMIN)


class WebhookService:
    """Commands on webhook subscriptions."""

    def __init__(self, app: DocMgmt, secret_store: SecretStore | None = None,
                 targets: TargetPolicy | None = None) -> None:
        self.app = app
        self.secrets = secret_store or PostgresSecretStore(app)
        self.targets = targets or TargetPolicy()

    def subscribe(self, who: Principal, agency_id: UUID, url: str,
                  kinds: Sequence[str]) -> NewSubscription:
        """Subscribe an endpoint of the agency; the secret is generated and returned once."""
        authorise(who, agency_id)
        self.app.get_agency(agency_id)  # AgencyNotFoundError if there is none
        subscription = WebhookSubscription.subscribe(agency_id, url, kinds, who.actor)
        self.targets.check(subscription.url)
        secret = secrets.token_bytes(SECRET_BYTES)
        # The secret is stored first, so the sender never meets a subscription without one.
        self.secrets.put(subscription.id, secret)
        try:
            result = self._save(subscription)
        except BaseException:
            self.secrets.delete(subscription.id)
            raise
        return NewSubscription(result, subscription, secret.hex())

    def get(self, agency_id: UUID, subscription_id: UUID) -> WebhookSubscription:
        """The agency's subscription, or WebhookNotFoundError."""
        subscription = self.app.load(WebhookSubscription, subscription_id, WebhookNotFoundError)
        if subscription.agency_id != agency_id:
            raise WebhookNotFoundError(f"webhook {subscription_id} not found for this agency",
                                       id=str(subscription_id))
        return subscription

    def change(self, who: Principal, agency_id: UUID, subscription_id: UUID,
               url: str | None, kinds: Sequence[str] | None,
               expected_version: int | None) -> CommandResult:
        """Change the endpoint's URL or kinds (the secret stays)."""
        authorise(who, agency_id)
        subscription = self.get(agency_id, subscription_id)
        self.app.check_version(subscription, expected_version)
        if url is not None:
            self.targets.check(check_url(url))
        if not subscription.change(url, kinds, who.actor):
            return CommandResult(subscription.id, subscription.version, None)
        return self._save(subscription)

    def cancel(self, who: Principal, agency_id: UUID, subscription_id: UUID,
               reason: str) -> CommandResult:
        """Cancel the subscription: pending deliveries stop and its secret is erased."""
        authorise(who, agency_id)
        subscription = self.get(agency_id, subscription_id)
        subscription.cancel(reason, who.actor)
        result = self._save(subscription)
        self.secrets.delete(subscription.id)
        return result

    def _save(self, subscription: WebhookSubscription) -> CommandResult:
        return self.app.commit(subscription)


class WebhookQueries:
    """Read side of webhooks (asyncpg): never returns a secret."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_subscriptions(self, agency_id: UUID,
                                 include_cancelled: bool = False) -> list[dict[str, Any]]:
        """The agency's subscriptions, newest first."""
        rows = await self._pool.fetch(
            "SELECT id, agency_id, url, kinds, active, created_at, updated_at, version"
            " FROM docmgmt.webhook_subscriptions"
            " WHERE agency_id = $1 AND (active OR $2) ORDER BY created_at DESC",
            agency_id, include_cancelled)
        return [dict(r) for r in rows]

    async def get_subscription(self, agency_id: UUID,
                               subscription_id: UUID) -> dict[str, Any] | None:
        """One subscription of the agency, if the projection has seen it."""
        row = await self._pool.fetchrow(
            "SELECT id, agency_id, url, kinds, active, created_at, updated_at, version"
            " FROM docmgmt.webhook_subscriptions"
            " WHERE agency_id = $1 AND id = $2", agency_id, subscription_id)
        return None if row is None else dict(row)

    async def list_deliveries(self, subscription_id: UUID, limit: int,
                              status: str | None = None) -> list[dict[str, Any]]:
        """The subscription's most recent deliveries, newest first."""
        rows = await self._pool.fetch(
            "SELECT id, subscription_id, kind, event_id, document_id, status, attempts,"
            " next_attempt_at, last_attempt_at, last_status, last_error, delivered_at, created_at"
            " FROM docmgmt.webhook_deliveries"
            " WHERE subscription_id = $1 AND ($2::text IS NULL OR status = $2)"
            " ORDER BY created_at DESC, id LIMIT $3", subscription_id, status, limit)
        return [dict(r) for r in rows]
