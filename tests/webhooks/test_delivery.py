"""Events become signed deliveries to the right agency; retries, dead letters, restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from docmgmt.webhooks import RetryPolicy
from tests.webhooks.conftest import World
from tests.webhooks.support import (
    ACTOR,
    admin_of,
    arrive,
    assign,
    deliveries,
    receiver,
    save,
    settled,
    wait_until,
)

ALL = ["received", "returned", "assigned", "due_soon", "overdue", "recalled"]


def deliver_all(world: World, policy: RetryPolicy | None = None) -> None:
    sender = world.sender(policy) if policy else world.sender()
    sender.start()
    try:
        wait_until(lambda: settled(world.db), what="every delivery to settle")
    finally:
        sender.stop()


def test_each_kind_reaches_the_right_agency_only(world: World) -> None:
    with receiver() as at_a, receiver() as at_b, receiver() as at_b_recalls, \
            receiver() as at_c:
        # Each agency's admin subscribes an endpoint; B has a second one for recalls only.
        for agency, r, kinds in [(world.sender_agency, at_a, ALL), (world.recipient, at_b, ALL),
                                 (world.recipient, at_b_recalls, ["recalled"]),
                                 (world.other, at_c, ALL)]:
            new = world.service.subscribe(admin_of(agency), agency, r.url, kinds)
            r.secret = bytes.fromhex(new.secret)
        # A document from A arrives at B, is registered and assigned, then A recalls it.
        now = datetime.now(UTC)
        first = arrive(world.app, world.sender_agency, world.recipient, summary="Văn bản 1")
        assign(world.app, first, now + timedelta(days=10), now)
        first.withdraw("Sai nội dung", {"user_id": str(ACTOR.user_id), "username": "a"})
        save(world.app, first)
        # A second document arrives at B and B's clerk returns it to A.
        second = arrive(world.app, world.sender_agency, world.recipient, summary="Văn bản 2")
        second.return_to_sender("Gửi nhầm cơ quan", ACTOR)
        position = save(world.app, second)

        world.outbox_until(position)
        deliver_all(world)

        def kinds(r: object) -> list[tuple[str, str]]:
            got = []
            for req in r.requests:  # type: ignore[attr-defined]
                body = json.loads(req.body)
                assert req.signature_ok, "the HMAC signature must verify with the secret"
                assert req.headers["X-Docmgmt-Event"] == body["kind"]
                got.append((body["kind"], body["document"]["summary"]))
            return sorted(got)

        assert kinds(at_b) == sorted([("received", "Văn bản 1"), ("assigned", "Văn bản 1"),
                                      ("recalled", "Văn bản 1"), ("received", "Văn bản 2")])
        assert kinds(at_a) == [("returned", "Văn bản 2")]
        assert kinds(at_b_recalls) == [("recalled", "Văn bản 1")]
        assert at_c.requests == []

        # The payload carries ids, label, deadline and time in Vietnam time.
        assigned = next(json.loads(r.body) for r in at_b.requests
                        if json.loads(r.body)["kind"] == "assigned")
        assert assigned["agency_id"] == str(world.recipient)
        assert assigned["document"]["incoming_id"] == str(first.id)
        assert assigned["document"]["outgoing_id"] == str(first.outgoing_id)
        assert assigned["document"]["number_label"] == "12/SOA-VP"
        assert assigned["deadline"].endswith("+07:00")
        assert assigned["occurred_at"].endswith("+07:00")
        returned = json.loads(at_a.requests[0].body)
        assert returned["agency_id"] == str(world.sender_agency)
        assert returned["reason"] == "Gửi nhầm cơ quan"
        rows = deliveries(world.db)
        assert {r["status"] for r in rows} == {"delivered"}
        assert all(r["attempts"] == 1 and r["delivered_at"] is not None for r in rows)
        ids = {r.headers["X-Docmgmt-Delivery"] for r in at_b.requests}
        assert ids <= {str(r["id"]) for r in rows}


def test_a_failing_receiver_gets_the_delivery_on_the_third_attempt(world: World) -> None:
    with receiver(statuses=[500, 503]) as hook:
        new = world.service.subscribe(admin_of(world.recipient), world.recipient, hook.url,
                                      ["received"])
        hook.secret = bytes.fromhex(new.secret)
        doc = arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        deliver_all(world)

        assert len(hook.requests) == 3
        assert len({r.headers["X-Docmgmt-Delivery"] for r in hook.requests}) == 1
        assert all(r.signature_ok for r in hook.requests)
        [row] = deliveries(world.db)
        assert row["document_id"] == doc.id
        assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 3, 200)
        assert row["last_error"] is None
        assert row["next_attempt_at"] is None


def test_a_receiver_that_always_fails_ends_dead(world: World) -> None:
    with receiver(default_status=500) as hook:
        new = world.service.subscribe(admin_of(world.recipient), world.recipient, hook.url,
                                      ["received"])
        hook.secret = bytes.fromhex(new.secret)
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        deliver_all(world)

        assert len(hook.requests) == 3
        [row] = deliveries(world.db)
        assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 3, 500)
        assert row["last_error"] == "HTTP 500"
        assert row["delivered_at"] is None
        assert row["next_attempt_at"] is None


def test_an_unreachable_receiver_is_retried_then_dead(world: World) -> None:
    with receiver() as hook:
        url = hook.url  # the server stops at the end of this block: nothing listens after
    world.service.subscribe(admin_of(world.recipient), world.recipient, url, ["received"])
    arrive(world.app, world.sender_agency, world.recipient)
    world.outbox_until(world.app.recorder.max_notification_id())
    deliver_all(world)
    [row] = deliveries(world.db)
    assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 3, None)
    # A short category, never the connection error's own text.
    assert row["last_error"] == "connection_refused"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_seconds=10, cap_seconds=60, max_attempts=8, jitter=0.1)
    for attempts, nominal in [(1, 10), (2, 20), (3, 40), (4, 60), (7, 60)]:
        delays = {policy.delay(attempts) for _ in range(20)}
        assert all(nominal * 0.9 <= d <= nominal * 1.1 for d in delays)
        assert len(delays) > 1, "jitter spreads retries apart"


def test_exactly_once_across_a_restart_of_the_outbox(world: World) -> None:
    with receiver() as hook:
        world.service.subscribe(admin_of(world.recipient), world.recipient, hook.url,
                                ["received"])
        # Three arrivals; the outbox runs, stops, three more arrive, it runs again (twice).
        for n in range(3):
            arrive(world.app, world.sender_agency, world.recipient, summary=f"Đợt 1 số {n}")
        world.outbox_until(world.app.recorder.max_notification_id())
        assert len(deliveries(world.db)) == 3
        for n in range(3):
            arrive(world.app, world.sender_agency, world.recipient, summary=f"Đợt 2 số {n}")
        head = world.app.recorder.max_notification_id()
        world.outbox_until(head)
        world.outbox_until(head)

        rows = deliveries(world.db)
        assert len(rows) == 6
        assert len({r["document_id"] for r in rows}) == 6
        with psycopg.connect(world.db.owner.conninfo()) as conn:
            tracked = conn.execute("SELECT notification_id FROM docmgmt.webhooks_tracking"
                                   " WHERE application_name = 'docmgmt'").fetchone()
        assert tracked == (head,)
        deliver_all(world)
        assert len(hook.requests) == 6


def test_cancelling_stops_pending_deliveries_and_erases_the_secret(world: World) -> None:
    with receiver() as hook:
        admin = admin_of(world.recipient)
        new = world.service.subscribe(admin, world.recipient, hook.url, ["received"])
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        result = world.service.cancel(admin, world.recipient, new.result.id, "Đổi hệ thống")
        arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(world.app.recorder.max_notification_id())
        assert result.position is not None
        deliver_all(world)

        assert hook.requests == []
        [row] = deliveries(world.db)
        assert row["status"] == "cancelled"
        with psycopg.connect(world.db.owner.conninfo()) as conn:
            left = conn.execute("SELECT count(*) FROM docmgmt.webhook_secrets").fetchone()
        assert left == (0,)
