"""Due-soon and overdue notices fire once each as time passes; an extension re-arms them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from docmgmt.webhooks import DeadlineScanner
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


def test_due_soon_then_overdue_once_each_and_an_extension_rearms(world: World) -> None:
    with receiver() as hook:
        new = world.service.subscribe(admin_of(world.recipient), world.recipient, hook.url,
                                      ["due_soon", "overdue"])
        hook.secret = bytes.fromhex(new.secret)
        other = world.service.subscribe(admin_of(world.other), world.other, hook.url,
                                        ["due_soon", "overdue"])
        real_now = datetime.now(UTC)
        deadline = (real_now + timedelta(days=10)).replace(microsecond=0)
        doc = arrive(world.app, world.sender_agency, world.recipient)
        world.outbox_until(assign(world.app, doc, deadline, real_now))

        clock = {"now": deadline - timedelta(days=3)}
        scanner = DeadlineScanner(world.db.app.conninfo(), due_soon=timedelta(hours=24),
                                  clock=lambda: clock["now"])

        def at(moment: datetime) -> int:
            clock["now"] = moment
            return scanner.scan_once()

        # Three days before: nothing. A day before: due soon, once.
        assert at(deadline - timedelta(days=3)) == 0
        assert at(deadline - timedelta(hours=23)) == 1
        assert at(deadline - timedelta(hours=1)) == 0
        # At the deadline it is still due soon (already sent); just after, overdue, once.
        assert at(deadline) == 0
        assert at(deadline + timedelta(seconds=1)) == 1
        assert at(deadline + timedelta(days=1)) == 0

        # The leader grants an extension of five days: both notices are armed again.
        later = deadline + timedelta(days=5)
        doc.request_extension(later, "Cần thêm số liệu", ACTOR)
        doc.decide_extension(True, "Đồng ý", ACTOR)
        world.outbox_until(save(world.app, doc))
        assert at(deadline + timedelta(days=1)) == 0
        assert at(later - timedelta(hours=2)) == 1
        assert at(later + timedelta(minutes=1)) == 1
        assert at(later + timedelta(days=2)) == 0

        # Once the document is completed nothing more is derived for it.
        doc2 = arrive(world.app, world.sender_agency, world.recipient, summary="Văn bản 2")
        assign(world.app, doc2, later + timedelta(days=1), real_now)
        doc2.complete("Đã xử lý", None, real_now, ACTOR)
        world.outbox_until(save(world.app, doc2))
        assert at(later + timedelta(days=30)) == 0

        rows = deliveries(world.db)
        assert [r["kind"] for r in rows] == ["due_soon", "overdue", "due_soon", "overdue"]
        assert {r["subscription_id"] for r in rows} == {new.result.id}
        assert other.result.id not in {r["subscription_id"] for r in rows}
        payloads = [json.loads(r["payload"]) for r in rows]
        assert [datetime.fromisoformat(p["deadline"]) for p in payloads] == [
            deadline, deadline, later, later]
        assert all(p["deadline"].endswith("+07:00") for p in payloads)
        assert datetime.fromisoformat(payloads[1]["occurred_at"]) == deadline + timedelta(
            seconds=1)

        sender = world.sender()
        sender.start()
        try:
            wait_until(lambda: settled(world.db), what="the notices to be delivered")
        finally:
            sender.stop()
        # Delivery order across rows is not promised (retries, several senders).
        assert sorted(r.headers["X-Docmgmt-Event"] for r in hook.requests) == [
            "due_soon", "due_soon", "overdue", "overdue"]
        assert all(r.signature_ok for r in hook.requests)


def test_two_scanners_at_once_queue_each_notice_once(world: World) -> None:
    world.service.subscribe(admin_of(world.recipient), world.recipient,
                            "http://127.0.0.1:9/unused", ["overdue"])
    real_now = datetime.now(UTC)
    deadline = real_now + timedelta(days=1)
    position = 0
    for n in range(20):
        doc = arrive(world.app, world.sender_agency, world.recipient, summary=f"Số {n}")
        position = assign(world.app, doc, deadline, real_now)
    world.outbox_until(position)
    scanners = [DeadlineScanner(world.db.app.conninfo(), clock=lambda: deadline
                                + timedelta(hours=1), batch=3) for _ in range(2)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda s=s: counts.append(s.scan_once()))
               for s in scanners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 20
    assert len(deliveries(world.db)) == 20
