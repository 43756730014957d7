"""The subscription aggregate: URL and kind checks, and what its events carry."""

from __future__ import annotations

import uuid

import pytest

from docmgmt.domain.errors import InvalidInputError
from docmgmt.domain.webhook import (
    InvalidWebhookUrlError,
    WebhookCancelledError,
    WebhookSubscription,
)
from tests.webhooks.support import ACTOR


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.gov.vn/hook", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("example.gov.vn/hook", "must start with http:// or https://"),
    ("https:///hook", "must name a host"),
    ("https://user:pw@example.gov.vn/hook", "must not contain a user name or password"),
    ("https://example.gov.vn:99999/hook", "malformed"),
    ("https://example.gov.vn/a hook", "spaces"),
    ("", "1-2048 characters"),
])
def test_only_http_urls_with_a_host_and_no_credentials(url: str, message: str) -> None:
    with pytest.raises(InvalidWebhookUrlError, match=message):
        WebhookSubscription.subscribe(uuid.uuid4(), url, ["received"], ACTOR)


def test_kinds_are_checked_and_normalised() -> None:
    sub = WebhookSubscription.subscribe(uuid.uuid4(), " https://h.example/x ",
                                        ["Overdue", "received", "received"], ACTOR)
    assert (sub.url, sub.kinds) == ("https://h.example/x", ["received", "overdue"])
    with pytest.raises(InvalidInputError, match="unknown webhook kind 'sent'"):
        WebhookSubscription.subscribe(uuid.uuid4(), "https://h.example", ["sent"], ACTOR)
    with pytest.raises(InvalidInputError, match="at least one"):
        WebhookSubscription.subscribe(uuid.uuid4(), "https://h.example", [], ACTOR)


def test_every_admin_action_is_an_event_and_none_carries_a_secret() -> None:
    agency = uuid.uuid4()
    sub = WebhookSubscription.subscribe(agency, "http://h.example/a", ["received"], ACTOR)
    assert sub.change(None, ["received"], ACTOR) is False
    assert sub.change("https://h.example/b", ["recalled", "assigned"], ACTOR) is True
    sub.cancel("no longer used", ACTOR)
    with pytest.raises(WebhookCancelledError):
        sub.cancel("again", ACTOR)
    with pytest.raises(WebhookCancelledError):
        sub.change("https://h.example/c", None, ACTOR)
    events = sub.collect_events()
    assert [type(e).__name__ for e in events] == ["Subscribed", "Changed", "Cancelled"]
    assert events[1].kinds == ["assigned", "recalled"]
    for e in events:
        assert not any("secret" in name for name in vars(e))
