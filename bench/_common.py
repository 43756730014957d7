"""Shared set-up for the benchmarks: a fresh database, the API in its own process, users."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from docmgmt.bootstrap import build_write_side
from docmgmt.identity import users
from docmgmt.kernel import migrations
from docmgmt.kernel.db import Database
from tests.support.pg import Cluster, running_cluster
from tests.support.server import free_port, settings_for

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"

logging.getLogger("alembic").setLevel(logging.WARNING)
logging.getLogger("pgserver").setLevel(logging.WARNING)


def _stable_runtime_dir() -> None:
    # pgserver keeps an inter-process lock file under XDG_RUNTIME_DIR, which
    # docmgmt.kernel.db._start_embedded points into the cluster's (temporary) folder when unset;
    # the lock file is re-created there at exit, leaving an empty folder per run. One
    # stable private folder instead.
    path = Path(tempfile.gettempdir()) / f"docmgmt-bench-runtime-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(path))


@contextlib.contextmanager
def bench_cluster() -> Iterator[tuple[Cluster, Path]]:
    """Embedded PostgreSQL (or DOCMGMT_TEST_DATABASE_URL) and a private scratch folder.

    Both are removed afterwards (the embedded server is stopped).
    """
    _stable_runtime_dir()
    with tempfile.TemporaryDirectory(prefix="docmgmt-bench-") as tmp:
        work = Path(tmp)
        with running_cluster(work) as cluster:
            yield cluster, work


@contextlib.contextmanager
def database_in(cluster: Cluster) -> Iterator[Database]:
    """A fresh migrated database, dropped afterwards."""
    db = cluster.new_database()
    try:
        # The template is migrated when the cluster starts; catch up with any migration
        # added since (a no-op otherwise).
        migrations.upgrade(db)
        yield db
    finally:
        cluster.drop_database(db)


@contextlib.contextmanager
def fresh_database() -> Iterator[tuple[Database, Path]]:
    """One fresh migrated database on its own cluster, and a scratch folder."""
    with bench_cluster() as (cluster, work), database_in(cluster) as db:
        yield db, work


def bootstrap_admin(db: Database, data_dir: Path) -> None:
    """Create the first agency and the admin 'root' the way the CLI does."""
    write = build_write_side(settings_for(db, data_dir))
    try:
        users.bootstrap_admin(write.identity, "root", PASSWORD, "Quản trị viên", "ADMIN",
                              "Quản trị")
    finally:
        write.close()


def server_env(db: Database, data_dir: Path, **extra: str) -> dict[str, str]:
    """DOCMGMT_* variables for a server process on this database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCMGMT_")}
    env.update({
        "DOCMGMT_DATABASE_URL": db.app.url(),
        "DOCMGMT_MIGRATION_DATABASE_URL": db.owner.url(),
        "DOCMGMT_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(REPO),
    })
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    """The API running as a separate OS process."""

    base: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid


@contextlib.contextmanager
def serve_process(
    env: dict[str, str], log_path: Path, module: str = "bench._serve_subprocess",
    args: Sequence[str] = (),
) -> Iterator[ServerProcess]:
    """Start ``python -m bench._serve_subprocess`` and stop it (by its pid) afterwards.

    ``module`` and ``args`` name another entry point, e.g. ``api.cli`` with
    ``("serve", "--workers", "2")``; ``--port`` is appended.
    """
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--port", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the API server did not start:\n{log_path.read_text(errors='replace')}"
                    )
                time.sleep(0.1)
            yield ServerProcess(base, proc)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def login(base: str, username: str, password: str = PASSWORD, **kwargs: Any) -> httpx.Client:
    """A synchronous client holding a bearer token for ``username``."""
    kwargs.setdefault("timeout", 120)
    client = httpx.Client(base_url=base, **kwargs)
    client.headers["Authorization"] = f"Bearer {token(base, username, password)}"
    return client


def token(base: str, username: str, password: str = PASSWORD) -> str:
    """A bearer token for ``username``."""
    r = httpx.post(base + "/auth/token", data={"username": username, "password": password},
                   timeout=60)
    r.raise_for_status()
    return str(r.json()["access_token"])


def make_agency_and_users(
    base: str, code: str, name: str, users: Sequence[tuple[str, Sequence[str]]]
) -> dict[str, str]:
    """Over HTTP as the admin: one agency and its users. Returns ids by code/username."""
    ids: dict[str, str] = {}
    with login(base, "root") as admin:
        r = admin.post("/agencies", json={"code": code, "name": name})
        r.raise_for_status()
        ids[code] = r.json()["id"]
        for username, roles in users:
            r = admin.post("/users", json={
                "username": username, "full_name": username.replace("_", " ").title(),
                "password": PASSWORD, "roles": list(roles), "agency_id": ids[code],
            })
            r.raise_for_status()
            ids[username] = r.json()["id"]
    return ids


def in_threads(work: Sequence[Callable[[list[float]], None]]) -> tuple[float, list[float]]:
    """Run each callable in its own thread, all released together; the wall time from
    their release to the last one's end, and every latency each appended to its list (the
    first exception any raised is raised here)."""
    results: list[list[float]] = [[] for _ in work]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(work) + 1)

    def run(fn: Callable[[list[float]], None], out: list[float]) -> None:
        barrier.wait()
        try:
            fn(out)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn, out))
               for fn, out in zip(work, results, strict=True)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return elapsed, [x for r in results for x in r]


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank, p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def measure(label: str, calls: Sequence[Callable[[], Awaitable[Any]]]) -> None:
    """Warm up on the first ten, then time every call one after another; print the line."""
    for c in calls[:10]:
        await c()
    lat: list[float] = []
    for c in calls:
        t0 = time.perf_counter()
        await c()
        lat.append(time.perf_counter() - t0)
    print("  " + latency_line(label, lat))


def latency_line(label: str, seconds: Sequence[float]) -> str:
    """``label: n=…, p50=… ms, p95=… ms, max=… ms`` for latencies given in seconds."""
    ms = [s * 1000 for s in seconds]
    return (f"{label}: n={len(ms)}, p50={pct(ms, 50):.2f} ms, p95={pct(ms, 95):.2f} ms,"
            f" mean={statistics.fmean(ms):.2f} ms, max={max(ms):.2f} ms")


def machine_line() -> str:
    """One line describing the machine the figures come from."""
    import platform

    import psutil

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"machine: {psutil.cpu_count(logical=True)} CPUs, "
            f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
            f"load average before the run {load} (other work on the machine skews figures)")


class CpuMeter:
    """CPU seconds used by a process and its children (approximate: exited children drop out)."""

    def __init__(self, pid: int | None, *, children: bool = True) -> None:
        import psutil

        self._psutil = psutil
        self.pid = pid
        self.children = children
        self._start: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        psutil = self._psutil
        if self.pid is None:
            return {}
        out: dict[int, float] = {}
        try:
            root = psutil.Process(self.pid)
            procs = [root, *(root.children(recursive=True) if self.children else [])]
        except psutil.NoSuchProcess:
            return out
        for p in procs:
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return out

    def start(self) -> None:
        """Remember the current CPU times."""
        self._start = self._sample()

    def used(self) -> float:
        """CPU seconds since start()."""
        now = self._sample()
        return sum(v - self._start.get(pid, 0.0) for pid, v in now.items())


def postmaster_pid(cluster: Cluster) -> int | None:
    """The embedded PostgreSQL's postmaster pid (None for an external server)."""
    server = cluster.server
    if server is None:
        return None
    return int(server.get_postmaster_info().pid)  # type: ignore[attr-defined]
