"""Sessions: what the per-request session check and the login throttle cost.

Set-up: a fresh database, the admin 'root' and one agency with two officials made through
the API, which runs in its own process with the default limits (10 failures per account
per 60 s, lock-out 60 s).

Measured, sequentially, each as p50/p95 latency over HTTP:
* GET /me with a valid token (JWT check, user lookup and the session-generation read that
  every authenticated request now does);
* GET /me with a token ended by a password change (401);
* a wrong password (401, one argon2 verification and the attempt's row);
* a refused attempt on a locked account (429, no password check);
* the query every authenticated request makes (the user and the session generation, one
  query) alone on an asyncpg pool (no HTTP).

    .venv/bin/python -m bench.sessions
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from uuid import UUID

import httpx

from bench._common import (
    PASSWORD,
    bench_cluster,
    bootstrap_admin,
    database_in,
    latency_line,
    login,
    machine_line,
    make_agency_and_users,
    serve_process,
    server_env,
    token,
)
from docmgmt.kernel.db import Database
from docmgmt.kernel.readpool import open_read_pool
from docmgmt.outgoing.queries import ReadModelQueries

REQUESTS = 200


def _timed(n: int, call: Callable[[], httpx.Response], status: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = call()
        out.append(time.perf_counter() - t0)
        assert r.status_code == status, r.text
    return out


async def _query_only(db: Database, user_id: UUID) -> list[float]:
    pool = await open_read_pool(db.app, max_size=1)
    try:
        queries = ReadModelQueries(pool)
        out = []
        for _ in range(REQUESTS * 5):
            t0 = time.perf_counter()
            await queries.get_user_and_session(user_id)
            out.append(time.perf_counter() - t0)
        return out
    finally:
        await pool.close()


def main() -> None:
    """Run the benchmark and print its figures."""
    print(machine_line())
    with bench_cluster() as (cluster, work), database_in(cluster) as db:
        bootstrap_admin(db, work / "data")
        with serve_process(server_env(db, work / "data"), work / "server.log") as server:
            base = server.base
            ids = make_agency_and_users(base, "SOA", "Sở A",
                                        [("official_a", ["official"]),
                                         ("official_b", ["official"])])
            with login(base, "official_a") as official, httpx.Client(base_url=base) as anon:
                for _ in range(10):
                    official.get("/me")
                valid = _timed(REQUESTS, lambda: official.get("/me"), 200)
                ended = token(base, "official_a")
                official.put(f"/users/{ids['official_a']}/password",
                             json={"password": "a-new-long-password"}).raise_for_status()
                dead = _timed(REQUESTS, lambda: anon.get(
                    "/me", headers={"Authorization": f"Bearer {ended}"}), 401)

                def wrong() -> httpx.Response:
                    return anon.post("/auth/token", data={"username": "official_b",
                                                          "password": PASSWORD + "x"})

                failures = _timed(10, wrong, 401)
                refused = _timed(REQUESTS, wrong, 429)
            query = asyncio.run(_query_only(db, UUID(ids["official_a"])))
    print("  " + latency_line("GET /me, valid token", valid))
    print("  " + latency_line("GET /me, token ended by a password change (401)", dead))
    print("  " + latency_line("wrong password (401)", failures))
    print("  " + latency_line("locked account (429)", refused))
    print("  " + latency_line("user and session-generation query alone (asyncpg)", query))


if __name__ == "__main__":
    main()
