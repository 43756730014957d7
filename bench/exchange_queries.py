"""Exchange-view query latency with 1,000,000 incoming documents across 700 units.

Set-up: a fresh migrated database (embedded PostgreSQL, or DOCMGMT_TEST_DATABASE_URL); 35
agencies of 20 units (700 units) and 14 officials per unit (9,800 users) are inserted
DIRECTLY into units_view / users_view, and N incoming documents (default 1,000,000) DIRECTLY
into incoming_view with generate_series SQL as the database owner, in chunks, with every
index of migration 0008 in place. These are projection tables (rebuildable from events), so a
direct fill is fine for a QUERY benchmark; no events exist for these rows. Arrivals are
spread over two years (2025-2026); statuses roughly 2 % received, 3 % registered, 3 %
returned, 2 % withdrawn, 20 % assigned, 10 % in progress, 60 % completed; 90 % have a lead
unit, 70 % a lead person, 25 % a supporting unit. search_key / search_vector are built from
folded summaries the same way the projection builds them (words behind the agency's tag).
VACUUM ANALYZE follows.

Measured, sequentially after a warm-up, via ExchangeQueries on an asyncpg pool (application
login, no HTTP), each as p50/p95: inbox per user (first page of 50, and the user's open
documents), inbox of a clerk (own + the agency's queue), inbox per unit (lead or
supporting; first page and the page after it), dashboard per agency for one month, and
search (common and rare words; then each kind alone; as an official, scoped to their own
and their unit's copies; the second page). EXPLAIN ANALYZE of one call of each follows.
Target: p95 under 100 ms for inbox, dashboard and search.

    .venv/bin/python -m bench.exchange_queries            # 1,000,000 rows
    .venv/bin/python -m bench.exchange_queries 100000     # a quicker run
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from bench._common import fresh_database, machine_line, measure
from docmgmt.domain.textsearch import fold
from docmgmt.incoming.queries import OPEN, ExchangeQueries, Handler
from docmgmt.incoming.views import words
from docmgmt.kernel.db import Database
from docmgmt.kernel.readpool import open_read_pool

AGENCIES, UNITS, USERS = 35, 20, 14
CHUNK = 100_000
CALLS = 300
random.seed(4321)

SUMMARIES = [
    "Quyết định về việc phân bổ ngân sách năm",
    "Kế hoạch triển khai chuyển đổi số",
    "Công văn về việc đôn đốc giải ngân vốn đầu tư công",
    "Thông báo kết luận của Chủ tịch Ủy ban nhân dân",
    "Báo cáo tình hình kinh tế - xã hội tháng",
    "Giấy mời dự hội nghị tổng kết công tác",
    "Tờ trình đề nghị phê duyệt dự toán",
    "Hướng dẫn thực hiện cải cách hành chính",
    "Chỉ thị về tăng cường phòng chống thiên tai",
    "Công văn đề nghị cung cấp thông tin quy hoạch đất đai",
    "Kế hoạch kiểm tra công tác văn thư lưu trữ",
    "Quyết định thành lập tổ công tác liên ngành Đà Nẵng",
]

FILL_UNITS = """
INSERT INTO docmgmt.units_view (id, agency_id, code, name)
SELECT md5('unit:' || a || ':' || u)::uuid, md5('agency:' || a)::uuid, 'P' || u,
       'Phòng số ' || u || ' của cơ quan ' || a
FROM generate_series(0, %(agencies)s - 1) a, generate_series(0, %(units)s - 1) u
"""

FILL_USERS = """
INSERT INTO docmgmt.users_view (id, username, full_name, title, agency_id, unit_id, roles,
                                active, created_at, version)
SELECT md5('user:' || a || ':' || u || ':' || k)::uuid, 'u' || a || '.' || u || '.' || k,
       'Cán bộ ' || a || '.' || u || '.' || k, '', md5('agency:' || a)::uuid,
       md5('unit:' || a || ':' || u)::uuid,
       CASE WHEN k = 0 THEN ARRAY['clerk'] ELSE ARRAY['official'] END, true, now(), 1
FROM generate_series(0, %(agencies)s - 1) a, generate_series(0, %(units)s - 1) u,
     generate_series(0, %(users)s - 1) k
"""

# g: document number; a: recipient agency; u: lead unit in it; k: lead person in the unit;
# s: a 0-99 bucket that picks the status.
FILL_INCOMING = """
INSERT INTO docmgmt.incoming_view (
    id, agency_id, recipient_name, sender_agency_id, sender_code, sender_name, outgoing_id,
    number_label, code, issued_date, doc_type, summary, urgency, confidentiality, file,
    appendices, links, arrived_at, registration_due, authentic, authenticity, status,
    arrival_number, arrival_year, registered_on, registered_at, lead_unit_id, lead_user_id,
    supporting_unit_ids, instructions, assigned_at, last_assigned_at, deadline,
    progress_count, completed_at, completed_on_time, result, withdrawn, withdrawal_reason,
    withdrawn_at, return_reason, returned_at, search_key, search_vector, version, updated_at)
SELECT md5('in:' || g)::uuid, md5('agency:' || a)::uuid, 'Cơ quan ' || a,
       md5('agency:' || (a + 1) %% %(agencies)s)::uuid, 'CQ' || (a + 1) %% %(agencies)s,
       'Cơ quan ' || (a + 1) %% %(agencies)s, md5('out:' || g)::uuid,
       g || '/CV-CQ', 'CV-CQ', date '2025-01-01' + (g * 63 / 86400)::int, 'CV',
       (%(summaries)s::text[])[1 + g %% %(n_summaries)s] || ' ' || g,
       CASE WHEN g %% 10 = 0 THEN 'urgent' ELSE 'normal' END, 'normal',
       '{"key": "k", "sha256": "0", "size": 1, "page_count": 1, "file_name": "a.pdf"}',
       '[]', '[]', at, at + interval '1 day', s NOT BETWEEN 5 AND 7,
       '{"ok": true, "checks": []}',
       CASE WHEN s < 2 THEN 'received' WHEN s < 5 THEN 'registered' WHEN s < 8 THEN 'returned'
            WHEN s < 10 THEN 'withdrawn' WHEN s < 30 THEN 'assigned'
            WHEN s < 40 THEN 'in_progress' ELSE 'completed' END,
       CASE WHEN s >= 2 AND s NOT BETWEEN 5 AND 7 THEN g / %(agencies)s END,
       CASE WHEN s >= 2 AND s NOT BETWEEN 5 AND 7 THEN extract(year FROM at)::int END,
       CASE WHEN s >= 2 AND s NOT BETWEEN 5 AND 7 THEN at::date END,
       CASE WHEN s >= 2 AND s NOT BETWEEN 5 AND 7 THEN at + interval '2 hours' END,
       CASE WHEN s >= 8 AND g %% 10 <> 0 THEN md5('unit:' || a || ':' || u)::uuid END,
       CASE WHEN s >= 8 AND g %% 10 < 7 THEN md5('user:' || a || ':' || u || ':' || k)::uuid
       END,
       CASE WHEN s >= 8 AND g %% 4 = 0
            THEN ARRAY[md5('unit:' || a || ':' || (u + 1) %% %(units)s)::uuid]
            ELSE '{}'::uuid[] END,
       CASE WHEN s >= 8 THEN 'Chủ trì tham mưu' END,
       CASE WHEN s >= 8 THEN at + interval '1 day' END,
       CASE WHEN s >= 8 THEN at + interval '1 day' END,
       CASE WHEN s >= 8 THEN at + (4 + g %% 12) * interval '1 day' END,
       CASE WHEN s >= 30 THEN 1 + g %% 3 ELSE 0 END,
       CASE WHEN s >= 40 THEN at + (2 + g %% 15) * interval '1 day' END,
       CASE WHEN s >= 40 THEN 2 + g %% 15 <= 4 + g %% 12 END,
       CASE WHEN s >= 40 THEN 'Đã xử lý' END,
       s BETWEEN 8 AND 9, CASE WHEN s BETWEEN 8 AND 9 THEN 'Thu hồi' END,
       CASE WHEN s BETWEEN 8 AND 9 THEN at + interval '3 days' END,
       CASE WHEN s BETWEEN 5 AND 7 THEN 'Gửi nhầm' END,
       CASE WHEN s BETWEEN 5 AND 7 THEN at + interval '1 hour' END,
       (%(keys)s::text[])[1 + g %% %(n_summaries)s] || ' ' || g || E'\n' || 'co quan '
           || (a + 1) %% %(agencies)s,
       array_to_tsvector(ARRAY(
           SELECT 'a' || left(md5('agency:' || a), 8) || w
           FROM unnest(string_to_array((%(words)s::text[])[1 + g %% %(n_summaries)s] || ' '
                       || g || ' g' || g || ' co quan ' || (a + 1) %% %(agencies)s || ' ' || a,
                       ' ')) AS w)),
       3, at + interval '3 days'
FROM generate_series(%(lo)s, %(hi)s) AS g
CROSS JOIN LATERAL (SELECT g %% %(agencies)s AS a, (g / %(agencies)s) %% %(units)s AS u,
                           (g / (%(agencies)s * %(units)s)) %% %(users)s AS k,
                           ((g::bigint * 7919) %% 100)::int AS s,
                           timestamptz '2025-01-01 08:00+07' + g * 63 * interval '1 second'
                           AS at) AS x
"""


def fill(db: Database, n: int) -> None:
    """Insert units, users and n incoming rows as the owner, then VACUUM ANALYZE."""
    params: dict[str, Any] = {
        "agencies": AGENCIES, "units": UNITS, "users": USERS,
        "summaries": SUMMARIES, "n_summaries": len(SUMMARIES),
        "keys": [fold(s) for s in SUMMARIES], "words": [words(s) for s in SUMMARIES]}
    t0 = time.perf_counter()
    with psycopg.connect(db.owner.conninfo()) as conn:
        conn.execute(FILL_UNITS, params)
        conn.execute(FILL_USERS, params)
        conn.commit()
        for lo in range(1, n + 1, CHUNK):
            conn.execute(FILL_INCOMING, params | {"lo": lo, "hi": min(n, lo + CHUNK - 1)})
            conn.commit()
            print(f"  {min(n, lo + CHUNK - 1):,} rows, {time.perf_counter() - t0:.0f} s",
                  flush=True)
    filled = time.perf_counter() - t0
    with psycopg.connect(db.owner.conninfo(), autocommit=True) as conn:
        for table in ("incoming_view", "units_view", "users_view"):
            conn.execute(f"VACUUM ANALYZE docmgmt.{table}")
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size("
                            "'docmgmt.incoming_view'))").fetchone()
    print(f"filled incoming_view directly (SQL as owner, not through events): {n:,} rows "
          f"in {filled:.1f} s; VACUUM ANALYZE {time.perf_counter() - t0 - filled:.1f} s; "
          f"table with indexes {size[0] if size else '?'}")


async def run(db: Database) -> None:
    """Time the queries and print one plan of each."""
    pool: Any = await open_read_pool(db.app, max_size=2)
    q = ExchangeQueries(pool)
    try:
        units = [(UUID(str(r["agency_id"])), UUID(str(r["id"]))) for r in
                 await pool.fetch("SELECT id, agency_id FROM docmgmt.units_view")]
        rows = await pool.fetch("SELECT id, agency_id, unit_id, roles FROM docmgmt.users_view")
        users = [(UUID(str(r["agency_id"])), UUID(str(r["id"])), "clerk" in r["roles"])
                 for r in rows]
        unit_of = {UUID(str(r["id"])): UUID(str(r["unit_id"])) for r in rows}
        officials = [u for u in users if not u[2]]
        clerks = [u for u in users if u[2]]
        agencies = sorted({a for a, _ in units})
        now = datetime(2026, 6, 15, 9, tzinfo=UTC)
        print("Direct (ExchangeQueries on an asyncpg pool, application login, no HTTP):")
        picks = random.sample(officials, CALLS)
        await measure("inbox per user (first page of 50)", [
            lambda a=a, u=u: q.inbox(a, user_id=u, now=now) for a, u, _ in picks])
        await measure("inbox per user, open only", [
            lambda a=a, u=u: q.inbox(a, user_id=u, status=OPEN, now=now)
            for a, u, _ in picks])
        await measure("inbox of a clerk (own + agency queue)", [
            lambda a=a, u=u: q.inbox(a, user_id=u, clerk_queue=True, now=now)
            for a, u, _ in random.choices(clerks, k=CALLS)])
        unit_picks = random.choices(units, k=CALLS)
        await measure("inbox per unit (lead or supporting, first page)", [
            lambda a=a, u=u: q.inbox(a, unit_id=u, now=now) for a, u in unit_picks])
        cursors = [(a, u, (await q.inbox(a, unit_id=u, now=now)).next_cursor)
                   for a, u in unit_picks[:100]]
        await measure("inbox per unit, second page (keyset)", [
            lambda a=a, u=u, c=c: q.inbox(a, unit_id=u, cursor=c, now=now)
            for a, u, c in cursors])
        await measure("inbox per unit, open only", [
            lambda a=a, u=u: q.inbox(a, unit_id=u, status=OPEN, now=now)
            for a, u in unit_picks])
        months = [datetime(2025 + m // 12, 1 + m % 12, 1, tzinfo=UTC) for m in range(24)]
        dash = [(random.choice(agencies), random.choice(months[:-1])) for _ in range(100)]
        await measure("dashboard per agency, one month", [
            lambda a=a, m=m: q.dashboard(a, m, m + timedelta(days=31), now=now)
            for a, m in dash])
        common = ["quyet dinh", "chuyen doi so", "da nang to cong tac", "ke hoach kiem tra",
                  "van thu luu", "thien tai phong"]
        rare = ["123457", "g777777"]
        terms = common + rare
        await measure("search (common and rare words, limit 20)", [
            lambda a=a, t=t: q.search(a, t) for a, t in
            ((random.choice(agencies), random.choice(terms)) for _ in range(100))])
        await measure("search, common words only (1 summary in 12 or more)", [
            lambda a=a, t=t: q.search(a, t) for a, t in
            ((random.choice(agencies), random.choice(common)) for _ in range(100))])
        await measure("search, rare words only (one document or none)", [
            lambda a=a, t=t: q.search(a, t) for a, t in
            ((random.choice(agencies), random.choice(rare)) for _ in range(100))])
        mine = [(a, Handler(u, unit_of[u])) for a, u, _ in random.sample(officials, 100)]
        await measure("search as an official (own and own unit's copies), common words", [
            lambda a=a, h=h, t=t: q.search(a, t, handler=h) for (a, h), t in
            ((random.choice(mine), random.choice(common)) for _ in range(100))])
        seconds = [(a, t, (await q.search(a, t)).next_cursor) for a, t in
                   ((random.choice(agencies), random.choice(common)) for _ in range(100))]
        await measure("search, second page (keyset), common words", [
            lambda a=a, t=t, c=c: q.search(a, t, cursor=c) for a, t, c in seconds])
        for term in ("quyet dinh", "g777777"):
            hits = (await q.search(agencies[0], term)).items
            print(f"    search {term!r} in one agency: {len(hits)} hits")
        await plans(pool, picks[0][:2], unit_picks[0], agencies[0], now,
                    unit_of[picks[0][1]])
    finally:
        await pool.close()


async def plans(pool: Any, user: tuple[UUID, UUID], unit: tuple[UUID, UUID],
                agency: UUID, now: datetime, user_unit: UUID) -> None:
    """EXPLAIN ANALYZE of one call of each query (the SQL ExchangeQueries sends)."""
    captured: list[tuple[str, tuple[Any, ...]]] = []

    class Spy:
        async def fetch(self, sql: str, *args: Any) -> list[Any]:
            captured.append((sql, args))
            return []

    spy = ExchangeQueries(Spy())  # type: ignore[arg-type]
    await spy.inbox(user[0], user_id=user[1], now=now)
    await spy.inbox(unit[0], unit_id=unit[1], now=now)
    await spy.dashboard(agency, datetime(2026, 3, 1, tzinfo=UTC),
                        datetime(2026, 4, 1, tzinfo=UTC), now=now)
    await spy.search(agency, "quyet dinh")
    await spy.search(user[0], "quyet dinh", handler=Handler(user[1], user_unit))
    first = await ExchangeQueries(pool).search(agency, "quyet dinh")
    await spy.search(agency, "quyet dinh", cursor=first.next_cursor)
    print("  plans:")
    for label, (sql, args) in zip(["inbox/user", "inbox/unit", "dashboard", "search",
                                   "search/official", "search/page 2"], captured, strict=True):
        rows = await pool.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
        lines = [r[0].strip() for r in rows]
        scans = [x for x in lines if "Scan" in x][:3]
        took = next((x for x in lines if x.startswith("Execution Time")), "")
        print(f"    {label}: {took}; " + " | ".join(s[:90] for s in scans))


def main() -> None:
    """Set up, fill, measure, clean up."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    with fresh_database() as (db, _work):
        fill(db, n)
        asyncio.run(run(db))


if __name__ == "__main__":
    main()
