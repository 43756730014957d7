"""Events appended per second, through the application and through the HTTP API.

What it measures (on a fresh database of a real PostgreSQL, embedded pgserver unless
DOCMGMT_TEST_DATABASE_URL is set):

(a) The application (``DocMgmt``) called directly, no projection running while writing:
    * ``register_agency`` N=2000 (new aggregate each: existence check + one event),
    * ``comment`` N=2000 on 200 existing drafts (load the aggregate, one event),
    * the ``comment`` step (``docmgmt.outgoing.drafting``) N=2000, as the API calls it (one load),
    * both again from 4 threads at once (each thread on its own aggregates, so no conflicts),
    * ``get_document`` alone (the aggregate load a comment starts with),
    * 1000 comments on ONE document (no snapshots: each command replays every event),
    * the read-model projection catching up on everything written above.
(b) The API over HTTP, server in its own process (uvicorn, as deployed), as an official:
    ``POST /documents/{id}/comments`` sequentially (one client) and from 4 and 8 concurrent
    httpx clients (asyncio, each on its own documents). Each answer waits for the read
    model to have the event (read-your-writes), so this is the end-to-end rate. CPU used
    per request by the server process, PostgreSQL and the benchmark client is printed too.
    Then one sequential client on httpx's synchronous ``Client`` and one on the standard
    library's ``http.client``: per request, httpx's ``AsyncClient`` costs about 1.1 ms of
    client CPU on a quiet machine (2 ms under load), its ``Client`` 0.55 ms, ``http.client``
    0.15 ms, on the cores the server shares.

(c) The ratio, in one window: with the server of (b) still up, batches of the application's
    sequential ``comment`` (on its own database, no projection) alternate with batches of
    sequential ``POST /documents/{id}/comments`` from the three clients, so that
    the load others put on the machine weighs on all alike; both sides comment on fresh
    drafts, two comments per draft per round, so that their loads replay as many events.
    Each round's ratio (API over the application's batch just before it) is printed, and
    their median last, with the ratio of the medians beside it: the machine's speed drifts
    between rounds, and a round's two sides share its state. Target: ratio >= 0.3 (one
    worker process, read-your-writes kept).

Prints events/s and p50/p95 latency for each. Takes about 3 minutes on a 2-core machine.

    .venv/bin/python -m bench.events [--http-n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import httpx

from bench._common import (
    CpuMeter,
    bench_cluster,
    bootstrap_admin,
    database_in,
    in_threads,
    latency_line,
    login,
    machine_line,
    make_agency_and_users,
    postmaster_pid,
    serve_process,
    server_env,
    token,
)
from docmgmt.bootstrap import build_write_side
from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Role, Urgency
from docmgmt.identity.agencies import register_agency
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt
from docmgmt.outgoing import drafting
from docmgmt.outgoing.views import start_read_model
from docmgmt.settings import Settings
from tests.support import outgoing as outgoing_store
from tests.support.identity import admin_acting_as
from tests.support.pdfs import make_pdf
from tests.support.server import settings_for

N = 2000
DOCS = 200
THREADS = 4
HOT_COMMENTS = 1000
HTTP_DOCS = 64
HTTP_N = 1000
PAIRED_ROUNDS = 7
PAIRED_APP_N = 400
PAIRED_HTTP_N = 150
PAIRED_CLIENTS = 3  # httpx's AsyncClient, httpx's Client, http.client
# Fresh drafts for (c)'s API rounds, as many per comment as the application's side has
# (each round: 400 comments on 200 drafts there, 3 x 150 on 225 here), so that both sides
# load documents of the same length (a load replays every event since the last snapshot).
PAIRED_HTTP_DOCS = DOCS * PAIRED_CLIENTS * PAIRED_HTTP_N // PAIRED_APP_N
ACTOR = Actor(uuid.uuid5(uuid.NAMESPACE_DNS, "bench"), "bench", "127.0.0.1", "bench", "")
ADMIN = admin_acting_as(ACTOR)


def _rate(label: str, events: int, elapsed: float, latencies: Sequence[float]) -> None:
    print(f"  {label}: {events} events in {elapsed:.2f} s = {events / elapsed:,.0f} events/s")
    print("    " + latency_line("latency", latencies))


def _timed(fn: Callable[[], object], into: list[float]) -> None:
    t0 = time.perf_counter()
    fn()
    into.append(time.perf_counter() - t0)


def _fake_file(i: int) -> FileRef:
    # The application never opens the blob, so a made-up reference is enough here.
    sha = uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex * 2
    return FileRef(key=f"sha256/{sha[:2]}/{sha}", sha256=sha, size=1234, page_count=1,
                   file_name=f"doc-{i}.pdf")


def _draft(app: DocMgmt, agency_id: UUID, i: int) -> UUID:
    return outgoing_store.draft(
        app, agency_id=agency_id, unit_id=None, summary=f"Văn bản thử {i}",
        doc_type=DocumentType.CONG_VAN, urgency=Urgency.NORMAL,
        confidentiality=Confidentiality.NORMAL, legal_normative=False,
        file=_fake_file(i), actor=ACTOR,
    ).id


@contextlib.contextmanager
def app_comment_batches(settings: Settings) -> Iterator[Callable[[int], float]]:
    """A function that runs ``n`` sequential ``comment`` commands in the application (on
    ``DOCS`` fresh drafts) and returns their rate; for part (c)."""
    write = build_write_side(settings)
    try:
        app = write.app
        agency_id = register_agency(app, ADMIN, "PAIRED", "Cơ quan so sánh", None).id
        docs = [_draft(app, agency_id, i) for i in range(DOCS)]
        done = 0

        def batch(n: int) -> float:
            nonlocal done
            t0 = time.perf_counter()
            for i in range(done, done + n):
                outgoing_store.comment(app, docs[i % DOCS], f"P {i}", ACTOR)
            done += n
            return n / (time.perf_counter() - t0)

        yield batch
    finally:
        write.close()


def bench_application(settings: Settings) -> float:
    """Part (a): commands on DocMgmt directly; the sequential ``comment`` rate."""
    print(f"(a) application (DocMgmt on PostgreSQL, pool {settings.db_pool_size}, "
          "no projection while writing)")
    write = build_write_side(settings)
    app = write.app
    try:
        agency_id = register_agency(app, ADMIN, "BENCH", "Cơ quan thử", None).id

        lat: list[float] = []
        drafted: list[UUID] = []
        t0 = time.perf_counter()
        for i in range(2 * DOCS):
            _timed(lambda i=i: drafted.append(_draft(app, agency_id, i)), lat)
        _rate(f"draft_document x{2 * DOCS} (sequential)", 2 * DOCS, time.perf_counter() - t0,
              lat)
        doc_ids, service_docs = drafted[:DOCS], drafted[DOCS:]

        lat = []
        t0 = time.perf_counter()
        for i in range(N):
            _timed(lambda i=i: register_agency(app, ADMIN, f"AG{i:05d}", f"Agency {i}", None), lat)
        _rate(f"register_agency x{N} (sequential)", N, time.perf_counter() - t0, lat)

        lat = []
        t0 = time.perf_counter()
        for i in range(N):
            doc = doc_ids[i % DOCS]
            _timed(lambda doc=doc, i=i: outgoing_store.comment(app, doc, f"Góp ý {i}", ACTOR), lat)
        comment_rate = N / (time.perf_counter() - t0)
        _rate(f"comment x{N} on {DOCS} docs (sequential)", N, time.perf_counter() - t0, lat)

        # The same through the step the API calls: it checks the caller's agency on the one
        # load it makes.
        who = Principal(ACTOR.user_id, ACTOR.username, agency_id, None,
                        frozenset({Role.OFFICIAL}))
        lat = []
        t0 = time.perf_counter()
        for i in range(N):
            doc = service_docs[i % DOCS]
            _timed(lambda doc=doc, i=i: drafting.comment(write.outgoing, who, doc, f"S {i}",
                                                         None), lat)
        _rate(f"outgoing.drafting.comment x{N} on {DOCS} other docs (sequential)", N,
              time.perf_counter() - t0, lat)

        lat = []
        t0 = time.perf_counter()
        for i in range(N):
            _timed(lambda i=i: app.get_document(doc_ids[i % DOCS]), lat)
        print(f"  get_document x{N} (load only, aggregates of ~11 events): "
              f"{N / (time.perf_counter() - t0):,.0f} loads/s")
        print("    " + latency_line("latency", lat))

        # Concurrent: each thread on its own slice, so no optimistic-concurrency conflicts.
        per = N // THREADS

        def agencies(k: int) -> Callable[[list[float]], None]:
            def work(out: list[float]) -> None:
                for i in range(per):
                    _timed(lambda i=i: register_agency(
                        app, ADMIN, f"T{k}A{i:05d}", f"Agency {k}/{i}", None), out)
            return work

        elapsed, lat = in_threads([agencies(k) for k in range(THREADS)])
        _rate(f"register_agency x{per * THREADS} ({THREADS} threads)", per * THREADS,
              elapsed, lat)

        def comments(k: int) -> Callable[[list[float]], None]:
            mine = doc_ids[k::THREADS]

            def work(out: list[float]) -> None:
                for i in range(per):
                    doc = mine[i % len(mine)]
                    _timed(lambda doc=doc, i=i: outgoing_store.comment(
                        app, doc, f"T{k} {i}", ACTOR), out)
            return work

        elapsed, lat = in_threads([comments(k) for k in range(THREADS)])
        _rate(f"comment x{per * THREADS} ({THREADS} threads, own docs each)", per * THREADS,
              elapsed, lat)

        # One document, ever longer: without snapshots every command replays all events.
        hot = _draft(app, agency_id, DOCS)
        lat = []
        t0 = time.perf_counter()
        for i in range(HOT_COMMENTS):
            _timed(lambda i=i: outgoing_store.comment(app, hot, f"Hot {i}", ACTOR), lat)
        _rate(f"comment x{HOT_COMMENTS} on ONE document", HOT_COMMENTS,
              time.perf_counter() - t0, lat)
        print("    " + latency_line("first 100 (1-100 events to replay)", lat[:100]))
        print("    " + latency_line(f"last 100 ({HOT_COMMENTS - 99}-{HOT_COMMENTS} events)",
                                    lat[-100:]))
        lat = []
        for _ in range(50):
            _timed(lambda: app.get_document(hot), lat)
        print("    " + latency_line(f"get_document of that {HOT_COMMENTS + 1}-event document",
                                    lat))

        # The projection: how fast the read model absorbs what was written.
        head = app.recorder.max_notification_id() or 0
        t0 = time.perf_counter()
        with start_read_model(write.es_env) as runner:
            caught_up = runner.view.wait_for(head, timeout=600)
            elapsed = time.perf_counter() - t0
        state = "caught up" if caught_up else "DID NOT catch up in 600 s"
        print(f"  read-model projection: {head} events {state} in {elapsed:.2f} s = "
              f"{head / elapsed:,.0f} events/s (incl. runner start-up)")
    finally:
        write.close()
    return comment_rate


async def _comment_loop(
    base: str, bearer: str, docs: Sequence[str], n: int, tag: str, out: list[float],
    failures: list[str],
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 headers={"Authorization": f"Bearer {bearer}"}) as client:
        for i in range(n):
            doc = docs[i % len(docs)]
            t0 = time.perf_counter()
            r = await client.post(f"/documents/{doc}/comments", json={"text": f"{tag} {i}"})
            out.append(time.perf_counter() - t0)
            if r.status_code != 201:
                failures.append(f"{r.status_code} {r.text[:200]}")


def _http_draft(client: httpx.Client, i: int) -> str:
    pdf = make_pdf(1, text=f"bench {i}")
    r = client.post("/documents", data={"summary": f"Văn bản {i}"},
                    files={"file": (f"d{i}.pdf", pdf, "application/pdf")})
    r.raise_for_status()
    return str(r.json()["id"])


def _sequential(n: int, post: Callable[[int], tuple[int, str]]
                ) -> tuple[float, list[float], list[str]]:
    """``n`` sequential comments sent by ``post(i)`` (status and body of its answer): the
    time they took, each one's latency, and the answers that were not 201."""
    out: list[float] = []
    failures: list[str] = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        status, body = post(i)
        out.append(time.perf_counter() - s)
        if status != 201:
            failures.append(f"{status} {body[:200]}")
    return time.perf_counter() - t0, out, failures


def _sync_round(base: str, bearer: str, docs: Sequence[str], n: int,
                tag: str = "sync") -> tuple[float, list[float], list[str]]:
    """Sequential comments from httpx's synchronous ``Client``, as a script that writes one
    comment after another would send them: about half the client CPU of its
    ``AsyncClient`` under ``asyncio.run``."""
    with httpx.Client(base_url=base, timeout=60,
                      headers={"Authorization": f"Bearer {bearer}"}) as client:

        def post(i: int) -> tuple[int, str]:
            r = client.post(f"/documents/{docs[i % len(docs)]}/comments",
                            json={"text": f"{tag} {i}"})
            return r.status_code, r.text

        return _sequential(n, post)


def _light_round(base: str, bearer: str, docs: Sequence[str], n: int,
                 tag: str = "light") -> tuple[float, list[float], list[str]]:
    """Sequential comments from the standard library's ``http.client`` on one keep-alive
    connection: about 0.4 ms of client CPU per request against httpx's 2 ms, which on two
    shared cores sits on the same serial path as the server's work."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}

    def post(i: int) -> tuple[int, str]:
        conn.request("POST", f"/documents/{docs[i % len(docs)]}/comments",
                     body=json.dumps({"text": f"{tag} {i}"}).encode(), headers=headers)
        response = conn.getresponse()
        return response.status, repr(response.read()[:200])

    try:
        return _sequential(n, post)
    finally:
        conn.close()


def _floor(base: str, bearer: str, n: int) -> tuple[float, list[float]]:
    """Sequential ``GET /me``: what an authenticated round trip costs that writes nothing
    and waits for no view (the floor under any write through the API)."""
    out: list[float] = []

    async def main() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     headers={"Authorization": f"Bearer {bearer}"}) as client:
            for _ in range(n):
                t0 = time.perf_counter()
                r = await client.get("/me")
                out.append(time.perf_counter() - t0)
                r.raise_for_status()

    t0 = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - t0, out


def _http_round(base: str, tokens: Sequence[str], docs: Sequence[str], clients: int,
                total: int) -> tuple[float, list[float], list[str]]:
    per = total // clients
    lat: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []

    async def main() -> None:
        await asyncio.gather(*(
            _comment_loop(base, tokens[k % len(tokens)], docs[k::clients], per, f"c{k}",
                          lat[k], failures)
            for k in range(clients)
        ))

    t0 = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - t0, [x for xs in lat for x in xs], failures


def bench_http(
    db_settings: Settings, db_env: dict[str, str], work: Path, pg_pid: int | None,
    app_batch: Callable[[int], float], http_n: int = HTTP_N,
) -> Paired:
    """Parts (b) and (c): POST /documents/{id}/comments over HTTP, then alternating with
    the application's ``comment``; the paired sequential rates, and the rate of the
    ``GET /me`` floor."""
    print(f"(b) HTTP API (uvicorn in its own process, pool {db_settings.db_pool_size}, "
          "projection in the server, read-your-writes wait before each answer)")
    with serve_process(db_env, work / "server-events.log") as server:
        users = [(f"official_{k}", ["official"]) for k in range(8)]
        make_agency_and_users(server.base, "SOA", "Sở A", users)
        tokens = [token(server.base, u) for u, _ in users]

        with login(server.base, "official_0") as official:
            lat: list[float] = []
            docs: list[str] = []
            t0 = time.perf_counter()
            for i in range(HTTP_DOCS):
                pdf = make_pdf(1, text=f"bench {i}")
                s = time.perf_counter()
                r = official.post("/documents", data={"summary": f"Văn bản {i}"},
                                  files={"file": (f"d{i}.pdf", pdf, "application/pdf")})
                lat.append(time.perf_counter() - s)
                r.raise_for_status()
                docs.append(r.json()["id"])
            _rate(f"POST /documents (draft, 1-page PDF) x{HTTP_DOCS}", HTTP_DOCS,
                  time.perf_counter() - t0, lat)
            for i in range(20):  # warm-up
                official.post(f"/documents/{docs[i]}/comments", json={"text": "warm"})

        rates: dict[int, float] = {}
        server_cpu, pg_cpu, client_cpu = CpuMeter(server.pid), CpuMeter(pg_pid), CpuMeter(
            os.getpid(), children=False)
        for clients in (1, 4, 8):
            for meter in (server_cpu, pg_cpu, client_cpu):
                meter.start()
            elapsed, lat, failures = _http_round(server.base, tokens, docs, clients, http_n)
            label = "sequential, 1 client" if clients == 1 else f"{clients} concurrent clients"
            _rate(f"POST comments x{len(lat)} ({label})", len(lat) - len(failures), elapsed, lat)
            n = len(lat)
            rates[clients] = (n - len(failures)) / elapsed
            print(f"    CPU per request: server {server_cpu.used() / n * 1000:.1f} ms, "
                  f"PostgreSQL {pg_cpu.used() / n * 1000:.1f} ms, "
                  f"benchmark client {client_cpu.used() / n * 1000:.1f} ms")
            if failures:
                print(f"    FAILED: {len(failures)} requests, e.g. {failures[0]}")

        for label, sequential in (("httpx's Client", _sync_round),
                                  ("http.client", _light_round)):
            for meter in (server_cpu, pg_cpu, client_cpu):
                meter.start()
            elapsed, lat, failures = sequential(server.base, tokens[0], docs, http_n)
            n = len(lat)
            _rate(f"POST comments x{n} (sequential, 1 client on {label})",
                  n - len(failures), elapsed, lat)
            print(f"    CPU per request: server {server_cpu.used() / n * 1000:.1f} ms, "
                  f"PostgreSQL {pg_cpu.used() / n * 1000:.1f} ms, "
                  f"benchmark client {client_cpu.used() / n * 1000:.1f} ms")
            if failures:
                print(f"    FAILED: {len(failures)} requests, e.g. {failures[0]}")

        server_cpu.start()
        elapsed, lat = _floor(server.base, tokens[0], PAIRED_HTTP_N * 2)
        floor = len(lat) / elapsed
        print(f"  GET /me x{len(lat)} (sequential, the floor: authentication, no write): "
              f"{floor:,.0f} requests/s")
        print("    " + latency_line("latency", lat)
              + f"; server CPU {server_cpu.used() / len(lat) * 1000:.1f} ms per request")

        with login(server.base, "official_0") as official:
            paired_docs = [_http_draft(official, i) for i in range(PAIRED_HTTP_DOCS)]
        print(f"(c) paired: {PAIRED_ROUNDS} rounds of comment x{PAIRED_APP_N} "
              f"(application, {DOCS} fresh drafts) then POST comments x{PAIRED_HTTP_N} "
              f"from each of httpx's AsyncClient, its Client and http.client (API, 1 client, "
              f"{PAIRED_HTTP_DOCS} fresh drafts)")
        api_rates: list[float] = []
        sync_rates: list[float] = []
        light_rates: list[float] = []
        app_rates: list[float] = []
        paired_failures = 0
        for _ in range(PAIRED_ROUNDS):
            app_rates.append(app_batch(PAIRED_APP_N))
            elapsed, lat, failures = _http_round(server.base, tokens, paired_docs, 1,
                                                 PAIRED_HTTP_N)
            api_rates.append((len(lat) - len(failures)) / elapsed)
            paired_failures += len(failures)
            for sequential, rates_of in ((_sync_round, sync_rates),
                                         (_light_round, light_rates)):
                elapsed, lat, failures = sequential(server.base, tokens[0], paired_docs,
                                                    PAIRED_HTTP_N)
                rates_of.append((len(lat) - len(failures)) / elapsed)
                paired_failures += len(failures)
        print("  application comment, events/s:         "
              + ", ".join(f"{r:,.0f}" for r in app_rates))
        print("  POST comments (httpx), events/s:       "
              + ", ".join(f"{r:,.0f}" for r in api_rates))
        print("  POST comments (httpx Client), events/s: "
              + ", ".join(f"{r:,.0f}" for r in sync_rates))
        print("  POST comments (http.client), events/s: "
              + ", ".join(f"{r:,.0f}" for r in light_rates))
        paired = Paired(api_rates, sync_rates, light_rates, app_rates, floor)
        print("  each round's ratio, httpx:              "
              + ", ".join(f"{r:.2f}" for r in paired.rounds(api_rates)))
        print("  each round's ratio, httpx Client:       "
              + ", ".join(f"{r:.2f}" for r in paired.rounds(sync_rates)))
        print("  each round's ratio, http.client:        "
              + ", ".join(f"{r:.2f}" for r in paired.rounds(light_rates)))
        if paired_failures:
            print(f"    FAILED: {paired_failures} requests")

        # Every comment must be visible in the read model (read-your-writes held).
        with login(server.base, "official_0") as official:
            counted = sum(official.get(f"/documents/{d}").json()["comment_count"]
                          for d in docs + paired_docs)
        expected = (20 + http_n // 1 + (http_n // 4) * 4 + (http_n // 8) * 8 + 2 * http_n
                    + PAIRED_ROUNDS * PAIRED_HTTP_N * PAIRED_CLIENTS)
        print(f"  read model check: comment_count sum {counted}, expected {expected}")
    return paired


@dataclass(frozen=True)
class Paired:
    """Part (c)'s rounds: each round's API rates (httpx's AsyncClient, its Client,
    http.client) and the application's rate measured just before them; and the ``GET /me``
    floor."""

    api: list[float]
    sync: list[float]
    light: list[float]
    app: list[float]
    floor: float

    def rounds(self, rates: list[float]) -> list[float]:
        """Each round's own ratio of ``rates`` to the application's: a round's two sides
        share the machine's state at that moment, which drifts by a fifth between rounds
        on a shared machine."""
        return [a / b for a, b in zip(rates, self.app, strict=True)]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios, httpx."""
        return statistics.median(self.rounds(self.api))

    @property
    def sync_ratio(self) -> float:
        """The median of the rounds' ratios, httpx's synchronous Client."""
        return statistics.median(self.rounds(self.sync))

    @property
    def light_ratio(self) -> float:
        """The median of the rounds' ratios, http.client."""
        return statistics.median(self.rounds(self.light))


def main() -> None:
    """Run (a), then (b) and (c) with the application beside the server; print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http-n", type=int, default=HTTP_N,
                        help=f"comments per HTTP round (default {HTTP_N})")
    args = parser.parse_args()
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    with bench_cluster() as (cluster, work), database_in(cluster) as db_a:
        app_settings = settings_for(db_a, work / "data-a", db_pool_size=THREADS + 4)
        app_rate = bench_application(app_settings)
        print()
        with database_in(cluster) as db, app_comment_batches(app_settings) as app_batch:
            data = work / "data-b"
            bootstrap_admin(db, data)
            settings = settings_for(db, data, db_pool_size=10)
            paired = bench_http(
                settings, server_env(db, data, DOCMGMT_DB_POOL_SIZE="10"), work,
                postmaster_pid(cluster), app_batch, args.http_n)
    api_median, light_median = statistics.median(paired.api), statistics.median(paired.light)
    sync_median = statistics.median(paired.sync)
    app_median = statistics.median(paired.app)
    print()
    print(f"comment, sequential, {PAIRED_ROUNDS} paired batches: "
          f"POST /documents/{{id}}/comments {api_median:,.0f} events/s (median; API, one "
          f"worker process, read-your-writes) vs comment {app_median:,.0f} events/s "
          f"(application): ratio {paired.ratio:.2f}, the median of the rounds' ratios "
          f"(target >= 0.3; the ratio of the medians {api_median / app_median:.2f}; against "
          f"part (a)'s {app_rate:,.0f}/s: {api_median / app_rate:.2f})")
    print(f"  the same with httpx's synchronous Client (half the client CPU of its "
          f"AsyncClient, on the cores the server uses): {sync_median:,.0f} events/s, ratio "
          f"{paired.sync_ratio:.2f} (of the medians {sync_median / app_median:.2f})")
    print(f"  the same with the http.client client (0.15-0.4 ms of client CPU per request, "
          f"on the cores the server uses): {light_median:,.0f} "
          f"events/s, ratio {paired.light_ratio:.2f} (of the medians "
          f"{light_median / app_median:.2f})")
    print(f"  the floor, GET /me (no write, no wait), {paired.floor:,.0f} requests/s, would "
          f"be {paired.floor / app_median:.2f} of the application's median")
    print("load average after the run: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
