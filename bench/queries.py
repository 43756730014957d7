"""Read latency with 100,000 documents in one agency's view: get-document and list-documents.

Set-up: a fresh database; the admin, three agencies (SOA, SOB, SOC) and their officials are
made through the API; then the read-model tables documents_view and revisions_view are
filled DIRECTLY with generate_series SQL as the database owner: 100,000 documents for SOA,
20,000 for SOB and 10,000 for SOC, 1-3 revisions each, about 5 % of them 'submitted'. They
are projection tables (rebuildable from events), so a direct fill is fine for a QUERY
benchmark; no events exist for these rows. VACUUM ANALYZE follows, as autovacuum would.

Measured, sequentially after a warm-up, each as p50/p95 latency:
* over HTTP (API in its own process, httpx, as SOA's official; includes JWT check and the
  user lookup every request does): GET /documents/{id} and GET /documents?limit=50 at
  offsets 0-950, at offset 50,000 and on the last page, and with ?status=submitted;
  GET /documents/{id} from 8 concurrent clients too (requests/s);
* directly via ReadModelQueries on an asyncpg pool (no HTTP): the same calls, plus the two
  statements list_documents runs (count(*) and the page) timed apart, and a keyset
  ("seek") page at the same depth as offset 50,000 for comparison.

Targets: get and list p50/p95 with 100k documents; no number fixed in advance (p95 under
~50 ms over HTTP is what a user-facing list should meet). Takes about a minute.

    .venv/bin/python -m bench.queries
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import httpx
import psycopg

from bench._common import (
    bench_cluster,
    bootstrap_admin,
    database_in,
    latency_line,
    login,
    machine_line,
    make_agency_and_users,
    measure,
    serve_process,
    server_env,
    token,
)
from docmgmt.kernel.db import Database
from docmgmt.kernel.readpool import open_read_pool
from docmgmt.outgoing.queries import DOCUMENT_COLUMNS, ReadModelQueries

SIZES = {"SOA": 100_000, "SOB": 20_000, "SOC": 10_000}
REQUESTS = 300
DEEP = 50_000
random.seed(1234)

FILL_DOCUMENTS = """
INSERT INTO docmgmt.documents_view (
    id, agency_id, unit_id, drafted_by, summary, doc_type, urgency, confidentiality,
    legal_normative, status, revision_count, current_sha256, current_file_name, current_size,
    current_page_count, comment_count, view_count, created_at, updated_at, version,
    latest_sha256)
SELECT md5(%(code)s || ':' || g)::uuid, %(agency)s, NULL, %(user)s,
       'Văn bản số ' || g || ' về việc triển khai nhiệm vụ năm 2026 của ' || %(code)s,
       (ARRAY['CV','QĐ','TB','KH','BC','TTr'])[1 + g %% 6],
       (ARRAY['normal','normal','normal','urgent'])[1 + g %% 4],
       'normal', g %% 50 = 0,
       CASE WHEN g %% 20 = 0 THEN 'submitted' ELSE 'draft' END,
       1 + g %% 3,
       encode(sha256(convert_to(%(code)s || g, 'UTF8')), 'hex'),
       'van-ban-' || g || '.pdf', 50000 + (g * 7919) %% 5000000, 1 + g %% 30,
       g %% 5, g %% 11,
       timestamptz '2026-01-01' + g * interval '3 minutes',
       timestamptz '2026-01-01' + g * interval '3 minutes' + (g %% 97) * interval '1 minute',
       1 + g %% 3 + g %% 5 + g %% 11,
       encode(sha256(convert_to(%(code)s || g, 'UTF8')), 'hex')
FROM generate_series(1, %(n)s) AS g
"""

FILL_REVISIONS = """
INSERT INTO docmgmt.revisions_view (
    document_id, revision, blob_key, sha256, size, page_count, file_name, note, uploaded_by,
    uploaded_at)
SELECT d.id, r, 'sha256/' || left(h, 2) || '/' || h, h, d.current_size, d.current_page_count,
       d.current_file_name, CASE WHEN r > 1 THEN 'Sửa theo góp ý lần ' || (r - 1) ELSE '' END,
       d.drafted_by, d.created_at + (r - 1) * interval '10 minutes'
FROM docmgmt.documents_view d
CROSS JOIN LATERAL generate_series(1, d.revision_count) AS r
CROSS JOIN LATERAL (SELECT encode(sha256(convert_to(d.id::text || r, 'UTF8')), 'hex')) AS x(h)
"""


def fill_view(db: Database, ids: dict[str, str]) -> None:
    """Insert the documents and revisions as the owner, then VACUUM ANALYZE."""
    t0 = time.perf_counter()
    with psycopg.connect(db.owner.conninfo()) as conn:
        for code, n in SIZES.items():
            conn.execute(FILL_DOCUMENTS, {"code": code, "agency": ids[code],
                                          "user": ids[f"official_{code[-1].lower()}"], "n": n})
        conn.execute(FILL_REVISIONS)
        docs, revs = conn.execute(
            "SELECT (SELECT count(*) FROM docmgmt.documents_view),"
            " (SELECT count(*) FROM docmgmt.revisions_view)").fetchone() or (0, 0)
        conn.commit()
    filled = time.perf_counter() - t0
    with psycopg.connect(db.owner.conninfo(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE docmgmt.documents_view")
        conn.execute("VACUUM ANALYZE docmgmt.revisions_view")
    print(f"filled the view directly (SQL as owner, not through events): {docs:,} documents, "
          f"{revs:,} revisions in {filled:.1f} s; VACUUM ANALYZE "
          f"{time.perf_counter() - t0 - filled:.1f} s")


def _offsets(n: int) -> list[int]:
    return [50 * random.randrange(20) for _ in range(n)]


def http_section(base: str, ids: list[str], last: int) -> None:
    """Sequential HTTP requests as SOA's official."""
    print("HTTP (API process, sequential httpx client as official_a):")
    with login(base, "official_a") as client:
        def measure(label: str, paths: Sequence[str], check: Callable[[Any], None]) -> None:
            for p in paths[:10]:  # warm-up
                client.get(p).raise_for_status()
            lat: list[float] = []
            for p in paths:
                t0 = time.perf_counter()
                r = client.get(p)
                lat.append(time.perf_counter() - t0)
                r.raise_for_status()
                check(r.json())
            print("  " + latency_line(label, lat))

        def is_doc(body: Any) -> None:
            assert body["revisions"], body

        def is_page(body: Any) -> None:
            assert len(body["items"]) == 50, len(body["items"])
            assert body["total"] == SIZES["SOA"], body["total"]

        def is_submitted(body: Any) -> None:
            assert body["total"] == SIZES["SOA"] // 20
            assert all(d["status"] == "submitted" for d in body["items"])

        picks = random.sample(ids, REQUESTS)
        measure("GET /documents/{id}", [f"/documents/{d}" for d in picks], is_doc)
        measure("GET /documents?limit=50&offset=0..950",
                [f"/documents?limit=50&offset={o}" for o in _offsets(REQUESTS)], is_page)
        measure(f"GET /documents?limit=50&offset={DEEP}",
                [f"/documents?limit=50&offset={DEEP}"] * 100, is_page)
        measure(f"GET /documents?limit=50&offset={last} (last page)",
                [f"/documents?limit=50&offset={last}"] * 50, is_page)
        measure("GET /documents?status=submitted&limit=50&offset=0..950",
                [f"/documents?status=submitted&limit=50&offset={o}"
                 for o in _offsets(100)], is_submitted)

        r = client.get(f"/documents/{picks[0]}")
        size = len(r.content)
        r = client.get("/documents?limit=50")
        print(f"  response sizes: document {size:,} B, page of 50 {len(r.content):,} B")


def http_concurrent(base: str, bearer: str, ids: list[str], clients: int = 8,
                    total: int = 800) -> None:
    """GET /documents/{id} from several concurrent async clients."""
    per = total // clients
    lat: list[float] = []

    async def worker(k: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     headers={"Authorization": f"Bearer {bearer}"}) as c:
            for d in random.sample(ids, per):
                t0 = time.perf_counter()
                r = await c.get(f"/documents/{d}")
                lat.append(time.perf_counter() - t0)
                r.raise_for_status()

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    print(f"  GET /documents/{{id}} x{len(lat)} from {clients} concurrent clients: "
          f"{len(lat) / elapsed:,.0f} requests/s")
    print("    " + latency_line("latency", lat))


async def direct_section(db: Database, agency: UUID, ids: list[UUID], last: int) -> None:
    """ReadModelQueries on an asyncpg pool, as the application login."""
    print("Direct (ReadModelQueries on an asyncpg pool, application login, no HTTP):")
    pool = await open_read_pool(db.app, max_size=4, min_size=2)
    assert pool is not None
    q = ReadModelQueries(pool)
    try:
        picks = random.sample(ids, REQUESTS)
        await measure("get_document", [lambda d=d: q.get_document(agency, d) for d in picks])
        await measure("list_documents(limit=50, offset=0..950)", [
            lambda o=o: q.list_documents(agency, limit=50, offset=o)
            for o in _offsets(REQUESTS)])
        await measure(f"list_documents(limit=50, offset={DEEP})", [
            lambda: q.list_documents(agency, limit=50, offset=DEEP)] * 100)
        await measure(f"list_documents(limit=50, offset={last})", [
            lambda: q.list_documents(agency, limit=50, offset=last)] * 50)
        await measure("list_documents(status='submitted', offset=0..950)", [
            lambda o=o: q.list_documents(agency, limit=50, offset=o, status="submitted")
            for o in _offsets(100)])

        print("  the two statements of list_documents, apart (same SQL as the API):")
        count_sql = "SELECT count(*) FROM docmgmt.documents_view WHERE agency_id = $1"
        page_sql = (f"SELECT {DOCUMENT_COLUMNS} FROM docmgmt.documents_view"  # noqa: S608
                    " WHERE agency_id = $1 ORDER BY updated_at DESC, id DESC"
                    " LIMIT 50 OFFSET $2")
        await measure("    count(*) of the agency (every page pays this)",
                      [lambda: pool.fetchval(count_sql, agency)] * 100)
        await measure("    count(*) with status = 'submitted'", [lambda: pool.fetchval(
            count_sql + " AND status = $2", agency, "submitted")] * 50)
        await measure("    page query, offset 0",
                      [lambda: pool.fetch(page_sql, agency, 0)] * 100)
        await measure(f"    page query, offset {DEEP}",
                      [lambda: pool.fetch(page_sql, agency, DEEP)] * 100)

        # Keyset: continue after the last row of the previous page instead of OFFSET.
        cursor = await pool.fetchrow(
            "SELECT updated_at, id FROM docmgmt.documents_view WHERE agency_id = $1"
            " ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET $2", agency, DEEP - 1)
        assert cursor is not None
        seek_sql = (f"SELECT {DOCUMENT_COLUMNS} FROM docmgmt.documents_view"  # noqa: S608
                    " WHERE agency_id = $1 AND (updated_at, id) < ($2, $3)"
                    " ORDER BY updated_at DESC, id DESC LIMIT 50")
        deep = await pool.fetch(page_sql, agency, DEEP)
        seek = await pool.fetch(seek_sql, agency, cursor["updated_at"], cursor["id"])
        assert [r["id"] for r in deep] == [r["id"] for r in seek], "keyset page differs"
        await measure(f"    keyset page at the same depth as offset {DEEP}",
                      [lambda: pool.fetch(seek_sql, agency, cursor["updated_at"],
                                          cursor["id"])] * 100)
        async with pool.acquire() as conn:
            for label, sql, args in [
                ("count(*)", count_sql, (agency,)),
                (f"offset {DEEP}", page_sql, (agency, DEEP)),
                ("keyset", seek_sql, (agency, cursor["updated_at"], cursor["id"])),
                ("status page", page_sql.replace("agency_id = $1", "agency_id = $1 AND status"
                                                 " = 'submitted'"), (agency, 0)),
            ]:
                plan = [r[0].strip() for r in await conn.fetch(
                    "EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)]
                node = next((x for x in plan[1:] if "Scan" in x), plan[0])
                took = next((x for x in plan if x.startswith("Execution Time")), "")
                print(f"    plan, {label}: {node[:100]} | {took}")
    finally:
        await pool.close()


def main() -> None:
    """Set up, fill, measure, clean up."""
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    with bench_cluster() as (cluster, work), database_in(cluster) as db:
        data = work / "data"
        bootstrap_admin(db, data)
        with serve_process(server_env(db, data), work / "server-queries.log") as server:
            ids: dict[str, str] = {}
            for code in SIZES:
                ids |= make_agency_and_users(server.base, code, f"Sở {code}",
                                             [(f"official_{code[-1].lower()}", ["official"])])
            fill_view(db, ids)
            with psycopg.connect(db.owner.conninfo()) as conn:
                rows = conn.execute(
                    "SELECT id FROM docmgmt.documents_view WHERE agency_id = %s",
                    (ids["SOA"],)).fetchall()
            soa_docs = [r[0] for r in rows]
            last = (SIZES["SOA"] - 1) // 50 * 50
            # Agency scoping holds: B's official sees only B's documents, not A's.
            with login(server.base, "official_b") as b:
                assert b.get("/documents?limit=1").json()["total"] == SIZES["SOB"]
                assert b.get(f"/documents/{soa_docs[0]}").status_code == 404

            http_section(server.base, [str(d) for d in soa_docs], last)
            http_concurrent(server.base, token(server.base, "official_a"),
                            [str(d) for d in soa_docs])
            asyncio.run(direct_section(db, UUID(ids["SOA"]), soa_docs, last))


if __name__ == "__main__":
    main()
