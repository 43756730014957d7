"""Every delivery resolves and checks its target again, and connects to what it checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from docmgmt.webhooks import Target, TargetPolicy
from docmgmt.webhooks.sender import PinnedTransport
from tests.webhooks.conftest import World
from tests.webhooks.support import admin_of, arrive, deliveries, receiver, settled, wait_until

PUBLIC = "93.184.216.34"


class Dns:
    """A resolver the test controls: the answers can change between two lookups."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("no such name")
        return self.answers[host]


class Recording(PinnedTransport):
    """The real transport, noting each target it was asked to connect to."""

    def __init__(self) -> None:
        self.targets: list[Target] = []

    def post(self, target: Target, body: bytes, headers: Mapping[str, str],
             timeout: float) -> int:
        self.targets.append(target)
        return super().post(target, body, headers, timeout)


def send(world: World, targets: TargetPolicy, transport: Recording) -> None:
    sender = world.sender(targets=targets)
    sender._transport = transport
    sender.start()
    try:
        wait_until(lambda: settled(world.db), what="every delivery to settle")
    finally:
        sender.stop()


def test_a_name_that_later_resolves_inside_is_refused_at_delivery(world: World) -> None:
    dns = Dns({"hooks.agency.example": [PUBLIC]})
    targets = TargetPolicy.from_lists(["127.0.0.1"], [], resolver=dns)
    service = type(world.service)(world.app, targets=targets)
    with receiver() as hook:
        port = hook.url.split(":")[2].split("/")[0]
        # Subscribed while the name resolves to a public address: accepted.
        service.subscribe(admin_of(world.recipient), world.recipient,
                          f"http://hooks.agency.example:{port}/hook", ["received"])
        # Then the name is pointed at an internal address (DNS rebinding).
        dns.answers["hooks.agency.example"] = ["10.0.0.5"]
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        transport = Recording()
        send(world, targets, transport)

        assert transport.targets == [], "no connection may be attempted"
        assert hook.requests == []
        [row] = deliveries(world.db)
        assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 3, None)
        assert row["last_error"] == "address_refused"
        assert dns.asked.count("hooks.agency.example") == 1 + 3, "resolved at every attempt"


def test_the_sender_connects_to_the_address_it_checked(world: World) -> None:
    # The name is unknown to the system's resolver: only the checked address can be used.
    dns = Dns({"receiver.agency.example": ["127.0.0.1"]})
    targets = TargetPolicy.from_lists([], ["127.0.0.0/8"], resolver=dns)
    with receiver() as hook:
        port = hook.url.split(":")[2].split("/")[0]
        new = type(world.service)(world.app, targets=targets).subscribe(
            admin_of(world.recipient), world.recipient,
            f"http://receiver.agency.example:{port}/hook", ["received"])
        hook.secret = bytes.fromhex(new.secret)
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        transport = Recording()
        send(world, targets, transport)

        [request] = hook.requests
        assert request.signature_ok
        assert request.headers["Host"] == f"receiver.agency.example:{port}"
        assert [t.address for t in transport.targets] == ["127.0.0.1"]
        [row] = deliveries(world.db)
        assert (row["status"], row["last_status"], row["last_error"]) == \
            ("delivered", 200, None)


def test_a_redirect_is_not_followed(world: World) -> None:
    with receiver(default_status=302) as hook:
        world.service.subscribe(admin_of(world.recipient), world.recipient, hook.url,
                                ["received"])
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        transport = Recording()
        send(world, TargetPolicy.from_lists(["127.0.0.1"], []), transport)
        [row] = deliveries(world.db)
        assert (row["status"], row["last_status"], row["last_error"]) == \
            ("dead", 302, "HTTP 302")
        assert len(hook.requests) == 3
        assert len(transport.targets) == 3


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x",
                                 "http://[::1]:8000/", "http://2130706433/",
                                 "http://0x7f000001/"])
def test_subscribing_refuses_loopback_without_the_allow_list(world: World, url: str) -> None:
    from docmgmt.webhooks import WebhookTargetRefusedError

    service = type(world.service)(world.app)
    with pytest.raises(WebhookTargetRefusedError) as caught:
        service.subscribe(admin_of(world.recipient), world.recipient, url, ["received"])
    assert caught.value.code == "webhook_target_loopback"


def test_the_database_keeps_only_error_categories(world: World) -> None:
    import psycopg

    world.service.subscribe(admin_of(world.recipient), world.recipient,
                            "http://127.0.0.1:9/x", ["received"])
    arrive(world.app, world.sender_agency, world.recipient)
    world.outbox_until(world.app.recorder.max_notification_id())
    with psycopg.connect(world.db.owner.conninfo()) as conn:
        for fine in ("timeout", "HTTP 503", None):
            conn.execute("UPDATE docmgmt.webhook_deliveries SET last_error = %s", (fine,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE docmgmt.webhook_deliveries SET last_error ="
                         " 'ConnectionError: [Errno 111] Connection refused'")
