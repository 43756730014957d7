"""Webhook subscriptions: an agency asks to be told, over HTTP, when its documents move.

Every administrative action is an event. The signing secret is never part of an event: it
is generated and kept outside the append-only log (see ``docmgmt.webhooks.service``).
URLs are checked here: http or https with a host, and no user name or password in them,
since whatever is in the URL is stored in the event log forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import Actor
from docmgmt.domain.errors import InvalidInputError, InvalidStateError, NotFoundError

MAX_URL_LENGTH = 2048
MAX_REASON = 1000


class WebhookKind(StrEnum):
    """What a subscription can be told about."""

    RECEIVED = "received"
    RETURNED = "returned"
    ASSIGNED = "assigned"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    RECALLED = "recalled"


class WebhookNotFoundError(NotFoundError):
    """No such webhook subscription for the agency."""

    code = "webhook_not_found"


class InvalidWebhookUrlError(InvalidInputError):
    """The URL cannot receive webhook deliveries."""

    code = "invalid_webhook_url"


class WebhookCancelledError(InvalidStateError):
    """The subscription was cancelled already."""

    code = "webhook_cancelled"


def check_url(url: str) -> str:
    """The URL, trimmed, if it is an absolute http(s) URL with a host and no credentials."""
    value = url.strip()
    if not value or len(value) > MAX_URL_LENGTH:
        raise InvalidWebhookUrlError(
            f"the webhook URL must be 1-{MAX_URL_LENGTH} characters", field="url")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidWebhookUrlError("the webhook URL must not contain spaces or control "
                                     "characters", field="url")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidWebhookUrlError("the webhook URL is malformed", field="url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidWebhookUrlError(
            f"the webhook URL must start with http:// or https:// (got "
            f"{parts.scheme + ':' if parts.scheme else 'no scheme'})", field="url")
    if not parts.hostname:
        raise InvalidWebhookUrlError("the webhook URL must name a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrlError(
            "the webhook URL must not contain a user name or password: deliveries are "
            "authenticated by their X-Docmgmt-Signature header", field="url")
    return value


def check_kinds(kinds: Iterable[str]) -> list[str]:
    """Known kinds, without repeats, in a stable order; at least one."""
    chosen: set[WebhookKind] = set()
    for kind in kinds:
        try:
            chosen.add(WebhookKind(str(kind).strip().lower()))
        except ValueError:
            allowed = ", ".join(k.value for k in WebhookKind)
            raise InvalidInputError(f"unknown webhook kind {kind!r}; choose from {allowed}",
                                    field="kinds") from None
    if not chosen:
        raise InvalidInputError("choose at least one webhook kind", field="kinds")
    return [k.value for k in WebhookKind if k in chosen]


class WebhookSubscription(Aggregate):
    """One agency's HTTP endpoint and the kinds of notification it receives."""

    class Subscribed(Aggregate.Created):
        """An admin subscribed an endpoint of the agency to some kinds of notification."""

        agency_id: UUID
        url: str
        kinds: list[str]
        actor: dict[str, str]

    class Changed(Aggregate.Event):
        """An admin changed the endpoint or the kinds."""

        url: str
        kinds: list[str]
        actor: dict[str, str]

    class Cancelled(Aggregate.Event):
        """An admin cancelled the subscription; nothing more is delivered to it."""

        reason: str
        actor: dict[str, str]

    @classmethod
    def subscribe(cls, agency_id: UUID, url: str, kinds: Iterable[str],
                  actor: Actor) -> WebhookSubscription:
        """Subscribe an http(s) endpoint of the agency to the given kinds."""
        return cls(agency_id=agency_id, url=check_url(url), kinds=check_kinds(kinds),
                   actor=actor.as_payload())

    @event(Subscribed)
    def __init__(self, agency_id: UUID, url: str, kinds: list[str],
                 actor: dict[str, str]) -> None:
        self.agency_id = agency_id
        self.url = url
        self.kinds = list(kinds)
        self.active = True

    def change(self, url: str | None, kinds: Iterable[str] | None, actor: Actor) -> bool:
        """Change the URL and/or the kinds; False when nothing would change."""
        if not self.active:
            raise WebhookCancelledError("the webhook subscription was cancelled",
                                        id=str(self.id))
        new_url = self.url if url is None else check_url(url)
        new_kinds = self.kinds if kinds is None else check_kinds(kinds)
        if new_url == self.url and new_kinds == self.kinds:
            return False
        self._changed(new_url, new_kinds, actor.as_payload())
        return True

    @event(Changed)
    def _changed(self, url: str, kinds: list[str], actor: dict[str, str]) -> None:
        self.url = url
        self.kinds = list(kinds)

    def cancel(self, reason: str, actor: Actor) -> None:
        """Stop deliveries to this endpoint for good."""
        if not self.active:
            raise WebhookCancelledError("the webhook subscription was cancelled already",
                                        id=str(self.id))
        self._cancelled(reason.strip()[:MAX_REASON], actor.as_payload())

    @event(Cancelled)
    def _cancelled(self, reason: str, actor: dict[str, str]) -> None:
        self.active = False
