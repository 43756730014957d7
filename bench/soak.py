"""Soak: a mixed workload at a bounded rate for a fixed time; the server's memory over time.

``docmgmt serve`` (one worker, production logging) runs as its own process on a fresh
database (embedded PostgreSQL unless DOCMGMT_TEST_DATABASE_URL is set). Seven users of two
agencies work at once, every request through one shared rate limit:

* two officials of the sending agency draft (a fresh PDF each), comment, upload revisions,
  submit, answer returns with a new revision, list, read, download and read histories;
* its leader returns one submission in four, approves and signs the rest (development
  PKI, the configured PAdES level), and reads validation reports;
* its clerk numbers, seals and dispatches each signed document to the other agency, and
  reads the outbox and recipients;
* the other agency's clerk reads the inbox, opens and downloads each copy and registers it,
  and searches;
* its official reads the inbox and posts a signed PDF to ``POST /validate``.

Every minute it prints the server's RSS (children included), threads, open files,
connections, requests done, errors, and the server log's size; at the end, the RSS slope
over the first and the second half of the run after warm-up, and a verdict.

    python -m bench.soak --minutes 60 --rate 6
    DOCMGMT_BENCH_TRACEMALLOC=/tmp/tm.txt python -m bench.soak --minutes 10
      (the server traces allocations and dumps them to that file at every sample)
    MALLOC_ARENA_MAX=2 python -m bench.soak ...   (passed on to the server)
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench._common import (
    PASSWORD,
    bench_cluster,
    bootstrap_admin,
    database_in,
    login,
    machine_line,
    serve_process,
    server_env,
)
from tests.support.pdfs import make_pdf

MiB = 2**20


class Limiter:
    """At most ``rate`` requests a second over all threads (evenly spaced slots)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller's slot."""
        with self.lock:
            now = time.monotonic()
            slot = max(self.next, now)
            self.next = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class Stats:
    """Requests done and failed, shared by the user threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.conflicts: collections.Counter[str] = collections.Counter()
        self.by_route: collections.Counter[str] = collections.Counter()
        self.latency: list[float] = []

    def record(self, route: str, seconds: float, error: str | None,
               conflict: bool = False) -> None:
        """Count one request (a 409 is a conflict between users, not an error)."""
        with self.lock:
            self.done += 1
            self.by_route[route] += 1
            self.latency.append(seconds)
            if error and conflict:
                self.conflicts[error] += 1
            elif error:
                self.errors[error] += 1


class User:
    """One signed-in user whose every request waits for the shared limiter."""

    def __init__(self, base: str, name: str, limiter: Limiter, stats: Stats) -> None:
        self.name = name
        self.client = login(base, name)
        self.limiter = limiter
        self.stats = stats

    def call(self, method: str, route: str, url: str, *, ok: tuple[int, ...] = (200, 201),
             **kwargs: Any) -> httpx.Response | None:
        """One request; None (and an error counted) unless its status is in ``ok``."""
        self.limiter.wait()
        t0 = time.perf_counter()
        try:
            r = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.record(route, time.perf_counter() - t0, f"{route}: {type(exc).__name__}")
            return None
        error = None if r.status_code in ok else f"{route}: {r.status_code} {r.text[:120]}"
        # Another user's comment can land between two steps of a chain: optimistic
        # concurrency answers 409, as it should.
        self.stats.record(route, time.perf_counter() - t0, error, r.status_code == 409)
        return r if error is None else None

    def json(self, method: str, route: str, url: str, **kwargs: Any) -> Any:
        """The JSON body of a successful request, or None."""
        r = self.call(method, route, url, **kwargs)
        return None if r is None else r.json()


class Workload:
    """The documents in flight between the users, in small bounded queues."""

    def __init__(self, users: dict[str, User], stop: threading.Event) -> None:
        self.u = users
        self.stop = stop
        self.submitted: queue.Queue[str] = queue.Queue(maxsize=4)
        self.returned: queue.Queue[str] = queue.Queue(maxsize=4)
        self.signed: queue.Queue[str] = queue.Queue(maxsize=4)
        self.known: collections.deque[str] = collections.deque(maxlen=200)
        self.signed_pdf: bytes | None = None
        self.counter = itertools.count(1)
        self.rng = random.Random(12)

    # -- the sending agency's officials
    def drafter(self, user: User) -> None:
        """Draft, comment, revise, submit; answer returns; otherwise read."""
        try:
            doc = self.returned.get_nowait()
        except queue.Empty:
            doc = None
        if doc is not None:
            self._revise(user, doc)
            self._submit(user, doc)
            return
        if self.submitted.full():
            self.reader(user)
            return
        n = next(self.counter)
        summary = f"Về việc kiểm thử tải số {n} của {user.name}"
        body = user.json("POST", "POST /documents", "/documents",
                         data={"summary": summary, "doc_type": "CV"},
                         files={"file": ("du-thao.pdf", make_pdf(1, text=summary),
                                         "application/pdf")})
        if body is None:
            return
        doc = str(body["id"])
        self.known.append(doc)
        user.call("POST", "POST comments", f"/documents/{doc}/comments",
                  json={"text": f"Góp ý lần {n}"})
        if n % 3 == 0:
            self._revise(user, doc)
        self._submit(user, doc)

    def _revise(self, user: User, doc: str) -> None:
        user.call("POST", "POST revisions", f"/documents/{doc}/revisions",
                  data={"note": "Chỉnh sửa theo góp ý"},
                  files={"file": ("sua.pdf", make_pdf(1, text=f"{doc} {time.time()}"),
                                  "application/pdf")})

    def _submit(self, user: User, doc: str) -> None:
        if user.call("POST", "POST submit", f"/documents/{doc}/submit",
                     json={"text": "Kính trình"}) is not None:
            self._put(self.submitted, doc)

    def reader(self, user: User) -> None:
        """List, read one document, download its file, read its history."""
        page = user.json("GET", "GET /documents", "/documents", params={"limit": 20})
        docs = [d["id"] for d in (page or {}).get("items", [])] or list(self.known)[-5:]
        if not docs:
            return
        doc = self.rng.choice(docs)
        user.call("GET", "GET document", f"/documents/{doc}")
        user.call("GET", "GET file", f"/documents/{doc}/file")
        user.call("GET", "GET history", f"/documents/{doc}/history")
        if self.rng.random() < 0.3:
            user.call("POST", "POST comments", f"/documents/{doc}/comments",
                      json={"text": "Đã xem"}, ok=(201, 409))

    # -- the sending agency's leader and clerk
    def leader(self, user: User) -> None:
        """Return one in four, approve and sign the others; else read a validation report."""
        doc = self._take(self.submitted)
        if doc is None:
            if self.known:
                user.call("GET", "GET validation",
                          f"/documents/{self.rng.choice(self.known)}/validation")
            return
        if self.rng.random() < 0.25:
            if user.call("POST", "POST return", f"/documents/{doc}/return",
                         json={"text": "Đề nghị chỉnh sửa"}) is not None:
                self._put(self.returned, doc)
            return
        if user.call("POST", "POST approve", f"/documents/{doc}/approve",
                     json={"text": "Đồng ý"}) is None:
            return
        if user.call("POST", "POST sign", f"/documents/{doc}/sign",
                     json={"principal_title": "Giám đốc"}) is not None:
            self._put(self.signed, doc)

    def clerk(self, user: User) -> None:
        """Number, seal and dispatch; else read the outbox."""
        doc = self._take(self.signed)
        if doc is None:
            user.call("GET", "GET outbox", "/outbox")
            return
        for step in ("number", "seal"):
            if user.call("POST", f"POST {step}", f"/documents/{doc}/{step}", json={}) is None:
                return
        user.call("POST", "POST dispatch", f"/documents/{doc}/dispatch",
                  json={"recipients": ["NHAN"], "external": []})
        user.call("GET", "GET recipients", f"/documents/{doc}/recipients")
        if self.signed_pdf is None:
            r = user.call("GET", "GET file", f"/documents/{doc}/file")
            if r is not None:
                self.signed_pdf = r.content

    # -- the receiving agency
    def receiver(self, user: User) -> None:
        """Open, download and register what arrived."""
        inbox = user.json("GET", "GET inbox", "/inbox", params={"limit": 20})
        waiting = [i["id"] for i in (inbox or {}).get("items", []) if i["status"] == "received"]
        if not waiting:
            user.call("GET", "GET search", "/search", params={"q": "kiem thu tai"})
            self._idle()
            return
        incoming = waiting[0]
        user.call("GET", "GET incoming", f"/incoming/{incoming}")
        user.call("GET", "GET incoming file", f"/incoming/{incoming}/file")
        user.call("POST", "POST register", f"/incoming/{incoming}/register", json={})

    def checker(self, user: User) -> None:
        """Read the inbox, validate a signed PDF."""
        if self.signed_pdf is not None and self.rng.random() < 0.5:
            user.call("POST", "POST /validate", "/validate",
                      files={"file": ("ky.pdf", self.signed_pdf, "application/pdf")})
        user.call("GET", "GET inbox", "/inbox", params={"limit": 20})

    # -- helpers
    def _put(self, q: queue.Queue[str], doc: str) -> None:
        while not self.stop.is_set():
            try:
                q.put(doc, timeout=1)
                return
            except queue.Full:
                continue

    def _take(self, q: queue.Queue[str]) -> str | None:
        try:
            return q.get(timeout=1)
        except queue.Empty:
            return None

    def _idle(self) -> None:
        self.stop.wait(1)


def setup(base: str) -> None:
    """Two agencies and their users, over HTTP as the admin."""
    with login(base, "root") as admin:
        agencies = {}
        for code, name in (("GUI", "Sở Kiểm thử"), ("NHAN", "Ủy ban phường Kiểm thử")):
            r = admin.post("/agencies", json={"code": code, "name": name})
            r.raise_for_status()
            agencies[code] = r.json()["id"]
        r = admin.post(f"/agencies/{agencies['GUI']}/units", json={"code": "VP", "name": "VP"})
        r.raise_for_status()
        r = admin.get("/agencies")
        r.raise_for_status()
        unit = next(u["id"] for a in r.json() if a["code"] == "GUI" for u in a["units"])
        people = {"cv1": ("GUI", unit, "official"), "cv2": ("GUI", unit, "official"),
                  "lanhdao": ("GUI", None, "leader"), "vanthu": ("GUI", None, "clerk"),
                  "vanthunhan": ("NHAN", None, "clerk"), "cvnhan": ("NHAN", None, "official")}
        for username, (agency, unit_id, role) in people.items():
            r = admin.post("/users", json={
                "username": username, "full_name": username, "password": PASSWORD,
                "roles": [role], "agency_id": agencies[agency], "unit_id": unit_id})
            r.raise_for_status()


def sample(pid: int) -> dict[str, float]:
    """RSS (MiB, children included), threads, open files and connections of the server."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    out = {"rss": 0.0, "threads": 0.0, "files": 0.0, "conns": 0.0}
    for p in procs:
        try:
            with p.oneshot():
                out["rss"] += p.memory_info().rss / MiB
                out["threads"] += p.num_threads()
                out["files"] += len(p.open_files())
                out["conns"] += len(p.net_connections(kind="inet"))
        except psutil.NoSuchProcess:
            pass
    return out


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, MiB) points, in MiB a minute."""
    if len(points) < 2:
        return float("nan")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def verdict(rows: list[tuple[float, float]], warmup: float) -> str:
    """Compare the RSS slope over the first and the second half after warm-up."""
    after = [r for r in rows if r[0] >= warmup]
    if len(after) < 4:
        return "too short for a verdict (need 4 samples after warm-up)"
    half = len(after) // 2
    first, second = slope(after[:half]), slope(after[half:])
    total = after[-1][1] - after[0][1]
    text = (f"RSS after warm-up: {after[0][1]:.0f} -> {after[-1][1]:.0f} MiB ({total:+.0f} MiB"
            f" over {after[-1][0] - after[0][0]:.0f} min); slope first half {first:+.2f} MiB/min,"
            f" second half {second:+.2f} MiB/min")
    levels = second <= 0.5 or second <= 0.25 * max(first, 0.0)
    return text + ("; verdict: LEVELS OFF" if levels else "; verdict: STILL GROWING")


def run(minutes: float, rate: float, interval: float, warmup: float,
        keep_log: Path | None) -> None:
    """Set up, run the workload, print the samples and the verdict."""
    print(machine_line(), flush=True)
    with bench_cluster() as (cluster, work), database_in(cluster) as db:
        data = work / "data"
        bootstrap_admin(db, data)
        tracing = {k: v for k, v in os.environ.items() if k == "DOCMGMT_BENCH_TRACEMALLOC"}
        env = server_env(db, data, DOCMGMT_DB_POOL_SIZE="10",
                         DOCMGMT_BENCH_PROBE=str(work / "probe.jsonl"), **tracing)
        log_path = work / "server-soak.log"
        with serve_process(env, log_path, module="bench._soak_server",
                           args=("serve",)) as server:
            setup(server.base)
            try:
                soak(server.base, server.process, log_path, work / "probe.jsonl", minutes,
                     rate, interval, warmup)
            finally:
                if keep_log is not None:
                    shutil.copyfile(log_path, keep_log)


def read_probe(pid: int, path: Path) -> dict[str, float]:
    """Ask the server for its heap figures (SIGUSR1) and read the line it appends."""
    before = path.stat().st_size if path.exists() else 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > before:
            with path.open() as fh:
                fh.seek(before)
                line = fh.readline()
            if line.endswith("\n"):
                return dict(json.loads(line))
        time.sleep(0.05)
    return {}


def soak(base: str, process: subprocess.Popen[bytes], log_path: Path, probe_path: Path,
         minutes: float, rate: float, interval: float, warmup: float) -> None:
    """The workload for ``minutes`` with a sample every ``interval`` seconds."""
    pid = process.pid
    stats, stop, limiter = Stats(), threading.Event(), Limiter(rate)
    names = {"cv1": "drafter", "cv2": "drafter", "lanhdao": "leader", "vanthu": "clerk",
             "vanthunhan": "receiver", "cvnhan": "checker"}
    users = {n: User(base, n, limiter, stats) for n in names}
    work = Workload(users, stop)
    roles: dict[str, Callable[[User], None]] = {
        "drafter": work.drafter, "leader": work.leader, "clerk": work.clerk,
        "receiver": work.receiver, "checker": work.checker}
    extra = User(base, "cv2", limiter, stats)  # a seventh user: cv2 reading on a 2nd session

    def loop(user: User, fn: Callable[[User], None]) -> None:
        while not stop.is_set():
            try:
                fn(user)
            except Exception as exc:  # a bug in the driver must not stop the others
                stats.record("driver", 0.0, f"driver: {type(exc).__name__}: {exc}")
                stop.wait(1)

    threads = [threading.Thread(target=loop, args=(users[n], roles[r]), name=n, daemon=True)
               for n, r in names.items()]
    threads.append(threading.Thread(target=loop, args=(extra, work.reader), daemon=True))
    print(f"workload: 7 users, limit {rate:g} requests/s, {minutes:g} min,"
          f" sample every {interval:g} s, warm-up {warmup:g} min; server pid {pid}", flush=True)
    print("  (heap/free: glibc malloc bytes in use / free inside its arenas, MiB;"
          " pyblk: Python's allocated blocks, gc: objects tracked by the collector, thousands)")
    print(f"{'min':>5} {'RSS MiB':>8} {'heap':>6} {'free':>6} {'pyblk':>6} {'gc':>6}"
          f" {'thr':>4} {'files':>5} {'conns':>5} {'requests':>8}"
          f" {'req/s':>6} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'log KiB':>8}", flush=True)
    t0 = time.monotonic()
    for t in threads:
        t.start()
    arenas = read_probe(pid, probe_path).get("arena_max", float("nan"))
    print(f"server's MALLOC_ARENA_MAX: {arenas:g} (docmgmt serve sets 2 unless it is set)")
    rows: list[tuple[float, float]] = []
    last_done, last_t = 0, t0
    end = t0 + minutes * 60
    nan = float("nan")
    try:
        while True:
            now = time.monotonic()
            nxt = min(end, last_t + interval)
            time.sleep(max(0.0, nxt - now))
            now = time.monotonic()
            if process.poll() is not None:
                print(f"the server exited (status {process.returncode}); see its log")
                break
            s = sample(pid)
            heap = read_probe(pid, probe_path)
            with stats.lock:
                done, errors = stats.done, sum(stats.errors.values())
                lat, stats.latency = stats.latency, []
            ms = sorted(x * 1000 for x in lat) or [float("nan")]
            minute = (now - t0) / 60
            rows.append((minute, s["rss"]))
            print(f"{minute:5.1f} {s['rss']:8.1f} {heap.get('heap_in_use', nan):6.1f}"
                  f" {heap.get('heap_free', nan):6.1f} {heap.get('py_blocks', nan) / 1000:6.0f}"
                  f" {heap.get('gc_objects', nan) / 1000:6.0f} {s['threads']:4.0f}"
                  f" {s['files']:5.0f}"
                  f" {s['conns']:5.0f} {done:8d} {(done - last_done) / (now - last_t):6.1f}"
                  f" {errors:6d} {ms[len(ms) // 2]:7.1f} {ms[int(len(ms) * 0.95)]:7.1f}"
                  f" {log_path.stat().st_size / 1024:8.0f}", flush=True)
            last_done, last_t = done, now
            if now >= end:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    elapsed = time.monotonic() - t0
    print(f"\nrequests: {stats.done} in {elapsed / 60:.1f} min"
          f" ({stats.done / elapsed:.1f}/s), errors: {sum(stats.errors.values())}")
    for route, n in sorted(stats.by_route.items(), key=lambda kv: -kv[1]):
        print(f"  {route}: {n}")
    for error, n in stats.errors.most_common(10):
        print(f"  error x{n}: {error}")
    print(f"conflicts (409, two users on one document at once): {sum(stats.conflicts.values())}")
    for error, n in stats.conflicts.most_common(5):
        print(f"  conflict x{n}: {error}")
    size = log_path.stat().st_size
    print(f"server log: {size / 1024:.0f} KiB, {size / max(stats.done, 1):.0f} bytes a request,"
          f" {size / elapsed * 86400 / MiB:.0f} MiB a day at this rate")
    print(verdict(rows, warmup))


def main() -> None:
    """Parse the arguments and run."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--rate", type=float, default=6, help="requests a second, all users")
    p.add_argument("--interval", type=float, default=60, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=3, help="minutes left out of the verdict")
    p.add_argument("--server-log", type=Path, help="keep a copy of the server's log here")
    a = p.parse_args()
    # A SIGTERM unwinds like Ctrl-C, so that the server and PostgreSQL are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run(a.minutes, a.rate, a.interval, a.warmup, a.server_log)


if __name__ == "__main__":
    main()
