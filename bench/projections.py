"""Projection catch-up rates and read-your-writes latency (issue 4: >= 5,000 events/s).

On a fresh database of a real PostgreSQL (embedded pgserver unless
DOCMGMT_TEST_DATABASE_URL is set):

(a) Fill: a realistic mix written through ``DocMgmt`` (``app.save`` of many aggregates at a
    time, built with the domain's own commands; no signing, made-up file references):
    agencies with units, users (some with role changes), a few webhook subscriptions,
    drafted documents with comments, extra revisions, submissions, approvals or returns,
    access-log views, and the sending and receiving of about one document in seven:
    signed, numbered, sealed and dispatched to three agencies (DeliveredTo,
    ReceiptAcknowledged, DeliveryReturned, Recalled, RecallConfirmed on the outgoing side);
    each copy an IncomingDocument built directly (Arrived), then registered or returned,
    assigned, progress recorded, extended, completed, or withdrawn and confirmed. About
    100,000 events by default.
(b) The read-model projection (``start_read_model``, as the API starts it) from position
    zero over all of it: events/s while catching up.
(c) The ledger worker (``start_ledger``) from zero over the same events: events/s.
(e) The exchange views (``start_exchange_views``) from zero: events/s.
(f) The webhook outbox (``start_webhook_outbox``) from zero: it subscribes to its topics
    only, so it is timed until it has tracked the last event of those topics; both rates
    are printed (events it received per second, and events of the whole stream per second).
(d) Read-your-writes on an idle system, read-model runner caught up: one comment appended
    at a time (``DocMgmt.comment``), then ``view.wait_for(position)`` timed until it
    returns — p50/p95 — with a pause between events so that the system is idle each time.

Each catch-up runs alone, in this process, one after the other.

    .venv/bin/python -m bench.projections [--events 100000] [--latency-samples 200]
        [--only readmodel,ledger,exchange,webhooks,latency]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
from psycopg import sql

from bench._common import fresh_database, latency_line, machine_line
from docmgmt.domain.access import AccessLog
from docmgmt.domain.agency import Agency
from docmgmt.domain.common import (
    Actor,
    Confidentiality,
    DocumentType,
    FileRef,
    Role,
    SigningCapacity,
    Urgency,
)
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.domain.user import User
from docmgmt.domain.webhook import WebhookKind, WebhookSubscription
from docmgmt.incoming.views import start_exchange_views
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.worker import start_ledger
from docmgmt.outgoing.views import start_read_model
from docmgmt.webhooks import start_webhook_outbox
from docmgmt.webhooks.outbox import WebhookOutbox
from tests.support import outgoing as outgoing_store

ACTOR = Actor(uuid.uuid5(uuid.NAMESPACE_DNS, "bench"), "bench", "127.0.0.1", "bench", "")
AGENCIES = 20
UNITS = 4
USERS_PER_AGENCY = 50
SUBSCRIBED_AGENCIES = 3
RECIPIENTS = 3
SAVE_AGGREGATES = 100
YEAR = 2026
SUMMARIES = [
    "Quyết định về việc phê duyệt kế hoạch cải cách hành chính năm {n}",
    "Công văn về việc đôn đốc triển khai chuyển đổi số, lần {n}",
    "Tờ trình đề nghị bổ sung kinh phí sửa chữa trụ sở (đợt {n})",
    "Báo cáo tình hình thực hiện nhiệm vụ quý, số {n}",
]
PROJECTIONS = ("readmodel", "ledger", "exchange", "webhooks", "latency")


def _file(n: int) -> FileRef:
    # The projection never opens the blob, so a made-up reference is enough.
    sha = uuid.uuid5(uuid.NAMESPACE_OID, str(n)).hex * 2
    return FileRef(f"sha256/{sha[:2]}/{sha[2:4]}/{sha}", sha, 1000 + n % 5000, 1 + n % 9,
                   f"van-ban-{n}.pdf")


@dataclass
class Org:
    """One agency of the fill: its units, its officials and its arrival-number counter."""

    id: UUID
    code: str
    name: str
    units: list[UUID]
    users: list[UUID] = field(default_factory=list)
    arrivals: int = 0


def _issue(doc: OutgoingDocument, n: int, org: Org, recipients: list[Org]) -> None:
    """Sign, number, seal and dispatch an approved document (made-up files, no PDF work)."""
    signed, numbered, sealed = _file(n + 2 * 10**7), _file(n + 3 * 10**7), _file(n + 4 * 10**7)
    doc.sign(capacity=SigningCapacity.KT, signer_title="Phó Giám đốc",
             input_sha256=doc.approved_file().sha256, output=signed, signature={},
             actor=ACTOR)
    doc.number(registration=Registration(n, f"CV-{org.code}", f"{YEAR}-03-10", YEAR,
                                         "general"),
               input_sha256=signed.sha256, output=numbered, validation={}, actor=ACTOR)
    doc.seal(input_sha256=numbered.sha256, output=sealed, signature={},
             competent_signature_valid=True, actor=ACTOR)
    doc.dispatch([{"agency_id": r.id, "code": r.code, "name": r.name} for r in recipients],
                 ["Bộ Nội vụ"] if n % 3 == 0 else [], "Gửi qua trục liên thông", ACTOR)


def _receive(doc: OutgoingDocument, n: int, org: Org,
             recipients: list[Org]) -> list[IncomingDocument]:
    """Each recipient's copy, and what its clerk and handlers do with it.

    The outgoing document records each delivery, acknowledgement, return and (one document
    in ten) the recall and its confirmations, as the dispatch worker and the API would.
    """
    now = datetime.now(UTC)
    reg = doc.registration
    assert reg is not None
    copies: list[IncomingDocument] = []
    recalled = n % 10 == 3
    for k, to in enumerate(recipients):
        copy = IncomingDocument(
            outgoing_id=doc.id, sender_agency_id=org.id, sender_code=org.code,
            sender_name=org.name, recipient_agency_id=to.id, number_label=reg.label,
            code=reg.code, issued_date=reg.date, doc_type=doc.doc_type.value,
            summary=doc.summary, urgency=doc.urgency.value, confidentiality="normal",
            file=_file(n + 4 * 10**7).as_payload(), appendices=[], links=[],
            authenticity={"ok": True, "checks": [{"name": "seal", "ok": True}]},
            registration_due=(now + timedelta(days=1)).isoformat())
        doc.record_delivery(to.id, copy.id)
        copies.append(copy)
        if (n + k) % 7 == 0:
            copy.return_to_sender("Gửi nhầm cơ quan", ACTOR)
            doc.record_return(to.id, "Gửi nhầm cơ quan", ACTOR.as_payload())
            continue
        to.arrivals += 1
        copy.register(to.arrivals, YEAR, f"{YEAR}-03-11", ACTOR)
        doc.record_acknowledgement(to.id, f"{to.arrivals:02d}", ACTOR.as_payload())
        if (n + k) % 5 == 0:
            continue  # registered, waiting for a leader
        lead = to.users[(n + k) % len(to.users)]
        copy.assign(lead_unit_id=to.units[(n + k) % UNITS], lead_user_id=lead,
                    supporting_unit_ids=[to.units[(n + k + 1) % UNITS]] if k == 0 else [],
                    instructions="Chủ trì tham mưu, báo cáo kết quả",
                    deadline=now + timedelta(days=5 + n % 10), now=now, actor=ACTOR)
        for p in range(1 + (n + k) % 2):
            copy.record_progress(f"Đang xử lý, bước {p + 1}", ACTOR)
        if (n + k) % 4 == 1:
            copy.request_extension(now + timedelta(days=30), "Chờ ý kiến các sở", ACTOR)
            copy.decide_extension(True, "Đồng ý gia hạn", ACTOR)
        if not recalled and (n + k) % 3 != 2:
            copy.complete("Đã xử lý xong", None, now, ACTOR)
    if recalled:
        doc.recall("Sai sót về thể thức", ACTOR)
        for copy, to in zip(copies, recipients, strict=True):
            if copy.withdraw("Sai sót về thể thức", ACTOR.as_payload()):
                copy.confirm_withdrawal(ACTOR)
                doc.record_recall_confirmation(to.id, ACTOR.as_payload())
    return copies


def fill(app: DocMgmt, target_events: int) -> int:
    """Write about ``target_events`` events of a realistic mix; returns the head position."""
    pending: list[object] = []

    def save(*aggregates: object) -> None:
        pending.extend(aggregates)
        if len(pending) >= SAVE_AGGREGATES:
            flush()

    def flush() -> None:
        if pending:
            app.save(*pending)  # type: ignore[arg-type]
            pending.clear()

    orgs: list[Org] = []
    for a in range(AGENCIES):
        name = f"Sở số {a} tỉnh Thử Nghiệm"
        agency = Agency.register(f"CQ{a:03d}", name, None, ACTOR)
        units = [agency.add_unit(f"P{u}", f"Phòng nghiệp vụ {u}", ACTOR) for u in range(UNITS)]
        save(agency)
        org = Org(agency.id, f"CQ{a:03d}", name, units)
        orgs.append(org)
        for k in range(USERS_PER_AGENCY):
            user = User.register(username=f"user.{a}.{k}", full_name=f"Nguyễn Văn Thử {k}",
                                 title="Chuyên viên", agency_id=agency.id,
                                 unit_id=units[k % UNITS], roles=[Role.OFFICIAL], actor=ACTOR)
            if k % 10 == 0:
                user.change_roles([Role.OFFICIAL, Role.LEADER], ACTOR)
            org.users.append(user.id)
            save(user)
    # A few agencies subscribe to every kind, so the webhook outbox queues deliveries.
    for org in orgs[:SUBSCRIBED_AGENCIES]:
        save(WebhookSubscription.subscribe(org.id, f"https://hooks.example.org/{org.code}",
                                           [k.value for k in WebhookKind], ACTOR))
    flush()

    n = 0
    while (app.recorder.max_notification_id() or 0) < target_events:
        for _ in range(SAVE_AGGREGATES * 5):
            org = orgs[n % AGENCIES]
            doc = OutgoingDocument.draft(
                agency_id=org.id, unit_id=org.units[n % UNITS],
                summary=SUMMARIES[n % len(SUMMARIES)].format(n=n),
                doc_type=DocumentType.CONG_VAN, urgency=Urgency.NORMAL,
                confidentiality=Confidentiality.NORMAL, legal_normative=n % 11 == 0,
                file=_file(n), actor=ACTOR)
            for c in range(n % 7):
                doc.comment(f"Góp ý lần {c}: đề nghị chỉnh sửa điều {c + 1}", ACTOR)
            if n % 3 == 0:
                doc.upload_revision(_file(n + 10**7), "Bản sửa theo góp ý", ACTOR)
            if n % 5 != 4:
                doc.submit_for_approval("Kính trình lãnh đạo", ACTOR)
                if n % 4 == 0:
                    doc.return_for_revision("Đề nghị bổ sung căn cứ pháp lý", ACTOR)
                else:
                    doc.approve("Đồng ý", ACTOR)
            copies: list[IncomingDocument] = []
            if n % 5 == 1 and n % 4 != 0:
                recipients = [orgs[(n + 1 + 3 * r) % AGENCIES] for r in range(RECIPIENTS)]
                _issue(doc, n, org, recipients)
                copies = _receive(doc, n, org, recipients)
            save(doc, *copies)
            if n % 2 == 0:
                log = AccessLog(document_id=doc.id)
                for _v in range(1 + n % 4):
                    log.record(1, doc.current_revision.file.sha256, "view", ACTOR)
                save(log)
            n += 1
        flush()
    return app.recorder.max_notification_id() or 0


def event_mix(db: Database) -> str:
    """The stored events by aggregate, most frequent first (one line)."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        rows = conn.execute(
            "SELECT split_part(topic, ':', 2) AS t, count(*) FROM docmgmt.docmgmt_events"
            " GROUP BY 1 ORDER BY 2 DESC").fetchall()
    return ", ".join(f"{t} {c:,}" for t, c in rows if c)


def last_of_topics(db: Database, topics: tuple[str, ...]) -> tuple[int, int]:
    """The position of the last event with one of ``topics``, and how many there are."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT max(notification_id), count(*) FROM docmgmt.docmgmt_events"
                           " WHERE topic = ANY(%s)", (list(topics),)).fetchone()
    return (int(row[0] or 0), int(row[1])) if row else (0, 0)


def _tracked(db: Database, table: str) -> int:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute(sql.SQL(
            "SELECT notification_id FROM docmgmt.{} WHERE application_name = 'docmgmt'"
        ).format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def catch_up_line(label: str, start: Callable[[], object], db: Database, table: str,
                  head: int, received: int | None = None) -> float:
    """Start a projection from zero, wait until its tracking reaches ``head``, print the
    rate (and, given ``received``, the rate over the events of its topics); the seconds."""
    t0 = time.perf_counter()
    with start() as runner:  # type: ignore[attr-defined]
        # Poll the committed position (cheap), so every projection is timed the same way.
        while _tracked(db, table) < head:
            if runner.is_interrupted.is_set():
                runner.run_forever(0)
                raise RuntimeError(f"{label} stopped")
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
    line = f"  {label}: {head:,} events in {elapsed:.2f} s = {head / elapsed:,.0f} events/s"
    if received is not None:
        line += (f" of the stream; it receives {received:,} of them (its topics)"
                 f" = {received / elapsed:,.0f} events/s")
    print(line)
    return elapsed


def _deliveries(db: Database) -> int:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM docmgmt.webhook_deliveries").fetchone()
    return int(row[0]) if row else 0


def _latency(app: DocMgmt, env: dict[str, str], samples: int) -> None:
    docs = [outgoing_store.draft(app, agency_id=Agency.create_id("CQ000"), unit_id=None,
                                 summary="Văn bản đo độ trễ", doc_type=DocumentType.CONG_VAN,
                                 urgency=Urgency.NORMAL, confidentiality=Confidentiality.NORMAL,
                                 legal_normative=False, file=_file(-i), actor=ACTOR).id
            for i in range(1, 11)]
    waits: list[float] = []
    ends: list[float] = []
    with start_read_model(env) as runner:
        runner.view.wait_for(app.recorder.max_notification_id(), 600)
        for i in range(samples):
            time.sleep(0.02)  # idle between events
            t0 = time.perf_counter()
            doc = docs[i % len(docs)]
            position = outgoing_store.comment(app, doc, f"Ý kiến {i}", ACTOR).position
            t1 = time.perf_counter()
            if not runner.view.wait_for(position, 10):
                raise RuntimeError(f"position {position} not projected within 10 s")
            t2 = time.perf_counter()
            waits.append(t2 - t1)
            ends.append(t2 - t0)
    print("  " + latency_line("append -> wait_for returns", waits))
    print("  " + latency_line("command + wait_for (as the API does)", ends))


def main() -> None:
    """Fill a fresh database, then time each projection catching up, and idle latency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--only", default=",".join(PROJECTIONS),
                        help=f"comma-separated, from {','.join(PROJECTIONS)}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(machine_line())
    with fresh_database() as (db, _work):
        env = db.app.eventsourcing_env("docmgmt", 4)
        app = DocMgmt(env=env)
        try:
            t0 = time.perf_counter()
            head = fill(app, args.events)
            print(f"(a) fill: {head:,} events in {time.perf_counter() - t0:.1f} s")
            print(f"    mix: {event_mix(db)}")
            print("(b)/(c)/(e)/(f) catch-up from zero (each alone, in this process)")
            if "readmodel" in only:
                catch_up_line("(b) read model", lambda: start_read_model(env), db,
                              "readmodel_tracking", head)
            if "ledger" in only:
                catch_up_line("(c) ledger", lambda: start_ledger(env), db, "ledger_tracking",
                              head)
            if "exchange" in only:
                catch_up_line("(e) exchange views", lambda: start_exchange_views(env), db,
                              "exchange_tracking", head)
            if "webhooks" in only:
                last, received = last_of_topics(db, WebhookOutbox.topics)
                catch_up_line("(f) webhook outbox", lambda: start_webhook_outbox(env), db,
                              "webhooks_tracking", last, received)
                print(f"      {_deliveries(db):,} deliveries queued for "
                      f"{SUBSCRIBED_AGENCIES} subscriptions")
            if "latency" in only:
                print(f"(d) read-your-writes on an idle system ({args.latency_samples}"
                      " comments, 20 ms apart)")
                _latency(app, env, args.latency_samples)
        finally:
            app.close()


if __name__ == "__main__":
    main()
