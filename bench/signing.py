"""Signatures per second at each PAdES level through the API, against plain pyHanko.

What it measures (embedded PostgreSQL unless DOCMGMT_TEST_DATABASE_URL is set; the
development PKI with its in-process time-stamp authority, as the embedded default uses):

1. ``POST /documents/{id}/sign`` end to end over HTTP, one request at a time, at B-B, B-T,
   B-LT and B-LTA, each level on a fresh database with the API served by
   ``tests.support.server.serve`` (uvicorn in a thread of this process, so that the steps
   inside the server can be timed). N approved one-page drafts are made first (upload,
   submit, approve over HTTP; untimed), plus two warm-up signatures (the first makes the
   development PKI). A signature request includes: load the document and check access,
   read the approved blob and verify its sha256, add the number/date/leader/seal fields,
   the appearance (Noto Serif subset, signature image; drawn once per process for the
   same signer, text and box, then copied into each PDF), validate the signer's
   certificate, sign with pyHanko at the level, validate the signed result, store the
   blob, record the Signed event, wait for the read model. Prints sig/s, p50/p95, CPU.
2. The baseline: pyHanko's plain ``pyhanko.sign.signers.sign_pdf`` at B-B on the same
   one-page PDF, with ``SimpleSigner.load_pkcs12`` on every call, using the leader's
   development PKCS#12 file (``issue_user_cert``, the very key the API signed with), in a
   fresh interpreter (``bench._plain_pyhanko``) where none of docmgmt's library overrides
   is installed; then the same in this process, with them, for the record. Prints sig/s
   and the ratio API B-B / plain pyHanko (target >= 1.5x).
2b. API B-B as deployed with several workers: ``docmgmt serve --workers 2`` (uvicorn worker
   processes plus one projection process) in a process of its own on a fresh database, 4
   clients signing at once. Prints sig/s, latency, the server processes' CPU per signature,
   and its own ratio to the same plain pyHanko figure, next to the sequential one.
2c. The same server process with one worker, one client at a time (sig/s and ratio).
3. Page count: 200-page vs 1-page drafts (text on every page) signed at B-B through the
   same API, alternately; prints the latency ratio (target < 3x).
4. Where the time goes: every signing step inside the server (PadesService, pyHanko's own
   phases, blob store, event store, read-model wait) timed per request, wall and CPU of
   the handling thread, as one table; and a few in-process "what if" measurements of the
   changes that table suggests (pre-subset font, no size-estimation dry run, the
   development TSA's key parsed once).

No assertion on timing. Takes about 2 minutes on a 2-core machine.

    .venv/bin/python -m bench.signing            # --quick: small N, for a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import io
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import _plain_pyhanko as plain_pyhanko
from bench._common import (
    REPO,
    CpuMeter,
    bench_cluster,
    bootstrap_admin,
    database_in,
    in_threads,
    latency_line,
    login,
    machine_line,
    make_agency_and_users,
    pct,
    postmaster_pid,
    serve_process,
    server_env,
)
from bench._plain_pyhanko import median_cpu
from docmgmt import compat
from docmgmt.bootstrap import Container
from tests.support.pdfs import pdf_from_objects
from tests.support.server import serve, settings_for

AGENCY = ("SOA", "Sở A")
SIGN_BODY = {"capacity": "KT", "principal_title": "Giám đốc"}
WARMUP = 2



@dataclass
class Plan:
    """How many signatures each part makes."""

    levels: tuple[tuple[str, int], ...] = (("B-B", 40), ("B-T", 25), ("B-LT", 20),
                                           ("B-LTA", 15))
    plain: int = 60
    pages: int = 12  # of each size
    what_if: int = 15
    concurrent: int = 120


QUICK = Plan(levels=(("B-B", 4), ("B-T", 3), ("B-LT", 3), ("B-LTA", 3)), plain=5, pages=2,
             what_if=3, concurrent=12)
WORKERS = 2
CLIENTS = 4


# --- PDFs ------------------------------------------------------------------------------


def text_pdf(pages: int, tag: str) -> bytes:
    """An A4 PDF with 40 lines of Helvetica text on every page (Flate-compressed).

    A flat page tree, as pypdf and many producers write it; ``tag`` varies the bytes.
    """
    objects: list[bytes] = []
    page_refs = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{page_refs}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                   b"/Encoding /WinAnsiEncoding >>")
    for p in range(pages):
        lines = [b"BT /F1 10 Tf 12 TL 60 780 Td"]
        for i in range(40):
            lines.append(f"(Trang {p + 1}, dong {i + 1}: noi dung van ban mau de do thoi gian "
                         f"ky so - {tag}) '".encode())
        lines.append(b"ET")
        stream = zlib.compress(b"\n".join(lines))
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * p} 0 R >>"
                       .encode())
        objects.append(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode()
                       + stream + b"\nendstream")
    objects.append(f"<< /Title ({tag}) /Producer (bench.signing) >>".encode())
    return pdf_from_objects(objects, info=True)


# --- timing the steps inside the server ------------------------------------------------


@dataclass
class Steps:
    """Wall and CPU (of the calling thread) seconds per step, per scenario."""

    scenario: str | None = None
    wall: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(
        lambda: defaultdict(float)))
    cpu: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(
        lambda: defaultdict(float)))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, step: str, wall: float, cpu: float) -> None:
        """Add one measured call to the current scenario (ignored when none is set)."""
        with self.lock:
            if self.scenario is not None:
                self.wall[self.scenario][step] += wall
                self.cpu[self.scenario][step] += cpu


STEPS = Steps()

# (step key, label, indent); keys name the wrapped callables below.
ROWS: list[tuple[str, str, int]] = [
    ("latency", "request latency seen by the client (mean)", 0),
    ("http", "HTTP, auth, routing, JSON (the rest)", 1),
    ("command", "outgoing.signing.sign (the step)", 1),
    ("get", "load_document (load aggregate, access)", 2),
    ("check_certificate", "check_certificate (signer's chain, before preparing)", 2),
    ("blob_read", "read a stored PDF, verify sha256, copy (x2)", 2),
    ("prepare", "PadesService._prepare (number/date/sig fields)", 2),
    ("stamp", "_leader_stamp (appearance spec)", 2),
    ("interrupted_prepare", "interrupted.prepare (the PDF to sign, its digest)", 2),
    ("digest_doc", "pyHanko: fields, appearance, write, digest", 3),
    ("sign_digest", "the provider signs the digest (held key)", 2),
    ("finish", "interrupted.finish (embed; DSS, LTA timestamp)", 2),
    ("cms", "pyHanko CMS signature (+ sig. timestamp)", 3),
    ("finish_signing", "pyHanko: write the signature (post-sign)", 3),
    ("check_signer", "_check_signer (chain, all calls)", 2),
    ("validate", "validate_pdf (validate the result)", 2),
    ("store", "store_result (hash, blob store; prepared, signed)", 2),
    ("event", "DocMgmt.commit (save events)", 2),
    ("wait", "Container.wait_for_view (read model)", 1),
]


def _timed(original: Callable[..., Any], step: str) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return await original(*args, **kwargs)
            finally:
                STEPS.add(step, time.perf_counter() - w0, time.thread_time() - c0)
        return timed_async

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            STEPS.add(step, time.perf_counter() - w0, time.thread_time() - c0)
    return timed


def _timed_cm(original: Callable[..., Any], step: str) -> Callable[..., Any]:
    """For a method returning a context manager: from the call until the block ends."""
    @functools.wraps(original)
    @contextlib.contextmanager
    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            with original(*args, **kwargs) as value:
                yield value
        finally:
            STEPS.add(step, time.perf_counter() - w0, time.thread_time() - c0)
    return timed


@contextlib.contextmanager
def instrumented() -> Iterator[None]:
    """Wrap the signing path's steps with timers (in this process); restore them after."""
    from pyhanko.sign.signers.pdf_cms import Signer
    from pyhanko.sign.signers.pdf_signer import PdfSigner, PdfTBSDocument

    import signing.interrupted as interrupted
    import signing.providers._local as held
    import signing.service as service
    from docmgmt.kernel.store import DocMgmt
    from docmgmt.outgoing import signing as signing_step
    from storage import FilesystemBlobStore

    targets: list[tuple[Any, str, str, bool]] = [
        (signing_step, "sign", "command", False),
        (signing_step, "load_document", "get", False),
        (service.PadesService, "check_certificate", "check_certificate", False),
        (FilesystemBlobStore, "open_verified", "blob_read", True),
        (service.PadesService, "_prepare", "prepare", False),
        (service.PadesService, "_leader_stamp", "stamp", False),
        (interrupted, "prepare", "interrupted_prepare", False),
        (PdfSigner, "async_digest_doc_for_signing", "digest_doc", False),
        (held, "sign_digest", "sign_digest", False),
        (interrupted, "finish", "finish", False),
        (Signer, "async_sign_prescribed_attributes", "cms", False),
        (PdfTBSDocument, "async_finish_signing", "finish_signing", False),
        (interrupted, "_check_signer", "check_signer", False),
        (service, "validate_pdf", "validate", False),
        (signing_step, "store_result", "store", False),
        (DocMgmt, "commit", "event", False),
        (Container, "wait_for_view", "wait", False),
    ]
    saved = []
    for owner, name, step, is_cm in targets:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        saved.append((owner, name, original))
        wrap = _timed_cm if is_cm else _timed
        if isinstance(original, classmethod | staticmethod):
            setattr(owner, name, type(original)(wrap(original.__func__, step)))
        else:
            setattr(owner, name, wrap(original, step))
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


@contextlib.contextmanager
def scenario(name: str) -> Iterator[None]:
    """Record the wrapped steps under ``name`` while the block runs."""
    STEPS.scenario = name
    try:
        yield
    finally:
        STEPS.scenario = None


# --- the API ---------------------------------------------------------------------------


@dataclass
class Result:
    """What one timed series of sign requests gave."""

    label: str
    latencies: list[float]
    elapsed: float
    process_cpu: float
    pg_cpu: float
    failures: list[str]

    @property
    def rate(self) -> float:
        """Signatures per second, sequentially."""
        return len(self.latencies) / self.elapsed


def make_drafts(official: httpx.Client, leader: httpx.Client, pdfs: Sequence[bytes],
                summary: str) -> list[str]:
    """Upload, submit and approve each PDF; the approved drafts' ids."""
    ids = []
    for i, pdf in enumerate(pdfs):
        r = official.post("/documents", data={"summary": f"{summary} {i}", "doc_type": "QĐ"},
                          files={"file": (f"d{i}.pdf", pdf, "application/pdf")})
        if r.status_code != 201:
            raise SystemExit(f"upload failed: {r.status_code} {r.text[:300]}")
        doc = r.json()["id"]
        for client, step in ((official, "submit"), (leader, "approve")):
            r = client.post(f"/documents/{doc}/{step}", json={"text": step})
            if r.status_code != 200:
                raise SystemExit(f"{step} failed: {r.status_code} {r.text[:300]}")
        ids.append(doc)
    return ids


def sign_one(leader: httpx.Client, doc: str, failures: list[str]) -> float:
    """POST /documents/{doc}/sign; its wall latency in seconds."""
    t0 = time.perf_counter()
    r = leader.post(f"/documents/{doc}/sign", json=SIGN_BODY)
    latency = time.perf_counter() - t0
    if r.status_code != 200:
        failures.append(f"{r.status_code} {r.text[:300]}")
    return latency


def sign_series(label: str, leader: httpx.Client, docs: Sequence[str],
                pg: CpuMeter) -> Result:
    """Sign every document, one request at a time, with the steps recorded under label."""
    failures: list[str] = []
    latencies = []
    pg.start()
    c0 = time.process_time()
    t0 = time.perf_counter()
    with scenario(label):
        for doc in docs:
            latencies.append(sign_one(leader, doc, failures))
    elapsed = time.perf_counter() - t0
    return Result(label, latencies, elapsed, time.process_time() - c0, pg.used(), failures)


def print_result(res: Result, indent: str = "  ",
                 cpu_label: str = "this process (server threads, projection, client)") -> None:
    """sig/s, latency percentiles, CPU per signature, failures."""
    n = len(res.latencies)
    print(f"{indent}{res.label}: {n} signatures in {res.elapsed:.2f} s = "
          f"{res.rate:.2f} sig/s")
    print(f"{indent}  " + latency_line("latency", res.latencies))
    print(f"{indent}  CPU per signature: {cpu_label} "
          f"{res.process_cpu / n * 1000:.0f} ms, PostgreSQL {res.pg_cpu / n * 1000:.0f} ms")
    if res.failures:
        print(f"{indent}  FAILED: {len(res.failures)} requests, e.g. {res.failures[0]}")


def check_signed(leader: httpx.Client, doc: str, level: str) -> str:
    """One line confirming the document is signed at the expected level."""
    status = leader.get(f"/documents/{doc}").json().get("status")
    history = leader.get(f"/documents/{doc}/history").json()
    signed = [h for h in history if h["type"].endswith("Signed")]
    got = signed[-1]["payload"]["signature"]["level"] if signed else None
    verdict = "ok" if status == "signed" and got == level else "MISMATCH"
    return f"check: last document status={status}, Signed event level={got} ({verdict})"


@dataclass
class LevelRun:
    """A level's result, and for B-B the page-count pair and where its PKI lives."""

    result: Result
    pages: tuple[Result, Result] | None = None
    pki_dir: Path | None = None
    one_page_pdf: bytes = b""


def run_level(cluster: Any, work: Path, level: str, n: int, plan: Plan) -> LevelRun:
    """A fresh database and server at ``level``; N timed signatures (and, at B-B, pages)."""
    pg = CpuMeter(postmaster_pid(cluster))
    with database_in(cluster) as db:
        data = work / f"data-{level}"
        bootstrap_admin(db, data)
        settings = settings_for(db, data, pades_level=level)
        with serve(settings) as base:
            make_agency_and_users(base, *AGENCY, [("official_a", ["official"]),
                                                  ("leader_a", ["leader"])])
            with login(base, "official_a") as official, login(base, "leader_a") as leader:
                t0 = time.perf_counter()
                pdfs = [text_pdf(1, f"{level}-{i}") for i in range(n + WARMUP)]
                docs = make_drafts(official, leader, pdfs, f"Quyết định {level}")
                print(f"  {level}: {len(docs)} approved one-page drafts "
                      f"({len(pdfs[0]):,} bytes each) made in {time.perf_counter() - t0:.1f} s")
                warm: list[str] = []
                t0 = time.perf_counter()
                for doc in docs[:WARMUP]:
                    sign_one(leader, doc, warm)
                if warm:
                    raise SystemExit(f"warm-up signature failed: {warm[0]}")
                print(f"  {level}: {WARMUP} warm-up signatures (the first makes the "
                      f"development PKI) took {time.perf_counter() - t0:.1f} s")
                result = sign_series(f"{level}, 1 page", leader, docs[WARMUP:], pg)
                print_result(result)
                print("    " + check_signed(leader, docs[-1], level))
                run = LevelRun(result, pki_dir=settings.pki_dir / AGENCY[0],
                               one_page_pdf=pdfs[WARMUP])
                if level == "B-B":
                    run.pages = page_count(leader, official, pg, plan.pages)
        return run


def page_count(leader: httpx.Client, official: httpx.Client, pg: CpuMeter,
               k: int) -> tuple[Result, Result]:
    """200-page and 1-page drafts (text on each page) signed alternately at B-B."""
    small = [text_pdf(1, f"p1-{i}") for i in range(k)]
    big = [text_pdf(200, f"p200-{i}") for i in range(k)]
    print(f"  page count: {k} drafts of 1 page ({len(small[0]):,} bytes) and {k} of "
          f"200 pages ({len(big[0]):,} bytes), text on every page, flat page tree")
    d1 = make_drafts(official, leader, small, "Một trang")
    d200 = make_drafts(official, leader, big, "Hai trăm trang")
    res1 = Result("B-B, 1 page (text)", [], 0.0, 0.0, 0.0, [])
    res200 = Result("B-B, 200 pages (text)", [], 0.0, 0.0, 0.0, [])
    for a, b in zip(d1, d200, strict=True):  # alternate, so both see the same load
        for doc, res in ((a, res1), (b, res200)):
            one = sign_series(res.label, leader, [doc], pg)
            res.latencies += one.latencies
            res.elapsed += one.elapsed
            res.process_cpu += one.process_cpu
            res.pg_cpu += one.pg_cpu
            res.failures += one.failures
    print_result(res1)
    print_result(res200)
    p50 = pct(res200.latencies, 50) / pct(res1.latencies, 50)
    mean = statistics.fmean(res200.latencies) / statistics.fmean(res1.latencies)
    cpu1 = STEPS.cpu[res1.label]["command"] / len(res1.latencies)
    cpu200 = STEPS.cpu[res200.label]["command"] / len(res200.latencies)
    print(f"  page-count cost: 200 pages / 1 page = {p50:.2f}x (p50 latency), {mean:.2f}x "
          f"(mean latency), {cpu200 / cpu1:.2f}x (CPU of the sign command)  [target < 3x]")
    return res1, res200


# --- several workers, concurrent clients ------------------------------------------------


def run_concurrent(cluster: Any, work: Path, n: int, workers: int = WORKERS,
                   clients: int = CLIENTS) -> Result:
    """B-B through ``docmgmt serve --workers N`` in its own process, ``clients`` at once.

    The production multi-worker set-up: uvicorn worker processes plus one projection
    process (api.cli). Each client opens a new connection per request, so that requests
    spread over the workers as they become free instead of sticking to one by keep-alive.
    """
    pg = CpuMeter(postmaster_pid(cluster))
    with database_in(cluster) as db:
        data = work / "data-B-B-concurrent"
        bootstrap_admin(db, data)
        env = server_env(db, data, DOCMGMT_PADES_LEVEL="B-B", DOCMGMT_DB_POOL_SIZE="4")
        with serve_process(env, work / "server-sign-concurrent.log", module="api.cli",
                           args=("serve", "--workers", str(workers))) as server:
            make_agency_and_users(server.base, *AGENCY, [("official_a", ["official"]),
                                                         ("leader_a", ["leader"])])
            fresh = httpx.Limits(max_keepalive_connections=0)
            with login(server.base, "official_a") as official, \
                    login(server.base, "leader_a", limits=fresh) as leader:
                warmup = 1 + 2 * clients
                pdfs = [text_pdf(1, f"conc-{i}") for i in range(n + warmup)]
                docs = make_drafts(official, leader, pdfs, "Quyết định đồng thời")
                warm: list[str] = []
                # The first one makes the development PKI; then every worker signs a few
                # times (keys loaded, the leader's block drawn) before the clock starts.
                sign_one(leader, docs[0], warm)
                sessions = [login(server.base, "leader_a", limits=fresh)
                            for _ in range(clients)]
                try:
                    _in_parallel(sessions, [docs[1:warmup][i::clients]
                                            for i in range(clients)], warm)
                    if warm:
                        raise SystemExit(f"warm-up signature failed: {warm[0]}")
                    timed = docs[warmup:]
                    server_cpu = CpuMeter(server.pid)
                    server_cpu.start()
                    pg.start()
                    c0 = time.process_time()
                    failures: list[str] = []
                    elapsed, latencies = _in_parallel(
                        sessions, [timed[i::clients] for i in range(clients)], failures)
                    client_cpu = time.process_time() - c0
                finally:
                    for session in sessions:
                        session.close()
                label = f"B-B, {workers} workers, {clients} concurrent clients"
                result = Result(label, latencies, elapsed, server_cpu.used(), pg.used(),
                                failures)
                print_result(result, cpu_label="server processes (workers, projection)")
                print(f"    client CPU (this process) {client_cpu / len(timed) * 1000:.0f} ms "
                      "per signature, not counted above")
                print("    " + check_signed(leader, timed[-1], "B-B"))
        return result


def _in_parallel(clients: Sequence[httpx.Client], shares: Sequence[Sequence[str]],
                 failures: list[str]) -> tuple[float, list[float]]:
    """One thread per client, each signing its share in turn; wall time, latencies."""

    def signer(client: httpx.Client, docs: Sequence[str]) -> Callable[[list[float]], None]:
        return lambda out: out.extend(sign_one(client, doc, failures) for doc in docs)

    return in_threads([signer(c, d) for c, d in zip(clients, shares, strict=True)])


# --- plain pyHanko ---------------------------------------------------------------------


def run_plain(pki_dir: Path, pdf: bytes, n: int, work: Path) -> tuple[float, float]:
    """pyHanko's own sign_pdf at B-B, PKCS#12 loaded every call, in a fresh interpreter
    with nothing of docmgmt imported (the baseline); then the same in this process, where
    ``docmgmt.compat`` has installed its library overrides, for the record. Returns the
    baseline's (sig/s, CPU ms per sig)."""
    from signing.devpki import issue_user_cert, load_dev_pki

    pki = load_dev_pki(pki_dir)
    p12 = issue_user_cert(pki_dir, "leader_a", "Leader A")  # the API's leader key: kept
    passphrase = pki.password_for(p12)
    pdf_path = work / "plain-one-page.pdf"
    pdf_path.write_bytes(pdf)
    job = {"p12": str(p12), "passphrase": passphrase.decode(), "pdf": str(pdf_path), "n": n}
    done = subprocess.run([sys.executable, "-m", "bench._plain_pyhanko"], cwd=REPO,
                          input=json.dumps(job), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the plain pyHanko baseline failed:\n{done.stderr}")
    plain = json.loads(done.stdout)
    patched = plain_pyhanko.measure(str(p12), passphrase, pdf, n)
    for label, r in (("plain pyHanko sign_pdf (a fresh interpreter, pyHanko as installed)",
                      plain),
                     ("the same in this process, docmgmt.compat's overrides installed",
                      patched)):
        print(f"  {label}, B-B, load_pkcs12 on each call: {r['n']} signatures in "
              f"{r['elapsed']:.2f} s = {r['rate']:.2f} sig/s, CPU {r['cpu_ms']:.0f} ms per "
              "signature")
        print("    " + latency_line("latency", r["latencies"]))
        # For the record: what the per-call key loading and the size-estimation dry run cost.
        print(f"    key loaded once: {r['key_once_ms']:.1f} ms CPU (median); with "
              f"bytes_reserved=16384 (no dry run): {r['reserved_ms']:.1f} ms; load_pkcs12 "
              f"alone: {r['load_ms']:.1f} ms")
    return float(plain["rate"]), float(plain["cpu_ms"])


# --- what if ---------------------------------------------------------------------------


def subset_font(src: Path, dst: Path) -> int:
    """Noto Serif cut down to ASCII, Latin-1 and Vietnamese (layout tables kept); glyphs."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = TTFont(str(src))
    unicodes = [*range(0x20, 0x7F), *range(0xA0, 0x100), 0x102, 0x103, 0x110, 0x111, 0x128,
                0x129, 0x168, 0x169, 0x1A0, 0x1A1, 0x1AF, 0x1B0, *range(0x300, 0x304), 0x309,
                0x323, *range(0x1EA0, 0x1EFA), 0x2013, 0x2014, *range(0x2018, 0x201E), 0x2026,
                0x20AB]
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    font.save(str(dst))
    return len(font.getGlyphOrder())


@functools.cache
def _parsed_once(data: bytes, password: bytes | None = None) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(data, password)


@contextlib.contextmanager
def tsa_key_loaded_once() -> Iterator[None]:
    """pyHanko's DummyTimeStamper (the development TSA) with its key parsed only once.

    It calls ``load_der_private_key`` on every timestamp, and cryptography checks an RSA
    key when loading it (about 150 ms for the development TSA's 3072-bit key).
    """
    import types

    from pyhanko.sign.timestamps import dummy_client

    real = getattr(dummy_client, "serialization")  # noqa: B009 - not exported
    setattr(dummy_client, "serialization",  # noqa: B010
            types.SimpleNamespace(load_der_private_key=_parsed_once))
    try:
        yield
    finally:
        setattr(dummy_client, "serialization", real)  # noqa: B010


def what_if(pki_root: Path, pdf: bytes, work: Path, n: int) -> None:
    """The service's B-B signature in process, as is and with the suggested changes."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from docmgmt.domain.common import SigningCapacity
    from signing.appearance import DEFAULT_FONT, leader_stamp
    from signing.pades import PadesLevel, sign_pdf
    from signing.port import AgencyIdentity, SignerIdentity
    from signing.service import LEADER_FIELD, DevKeyRegistry, PadesService
    from signing.validate import validate_pdf

    registry = DevKeyRegistry(pki_root)
    agency = AgencyIdentity(uuid.uuid4(), *AGENCY)
    signer = SignerIdentity(uuid.uuid4(), "leader_a", "Leader A", "")
    capacity = SigningCapacity(SIGN_BODY["capacity"]).line(SIGN_BODY["principal_title"])
    small = work / "NotoSerif-vi-subset.ttf"
    glyphs = subset_font(DEFAULT_FONT, small)
    src, dst, prepared = work / "wi-in.pdf", work / "wi-out.pdf", work / "wi-prepared.pdf"
    src.write_bytes(pdf)
    as_is = PadesService(registry, PadesLevel.B_B)
    subset = PadesService(registry, PadesLevel.B_B, font_path=small)
    as_is._prepare(src, prepared)
    key, ctx = registry.leader_key(signer, agency), registry.context(agency)
    stamp = leader_stamp(registry.signature_image(signer), signer.full_name, capacity, "",
                         DEFAULT_FONT)

    def service(svc: PadesService) -> Callable[[], object]:
        return lambda: svc.sign_as_leader(src, dst, signer=signer, agency=agency,
                                          capacity_line=capacity)

    def bare(with_stamp: bool) -> Callable[[], object]:
        extra: dict[str, Any] = ({"stamp": stamp.style, "appearance_text_params":
                                  stamp.text_params} if with_stamp else {})
        return lambda: sign_pdf(prepared, dst, key=key, level=PadesLevel.B_B, ctx=ctx,
                                field_name=LEADER_FIELD, reason=capacity, name="Leader A",
                                certify_fill_forms=True, **extra)

    def at_bt(cached_tsa: bool) -> Callable[[], object]:
        def run() -> None:
            with tsa_key_loaded_once() if cached_tsa else contextlib.nullcontext():
                sign_pdf(prepared, dst, key=key, level=PadesLevel.B_T, ctx=ctx,
                         field_name=LEADER_FIELD, reason=capacity, name="Leader A",
                         certify_fill_forms=True)
        return run

    def pyhanko_with(bytes_reserved: int | None) -> Callable[[], object]:
        def run() -> None:
            with prepared.open("rb") as fh:
                signers.sign_pdf(IncrementalPdfFileWriter(fh),
                                 signers.PdfSignatureMetadata(field_name=LEADER_FIELD),
                                 signer=key.signer(), output=io.BytesIO(),
                                 bytes_reserved=bytes_reserved)
        return run

    rows = [
        ("PadesService.sign_as_leader as configured (bundled font)", service(as_is)),
        (f"  same with a Vietnamese subset of the font ({glyphs} glyphs, "
         f"{small.stat().st_size // 1024} KiB)", service(subset)),
        ("pades.sign_pdf with the leader's stamp (as the service calls it)", bare(True)),
        ("pades.sign_pdf without a visible stamp", bare(False)),
        ("validate_pdf of the signed result", lambda: validate_pdf(dst, ctx)),
        ("pades.sign_pdf at B-T without a stamp, development TSA as is", at_bt(False)),
        ("  same with the TSA key parsed once (cached)", at_bt(True)),
        ("pyHanko sign_pdf into the prepared field, the service's signer (key loaded once)",
         pyhanko_with(None)),
        ("  same with bytes_reserved=16384 (no size-estimation dry run)",
         pyhanko_with(16384)),
    ]
    print(f"  in process, one-page draft, B-B, median CPU of {n} calls (the signing thread):")
    for label, fn in rows:
        print(f"    {label}: {median_cpu(fn, n):.1f} ms")


# --- report ----------------------------------------------------------------------------


def breakdown(columns: Sequence[tuple[str, Result]]) -> None:
    """The steps table: mean wall / CPU ms per signature for each scenario."""
    width = 60
    head = "".join(f"{name:>15}" for name, _ in columns)
    print(f"  {'step (mean per signature: wall ms / CPU ms)':<{width}}{head}")
    for key, label, indent in ROWS:
        cells = []
        for _, r in columns:
            n = len(r.latencies)
            wall, cpu = STEPS.wall[r.label], STEPS.cpu[r.label]
            if key == "latency":
                cells.append(f"{statistics.fmean(r.latencies) * 1000:.0f}")
                continue
            if key == "http":
                w = statistics.fmean(r.latencies) - (wall["command"] + wall["wait"]) / n
                cells.append(f"{w * 1000:.0f}")
                continue
            if key not in wall:
                cells.append("-")
                continue
            cells.append(f"{wall[key] / n * 1000:.0f} / {cpu[key] / n * 1000:.0f}")
        print(f"  {'  ' * indent + label:<{width}}" + "".join(f"{c:>15}" for c in cells))


def main() -> None:
    """Run the parts in order and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N (a smoke test)")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    compat.install()  # the in-process measurements build signing without the root
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    started = time.perf_counter()
    runs: dict[str, LevelRun] = {}
    with bench_cluster() as (cluster, work), instrumented():
        for level, n in plan.levels:
            print(f"\n[{level}] API, sequential POST /documents/{{id}}/sign")
            runs[level] = run_level(cluster, work, level, n, plan)
            if level == "B-B":
                bb = runs[level]
                assert bb.pki_dir is not None
                print("\n[baseline] plain pyHanko, same one-page PDF, same leader key")
                plain_rate, plain_cpu = run_plain(bb.pki_dir, bb.one_page_pdf, plan.plain,
                                                   work)
                print("\n[what if] the signing step in process, with the suggested changes")
                what_if(bb.pki_dir.parent, bb.one_page_pdf, work, plan.what_if)
                print(f"\n[B-B, {WORKERS} workers] API in its own process (docmgmt serve "
                      f"--workers {WORKERS}), {CLIENTS} concurrent clients")
                concurrent = run_concurrent(cluster, work, plan.concurrent)
                print("\n[B-B, 1 worker] API in its own process (docmgmt serve), one client"
                      " at a time (no GIL shared with the client)")
                single = run_concurrent(cluster, work, max(plan.concurrent // 3, 10),
                                        workers=1, clients=1)

        print("\n[summary]")
        for level, run in runs.items():
            r = run.result
            print(f"  {level:>5}: {r.rate:6.2f} sig/s   p50 {pct(r.latencies, 50) * 1000:6.0f} ms"
                  f"   p95 {pct(r.latencies, 95) * 1000:6.0f} ms   (n={len(r.latencies)})")
        c = concurrent
        print(f"  {'B-B':>5}: {c.rate:6.2f} sig/s   p50 {pct(c.latencies, 50) * 1000:6.0f} ms"
              f"   p95 {pct(c.latencies, 95) * 1000:6.0f} ms   (n={len(c.latencies)}; "
              f"{WORKERS} workers, {CLIENTS} concurrent clients)")
        print(f"  {'B-B':>5}: {single.rate:6.2f} sig/s   p50"
              f" {pct(single.latencies, 50) * 1000:6.0f} ms   p95"
              f" {pct(single.latencies, 95) * 1000:6.0f} ms   (n={len(single.latencies)};"
              " 1 worker process, 1 client)")
        bb = runs["B-B"]
        ratio = bb.result.rate / plain_rate
        cpu_api = (bb.result.process_cpu + bb.result.pg_cpu) / len(bb.result.latencies) * 1000
        print(f"  plain pyHanko B-B (p12 loaded each call, one thread): {plain_rate:.2f} sig/s")
        print(f"  API B-B sequential (1 client, in-thread server) / plain pyHanko B-B = "
              f"{ratio:.2f}x  [target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'}]  "
              f"(CPU per signature: API {cpu_api:.0f} ms incl. PostgreSQL, plain "
              f"{plain_cpu:.0f} ms)")
        s_ratio = single.rate / plain_rate
        s_cpu = (single.process_cpu + single.pg_cpu) / len(single.latencies) * 1000
        print(f"  API B-B 1 worker process, 1 client / plain pyHanko B-B = {s_ratio:.2f}x"
              f"  [target >= 1.5x: {'met' if s_ratio >= 1.5 else 'NOT met'}]  (CPU per"
              f" signature: server processes {s_cpu:.0f} ms incl. PostgreSQL)")
        c_ratio = c.rate / plain_rate
        c_cpu = (c.process_cpu + c.pg_cpu) / len(c.latencies) * 1000
        print(f"  API B-B {WORKERS} workers, {CLIENTS} concurrent clients / plain pyHanko B-B "
              f"= {c_ratio:.2f}x  [target >= 1.5x: {'met' if c_ratio >= 1.5 else 'NOT met'}]"
              f"  (CPU per signature: server processes {c_cpu:.0f} ms incl. PostgreSQL)")
        if bb.pages is not None:
            one, two = bb.pages
            p = pct(two.latencies, 50) / pct(one.latencies, 50)
            print(f"  200 pages / 1 page at B-B (p50 latency) = {p:.2f}x  [target < 3x: "
                  f"{'met' if p < 3 else 'NOT met'}]")
        print("\n[where the time goes] inside the server, per signature")
        columns = [(level, run.result) for level, run in runs.items()]
        if bb.pages is not None:
            columns += [("B-B 1p text", bb.pages[0]), ("B-B 200p text", bb.pages[1])]
        breakdown(columns)
        print("  (wall includes waiting for the other core; CPU is the request thread's own; "
              "'-' = not called)")
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
