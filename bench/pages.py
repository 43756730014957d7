"""Server time and weight of the main pages with 100,000 documents and 1,000,000 incoming
documents in the views.

Set-up: a fresh database; the admin, agencies SOA, SOB, SOC and their users (an official, a
leader and a clerk in SOA) are made through the API, and one real document is drafted,
approved and signed through the API (so that its page reads a real PDF and validates a real
signature). Then the view tables are filled DIRECTLY with generate_series SQL as the
database owner, as bench.queries and bench.exchange_queries do (projection tables,
rebuildable from events; no events exist for these rows): 100,000 documents for SOA (20,000
and 10,000 for SOB and SOC), and 1,000,000 incoming documents over four agencies with SOA
one of them (250,000 each; SOA's official leads about 1,000 of them). VACUUM ANALYZE follows.

Measured, each page requested sequentially over HTTP by a signed-in browser-less client
(session cookie) after a warm-up, as p50/p95 of the server's own time (the Server-Timing
header: from the request's arrival to the answer's start) and of the client's wall time:
the home page of the official, of the leader and of the clerk; the inbox (the official's
`mine` queue, the clerk's `received` queue); the outgoing list; the document page of the
real signed document, and its signatures panel (the server's PAdES validation, which the
page loads after itself). Target: p95 under 150 ms. Then the weight of each page without the
PDF: its HTML plus every stylesheet and script it loads (PDF page images excluded), target
under 200 KB.

    .venv/bin/python -m bench.pages                # 1,000,000 incoming rows
    .venv/bin/python -m bench.pages 100000         # a quicker run
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from typing import Any

import httpx
import psycopg

from bench import exchange_queries, queries
from bench._common import (
    PASSWORD,
    bench_cluster,
    bootstrap_admin,
    database_in,
    login,
    machine_line,
    make_agency_and_users,
    pct,
    serve_process,
    server_env,
)
from docmgmt.kernel.db import Database
from tests.support.pages import Pages
from tests.support.pdfs import make_pdf

REQUESTS = 200
AGENCIES_WITH_INCOMING = 4
TARGET_MS = 150.0
TARGET_KB = 200.0


def real_document(base: str) -> str:
    """One document drafted, submitted, approved and signed through the API."""
    with login(base, "official_a") as official, login(base, "leader_a") as leader:
        r = official.post("/documents", data={"summary": "Kế hoạch chuyển đổi số năm 2027"},
                          files={"file": ("ke-hoach.pdf", make_pdf(3, text="Ke hoach"),
                                          "application/pdf")})
        r.raise_for_status()
        doc = r.json()["id"]
        official.post(f"/documents/{doc}/submit", json={}).raise_for_status()
        leader.post(f"/documents/{doc}/approve", json={}).raise_for_status()
        leader.post(f"/documents/{doc}/sign", json={}).raise_for_status()
    return str(doc)


def fill_incoming(db: Database, n: int, soa: str, official: str) -> None:
    """The exchange benchmark's fill over four agencies; agency 0 becomes SOA, and one lead
    person there becomes SOA's real official."""
    exchange_queries.AGENCIES = AGENCIES_WITH_INCOMING
    exchange_queries.fill(db, n)
    with psycopg.connect(db.owner.conninfo()) as conn:
        for table in ("incoming_view", "units_view"):
            conn.execute(f"UPDATE docmgmt.{table} SET agency_id = %s"  # noqa: S608
                         " WHERE agency_id = md5('agency:0')::uuid", (soa,))
        conn.execute("UPDATE docmgmt.incoming_view SET lead_user_id = %s"
                     " WHERE lead_user_id = md5('user:0:0:1')::uuid", (official,))
        conn.commit()
    with psycopg.connect(db.owner.conninfo(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE docmgmt.incoming_view")


def timed(client: Pages, path: str) -> tuple[float, float]:
    """The server's and the client's time for one GET, in ms."""
    t0 = time.perf_counter()
    r = client.get(path)
    wall = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
    found = re.search(r"dur=([0-9.]+)", r.headers.get("server-timing", ""))
    return (float(found.group(1)) if found else float("nan")), wall


def weight(client: Pages, path: str) -> tuple[int, int]:
    """Bytes of a page's HTML and of the styles and scripts it loads (no PDF images)."""
    html = client.get(path).content
    assets = set(re.findall(rb'(?:src|href)="(/app/(?:static|vendor)/[^"]+)"', html))
    extra = sum(len(client.get(a.decode().replace("&amp;", "&")).content) for a in assets)
    return len(html), extra


def measure_pages(base: str, doc: str) -> list[tuple[str, float, float, float, float, int]]:
    """p50/p95 server and wall time and weight of each page."""
    browsers: dict[str, Pages] = {}
    for user in ("official_a", "leader_a", "clerk_a"):
        browsers[user] = Pages(base)
        r = browsers[user].sign_in(user, PASSWORD)
        if r.status_code != 303:
            raise RuntimeError(f"sign-in of {user}: {r.status_code}")
    cases = [
        ("home (official)", "official_a", "/app/"),
        ("home (leader)", "leader_a", "/app/"),
        ("home (clerk)", "clerk_a", "/app/"),
        ("inbox: mine (official)", "official_a", "/app/incoming?queue=mine"),
        ("inbox: to register (clerk)", "clerk_a", "/app/incoming?queue=received"),
        ("outgoing list", "official_a", "/app/documents"),
        ("document page (signed)", "leader_a", f"/app/documents/{doc}"),
        # Loaded by the document page after itself (htmx): the server's validation.
        ("signatures panel (signed)", "leader_a", f"/app/documents/{doc}/signatures"),
    ]
    rows = []
    for label, user, path in cases:
        client = browsers[user]
        for _ in range(10):
            timed(client, path)
        server: list[float] = []
        wall: list[float] = []
        for _ in range(REQUESTS):
            s, w = timed(client, path)
            server.append(s)
            wall.append(w)
        html, extra = weight(client, path)
        rows.append((label, statistics.median(server), pct(server, 95),
                     statistics.median(wall), pct(wall, 95), html + extra))
        print(f"  {label:<28} server p50 {rows[-1][1]:6.1f} p95 {rows[-1][2]:6.1f} ms | "
              f"wall p50 {rows[-1][3]:6.1f} p95 {rows[-1][4]:6.1f} ms | "
              f"{html / 1024:5.1f} KB HTML + {extra / 1024:5.1f} KB assets", flush=True)
    for client in browsers.values():
        client.close()
    return rows


def main() -> None:
    """Set up, fill, measure, clean up."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    with bench_cluster() as (cluster, work), database_in(cluster) as db:
        data = work / "data"
        bootstrap_admin(db, data)
        with serve_process(server_env(db, data), work / "server-pages.log") as server:
            ids: dict[str, Any] = {}
            ids |= make_agency_and_users(server.base, "SOA", "Sở A", [
                ("official_a", ["official"]), ("leader_a", ["leader"]), ("clerk_a", ["clerk"])])
            for code in ("SOB", "SOC"):
                ids |= make_agency_and_users(server.base, code, f"Sở {code}",
                                             [(f"official_{code[-1].lower()}", ["official"])])
            queries.fill_view(db, ids)  # before the real document: it fills every document
            doc = real_document(server.base)
            fill_incoming(db, n, ids["SOA"], ids["official_a"])
            with httpx.Client(base_url=server.base) as probe:
                assert probe.get("/health").status_code == 200
            print(f"pages, {REQUESTS} requests each, sequential:")
            rows = measure_pages(server.base, doc)
    worst = max(r[2] for r in rows)
    heaviest = max(r[5] for r in rows) / 1024
    print(f"worst server p95 {worst:.1f} ms (target < {TARGET_MS:.0f}): "
          f"{'met' if worst < TARGET_MS else 'NOT met'}; heaviest page {heaviest:.1f} KB "
          f"(target < {TARGET_KB:.0f}): {'met' if heaviest < TARGET_KB else 'NOT met'}")


if __name__ == "__main__":
    main()
