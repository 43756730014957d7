"""Projection catch-up rates and read-your-writes latency (issue 4: >= 5,000 events/s).

On a fresh database of a real PostgreSQL (embedded pgserver unless
DOCMGMT_TEST_DATABASE_URL is set):

(a) Fill: a realistic mix written through ``DocMgmt`` (``app.save`` of many aggregates at a
    time, built with the domain's own commands; no signing): agencies with units, users
    (some with role changes), drafted documents with comments, extra revisions, submissions,
    approvals or returns, and access-log views. About 100,000 events by default.
(b) The read-model projection (``start_projections``, as the API starts it) from position
    zero over all of it: events/s while catching up.
(c) The ledger worker (``start_ledger``) from zero over the same events: events/s.
(d) Read-your-writes on an idle system, read-model runner caught up: one comment appended
    at a time (``DocMgmt.comment``), then ``view.wait_for(position)`` timed until it
    returns — p50/p95 — with a pause between events so that the system is idle each time.

    .venv/bin/python -m bench.projections [--events 100000] [--latency-samples 200]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from uuid import UUID

import psycopg
from psycopg import sql

from api.bootstrap import start_projections
from bench._common import fresh_database, latency_line, machine_line
from docmgmt.application import DocMgmt
from docmgmt.db import Database
from docmgmt.domain.access import AccessLog
from docmgmt.domain.agency import Agency
from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Role, Urgency
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.domain.user import User
from docmgmt.ledger.worker import start_ledger

ACTOR = Actor(uuid.uuid5(uuid.NAMESPACE_DNS, "bench"), "bench", "127.0.0.1", "bench", "")
AGENCIES = 20
UNITS = 4
USERS_PER_AGENCY = 50
SAVE_AGGREGATES = 100
SUMMARIES = [
    "Quyết định về việc phê duyệt kế hoạch cải cách hành chính năm {n}",
    "Công văn về việc đôn đốc triển khai chuyển đổi số, lần {n}",
    "Tờ trình đề nghị bổ sung kinh phí sửa chữa trụ sở (đợt {n})",
    "Báo cáo tình hình thực hiện nhiệm vụ quý, số {n}",
]


def _file(n: int) -> FileRef:
    # The projection never opens the blob, so a made-up reference is enough.
    sha = uuid.uuid5(uuid.NAMESPACE_OID, str(n)).hex * 2
    return FileRef(f"sha256/{sha[:2]}/{sha[2:4]}/{sha}", sha, 1000 + n % 5000, 1 + n % 9,
                   f"van-ban-{n}.pdf")


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

    agencies: list[tuple[UUID, list[UUID]]] = []
    for a in range(AGENCIES):
        agency = Agency.register(f"CQ{a:03d}", f"Sở số {a} tỉnh Thử Nghiệm", None, ACTOR)
        units = [agency.add_unit(f"P{u}", f"Phòng nghiệp vụ {u}", ACTOR) for u in range(UNITS)]
        save(agency)
        agencies.append((agency.id, units))
        for k in range(USERS_PER_AGENCY):
            user = User.register(username=f"user.{a}.{k}", full_name=f"Nguyễn Văn Thử {k}",
                                 title="Chuyên viên", agency_id=agency.id,
                                 unit_id=units[k % UNITS], roles=[Role.OFFICIAL], actor=ACTOR)
            if k % 10 == 0:
                user.change_roles([Role.OFFICIAL, Role.LEADER], ACTOR)
            save(user)
    flush()

    n = 0
    while (app.recorder.max_notification_id() or 0) < target_events:
        for _ in range(SAVE_AGGREGATES * 5):
            agency_id, units = agencies[n % AGENCIES]
            doc = OutgoingDocument.draft(
                agency_id=agency_id, unit_id=units[n % UNITS],
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
            save(doc)
            if n % 2 == 0:
                log = AccessLog(document_id=doc.id)
                for _v in range(1 + n % 4):
                    log.record(1, doc.current_revision.file.sha256, "view", ACTOR)
                save(log)
            n += 1
        flush()
    return app.recorder.max_notification_id() or 0


def _tracked(db: Database, table: str) -> int:
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute(sql.SQL(
            "SELECT notification_id FROM docmgmt.{} WHERE application_name = 'docmgmt'"
        ).format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def _catch_up(label: str, start: Callable[[], object], db: Database, table: str,
              head: int) -> None:
    t0 = time.perf_counter()
    with start() as runner:  # type: ignore[attr-defined]
        # Poll the committed position (cheap), so both projections are timed the same way.
        while _tracked(db, table) < head:
            if runner.is_interrupted.is_set():
                runner.run_forever(0)
                raise RuntimeError(f"{label} stopped")
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
    print(f"  {label}: {head:,} events in {elapsed:.2f} s = {head / elapsed:,.0f} events/s")


def _latency(app: DocMgmt, env: dict[str, str], samples: int) -> None:
    docs = [app.draft_document(agency_id=Agency.create_id("CQ000"), unit_id=None,
                               summary="Văn bản đo độ trễ", doc_type=DocumentType.CONG_VAN,
                               urgency=Urgency.NORMAL, confidentiality=Confidentiality.NORMAL,
                               legal_normative=False, file=_file(-i), actor=ACTOR).id
            for i in range(1, 11)]
    waits: list[float] = []
    ends: list[float] = []
    with start_projections(env) as runner:
        runner.view.wait_for(app.recorder.max_notification_id(), 600)
        for i in range(samples):
            time.sleep(0.02)  # idle between events
            t0 = time.perf_counter()
            position = app.comment(docs[i % len(docs)], f"Ý kiến {i}", ACTOR, None).position
            t1 = time.perf_counter()
            if not runner.view.wait_for(position, 10):
                raise RuntimeError(f"position {position} not projected within 10 s")
            t2 = time.perf_counter()
            waits.append(t2 - t1)
            ends.append(t2 - t0)
    print("  " + latency_line("append -> wait_for returns", waits))
    print("  " + latency_line("command + wait_for (as the API does)", ends))


def main() -> None:
    """Fill a fresh database, then time both projections catching up and idle latency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency-samples", type=int, default=200)
    args = parser.parse_args()
    print(machine_line())
    with fresh_database() as (db, _work):
        env = db.app.eventsourcing_env("docmgmt", 4)
        app = DocMgmt(env=env)
        try:
            t0 = time.perf_counter()
            head = fill(app, args.events)
            print(f"(a) fill: {head:,} events in {time.perf_counter() - t0:.1f} s")
            print("(b)/(c) catch-up from zero (each alone, in this process)")
            _catch_up("read model", lambda: start_projections(env), db, "readmodel_tracking",
                      head)
            _catch_up("ledger", lambda: start_ledger(env), db, "ledger_tracking", head)
            print(f"(d) read-your-writes on an idle system ({args.latency_samples} comments,"
                  " 20 ms apart)")
            _latency(app, env, args.latency_samples)
        finally:
            app.close()


if __name__ == "__main__":
    main()
