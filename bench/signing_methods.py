"""The server's cost per leader signature for each way of signing, beside the server key.

Every method goes through the steps of ``docmgmt.outgoing.signing`` in this process
(``request_signature``, ``request_state``, ``answer_signature``, ``prepared_pdf``,
``upload_signed``, ``request_batch``, ``answer_batch``) on the write side the composition root
builds, on a fresh embedded PostgreSQL database, at PAdES B-T with the development PKI's
in-process time-stamp authority. Ways of signing:

* ``server``: the ``server`` provider (a leader key the server holds, "users" in a keys
  file), here over the leader's development PKCS#12 key — the same ``HeldKeyProvider`` code
  and the same kind of key backend as a keys file gives; the baseline of every ratio;
* ``development``: the embedded default's development provider;
* ``csc``: the real certomancer-csc-dummy, in a process of its own, over the committed test
  PKI (its leader certificate registered to the leader by an admin; its root trusted);
* ``server-csc-key``: the ``server`` provider over that same test-PKI key and certificate,
  which tells the cost of the CSC protocol from the cost of its longer certificate chain;
* ``confirm``: a service of the confirmation shape (tests/support/confirm_provider.py) in a
  thread, holding the leader's development key; the bench confirms at once, untimed;
* ``agent``: the bench plays the agent and signs the digest with the development key,
  untimed;
* ``upload``: the bench downloads the prepared PDF (timed: the server serves it), signs the
  whole file with pyHanko (untimed) and uploads it (timed).

The server's CPU is the CPU of the thread that calls the steps (``time.thread_time``):
the steps run synchronously in it — PDF work, the in-process TSA, the HTTP client of a
provider — and the write side starts no worker thread here (listed at the start). The
embedded PostgreSQL's CPU (its processes, sampled around each timed call) is printed apart.
Wall time excludes the signer's part (confirmation, agent, pyHanko of the upload). Single
signatures are taken round-robin across the methods so that other load on the machine
weighs on all alike. Then one batch of 50 documents per method (upload has no batch).

    .venv/bin/python -m bench.signing_methods            # --quick: small N, a smoke test
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, ServiceLabel
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

import docmgmt.bootstrap
from bench._common import (
    REPO,
    CpuMeter,
    bench_cluster,
    database_in,
    machine_line,
    pct,
    postmaster_pid,
)
from docmgmt.domain.common import SigningCapacity
from docmgmt.outgoing import certificates, signing
from docmgmt.outgoing.signing import BatchDocument, BatchSignature, Method, RequestStatus
from docmgmt.settings import Settings
from signing.keys import Pkcs12KeyBackend, sign_digest
from signing.pades import PadesLevel, SigningContext, sign_pdf
from signing.port import AgencyIdentity, SignerIdentity
from signing.providers.confirm import ConfirmProvider
from signing.providers.csc import CscProvider
from signing.providers.server import ServerKeyProvider
from signing.remote import SigningProvider
from signing.service import LEADER_FIELD, DevKeyRegistry, KeyRegistry
from tests.signing.conftest import ARCH, PKI_DIR
from tests.support import confirm_provider as confirm_support
from tests.support.identity import admin_acting_as
from tests.support.server import free_port, settings_for
from tests.workflow.conftest import SETUP, Desk, open_desk

LEVEL = "B-T"
CAPACITY = {"capacity": SigningCapacity.KT, "principal_title": "Giám đốc"}
# "server-csc-key": the server provider over the very key and certificate the CSC service
# signs with (test PKI), to tell the CSC protocol's cost from its certificate chain's.
METHODS = ("server", "development", "csc", "server-csc-key", "confirm", "agent", "upload")
BATCH_METHODS = ("server", "development", "csc", "server-csc-key", "confirm", "agent")
TARGET = 1.3
CSC_P12_PASSWORD = b"bench-only"


class BenchRegistry(DevKeyRegistry):
    """The development registry with the provider under test and the CSC test root trusted."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.chosen: SigningProvider | None = None
        self.extra_roots: list[Any] = []
        self.extra_crls: list[Any] = []

    def provider(self, agency: AgencyIdentity) -> SigningProvider | None:
        """The provider of the method being measured (the development one by default)."""
        return self.chosen or super().provider(agency)

    def context(self, agency: AgencyIdentity | None) -> SigningContext:
        """Development trust, plus the test PKI's root and CRLs (the CSC service's
        certificate; nothing is fetched, as with the development PKI)."""
        ctx = super().context(agency)
        return replace(ctx, trust_roots=[*ctx.trust_roots, *self.extra_roots],
                       crls=[*ctx.crls, *self.extra_crls])


@dataclass
class Span:
    """What the server spent in timed calls: wall, its thread's CPU, the database's CPU."""

    wall: float = 0.0
    cpu: float = 0.0
    db: float = 0.0


@dataclass
class Figures:
    """Per-signature spans of one method."""

    spans: list[Span] = field(default_factory=list)


class Timer:
    """Times calls on the calling thread; the database's CPU is sampled outside the window."""

    def __init__(self, db_pid: int | None) -> None:
        self.db = CpuMeter(db_pid)
        self.profiler: cProfile.Profile | None = None  # only in the profiling pass

    @contextlib.contextmanager
    def timed(self, span: Span) -> Iterator[None]:
        """Add the block's wall time, thread CPU and database CPU to ``span``."""
        self.db.start()
        if self.profiler is not None:
            self.profiler.enable()
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        yield
        wall1, cpu1 = time.perf_counter(), time.thread_time()
        if self.profiler is not None:
            self.profiler.disable()
        span.db += self.db.used()
        span.wall += wall1 - wall0
        span.cpu += cpu1 - cpu0


@contextlib.contextmanager
def csc_process(log: Path) -> Iterator[str]:
    """The CSC dummy in its own process; its base URL (``.../csc/v1``)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bench._csc_server", str(port)],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/csc/v1"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.post(f"{url}/credentials/list", json={"clientData": ARCH}, timeout=2)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the CSC dummy did not start:\n"
                                           f"{log.read_text(errors='replace')}") from None
                    time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextlib.contextmanager
def confirm_thread(username: str, key: Any, certificate: bytes, chain: list[bytes]
                   ) -> Iterator[confirm_support.ConfirmService]:
    """The confirmation-shaped service in a thread, holding the leader's key."""
    server = confirm_support._Server(("127.0.0.1", 0), confirm_support._Handler)
    server.service = confirm_support.ConfirmService(
        f"http://127.0.0.1:{server.server_port}", confirm_support.SECRET,
        {username: [confirm_support.Credential(f"{username}/dev", key, certificate, chain)]})
    thread = threading.Thread(target=server.serve_forever, name="confirm-service", daemon=True)
    thread.start()
    try:
        yield server.service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Bench:
    """The desk, the registry and the services every method signs through."""

    desk: Desk
    registry: BenchRegistry
    timer: Timer
    providers: dict[str, SigningProvider | None]
    confirm: confirm_support.ConfirmService
    dev_key: Any
    dev_fingerprint: str
    work: Path

    @property
    def leader(self) -> Any:
        """The leader as a signed-in principal."""
        return self.desk["leader"]

    def use(self, method: str) -> None:
        """Sign the next requests through this method's provider."""
        self.registry.chosen = self.providers.get(method)

    def sign_one(self, method: str, doc: UUID) -> Span:
        """One signature by ``method``; the server's span (the signer's part untimed)."""
        self.use(method)
        ctx, span, timed = self.desk.outgoing, Span(), self.timer.timed
        kind = {"agent": Method.AGENT, "upload": Method.UPLOAD}.get(method, Method.PROVIDER)
        fingerprint = self.dev_fingerprint if kind is Method.AGENT else None
        with timed(span):
            state = signing.request_signature(
                ctx, self.leader, doc, method=kind, certificate_fingerprint=fingerprint,
                expected_version=None, **CAPACITY)
        if method == "confirm":
            self.confirm.confirm(state_transaction(self.confirm))  # the signer, untimed
            with timed(span):
                state = signing.request_state(ctx, self.leader, doc, state.request_id)
        elif kind is Method.AGENT:
            value = self.agent_sign(state)
            with timed(span):
                state = signing.answer_signature(ctx, self.leader, doc, state.request_id,
                                                 value)
        elif kind is Method.UPLOAD:
            with timed(span), signing.prepared_pdf(ctx, self.leader, doc,
                                                   state.request_id) as (_rev, _ref, fh):
                prepared = fh.read()
            signed = self.upload_sign(prepared)
            with timed(span):
                state = signing.upload_signed(ctx, self.leader, doc, state.request_id,
                                              io.BytesIO(signed))
        if state.status is not RequestStatus.SIGNED:
            raise RuntimeError(f"{method}: {state.status} {state.reason} {state.detail}")
        return span

    def agent_sign(self, state: signing.SignatureRequestState) -> bytes:
        """What the agent returns: the digest signed with the token's key."""
        return sign_digest(self.dev_key, base64.b64decode(state.digest), state.mechanism)

    def upload_sign(self, prepared: bytes) -> bytes:
        """What the leader's software uploads: the whole prepared PDF signed with pyHanko."""
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            src, dst = Path(tmp) / "prepared.pdf", Path(tmp) / "signed.pdf"
            src.write_bytes(prepared)
            sign_pdf(src, dst, key=self.dev_key, level=PadesLevel(LEVEL),
                     ctx=self.registry.context(self.desk.agency), field_name=LEADER_FIELD,
                     certify_fill_forms=True)
            return dst.read_bytes()

    def sign_batch(self, method: str, docs: list[UUID]) -> Span:
        """One batch by ``method``; the server's span."""
        self.use(method)
        ctx, span, timed = self.desk.outgoing, Span(), self.timer.timed
        kind = Method.AGENT if method == "agent" else Method.PROVIDER
        fingerprint = self.dev_fingerprint if kind is Method.AGENT else None
        with timed(span):
            result = signing.request_batch(
                ctx, self.leader, [BatchDocument(d) for d in docs], method=kind,
                certificate_fingerprint=fingerprint, **CAPACITY)
        states = [item.state for item in result.items]
        if any(s is None for s in states):
            raise RuntimeError(f"{method} batch: {[i.as_json() for i in result.items][:2]}")
        if method == "confirm":
            self.confirm.confirm(state_transaction(self.confirm))
            with timed(span):
                states = [signing.request_state(ctx, self.leader, s.document_id, s.request_id)
                          for s in states if s is not None]
        elif kind is Method.AGENT:
            values = [BatchSignature(s.document_id, s.request_id, self.agent_sign(s))
                      for s in states if s is not None]
            with timed(span):
                answered = signing.answer_batch(ctx, self.leader, result.batch_id, values)
            states = [item.state for item in answered.items]
        bad = [s for s in states if s is None or s.status is not RequestStatus.SIGNED]
        if bad:
            raise RuntimeError(f"{method} batch: {len(bad)} not signed: {bad[:1]}")
        return span


def state_transaction(service: confirm_support.ConfirmService) -> str:
    """The one pending transaction at the confirmation service (the newest)."""
    pending = [t for t in service.transactions.values() if t.status == "pending"]
    if len(pending) != 1:
        raise RuntimeError(f"expected one pending transaction, found {len(pending)}")
    return pending[0].transaction_id


def ms(seconds: float) -> str:
    """Milliseconds with one decimal."""
    return f"{seconds * 1000:.1f}"


def report_singles(figures: dict[str, Figures]) -> None:
    """The per-signature table."""
    base = figures["server"].spans
    base_cpu = statistics.fmean(s.cpu for s in base)
    base_wall = statistics.median(s.wall for s in base)
    print(f"{'method':<15} {'n':>3} {'p50 wall':>9} {'p95 wall':>9} {'CPU/sig':>8} "
          f"{'DB CPU/sig':>10} {'CPU ratio':>9} {'wall ratio':>10}   (ms; ratios to server)")
    for method, fig in figures.items():
        walls = [s.wall for s in fig.spans]
        cpu = statistics.fmean(s.cpu for s in fig.spans)
        db = statistics.fmean(s.db for s in fig.spans)
        flag = "" if cpu / base_cpu <= TARGET else f"  > {TARGET}x"
        print(f"{method:<15} {len(walls):>3} {ms(pct(walls, 50)):>9} {ms(pct(walls, 95)):>9} "
              f"{ms(cpu):>8} {ms(db):>10} {cpu / base_cpu:>9.2f} "
              f"{statistics.median(walls) / base_wall:>10.2f}{flag}")
    if "csc" in figures and "server-csc-key" in figures:
        csc, same = (figures[m].spans for m in ("csc", "server-csc-key"))
        cpu_ratio = statistics.fmean(s.cpu for s in csc) / statistics.fmean(s.cpu for s in same)
        wall_ratio = (statistics.median(s.wall for s in csc)
                      / statistics.median(s.wall for s in same))
        print(f"csc / server-csc-key (the same certificate and chain): CPU {cpu_ratio:.2f}, "
              f"wall (p50) {wall_ratio:.2f}")


def report_batches(batches: dict[str, tuple[int, Span]], size: int) -> None:
    """The batch table: per batch of ``size`` and per document, over every batch run."""
    docs, base = batches["server"]
    base_cpu = base.cpu / docs
    print(f"{'method':<15} {'docs':>4} {'wall/batch':>10} {'wall/doc':>8} {'CPU/doc':>8} "
          f"{'DB CPU/doc':>10} {'CPU ratio':>9}   (ms; ratio to the server-key batches)")
    for method, (n, span) in batches.items():
        ratio = (span.cpu / n) / base_cpu
        flag = "" if ratio <= TARGET else f"  > {TARGET}x"
        print(f"{method:<15} {n:>4} {ms(span.wall * size / n):>10} {ms(span.wall / n):>8} "
              f"{ms(span.cpu / n):>8} {ms(span.db / n):>10} {ratio:>9.2f}{flag}")


def build(desk: Desk, registry: BenchRegistry, csc_url: str,
          confirm: confirm_support.ConfirmService, timer: Timer, work: Path) -> Bench:
    """Register the certificates each method signs with and make the providers."""
    leader = desk["leader"]
    user = desk.write.app.get_user(leader.user_id)
    agency = desk.agency
    dev_key = registry.leader_key(SignerIdentity(user.id, user.username, user.full_name,
                                                 user.title), agency)
    # The CSC service's leader certificate, uploaded by an admin.
    arch = CertomancerConfig.from_file(str(PKI_DIR / "certomancer.yml")).get_pki_arch(
        ArchLabel(ARCH))
    registry.extra_roots = [arch.get_cert(CertLabel("root"))]
    now = datetime.now(UTC)
    registry.extra_crls = [arch.service_registry.get_crl(ServiceLabel(repo), at_time=now)
                           for repo in ("root", "interm")]
    certificates.register_for(desk.outgoing, admin_acting_as(SETUP), leader.user_id,
                              certificate=base64.b64encode(
                                  arch.get_cert(CertLabel("leader")).dump()).decode(),
                              chain=[base64.b64encode(
                                  arch.get_cert(CertLabel("interm")).dump()).decode()])

    csc_p12 = work / "csc-leader.p12"
    csc_p12.write_bytes(arch.package_pkcs12(CertLabel("leader"), password=CSC_P12_PASSWORD))
    csc_key = Pkcs12KeyBackend(csc_p12, CSC_P12_PASSWORD)

    def held(account: Any) -> Any:
        return registry.leader_key(SignerIdentity(user.id, account.username,
                                                  account.full_name, user.title), agency)

    providers: dict[str, SigningProvider | None] = {
        "server": ServerKeyProvider(held),
        "development": None,
        "csc": CscProvider(csc_url, client_data=ARCH),
        "server-csc-key": ServerKeyProvider(lambda account: csc_key),
        "confirm": ConfirmProvider(confirm.url, client_id="docmgmt",
                                   secret=lambda: confirm.secret),
    }
    return Bench(desk, registry, timer, providers, confirm, dev_key,
                 dev_key.certificate.sha256.hex(), work)


def dev_private_key(registry: BenchRegistry, agency: AgencyIdentity, username: str
                    ) -> tuple[Any, bytes, list[bytes]]:
    """The leader's development key as a pyca key, its certificate and chain (DER)."""
    pki = registry.pki(agency)
    path = pki.user_p12_path(username)
    key, cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(), pki.password_for(path))
    assert cert is not None
    return key, cert.public_bytes(Encoding.DER), [pki.root_cert.dump()]


PROFILED = 10


def profile(bench: Bench, method: str, docs: list[UUID]) -> None:
    """cProfile over the server's calls of ``method`` (a pass of its own, after the
    measurements); the functions that take the most time, cumulative."""
    bench.timer.profiler = cProfile.Profile(time.thread_time)  # CPU, not wall
    for doc in docs:
        bench.sign_one(method, doc)
    out = io.StringIO()
    stats = pstats.Stats(bench.timer.profiler, stream=out)
    # The project's own functions, and the HTTP client (providers' calls).
    stats.sort_stats("cumulative").print_stats(
        r"/(docmgmt|signing)/|urllib/request.py:\d+\(urlopen\)|pyhanko_certvalidator/"
        r"validate.py:\d+\(async_validate_path\)", 30)
    bench.timer.profiler = None
    print(f"\nProfile of {len(docs)} signatures by {method} (CPU of the server's calls, "
          "cumulative seconds):")
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("\n".join(line.replace(str(REPO) + "/", "") for line in lines[start:] if line.strip()))


def run(n: int, warmup: int, batch: int, methods: tuple[str, ...] = METHODS,
        profiled: tuple[str, ...] = ()) -> None:
    """Set up, take the single signatures round-robin, then the batches; print."""
    print(machine_line())
    print(f"PAdES {LEVEL}; the development TSA runs in-process (its CPU is the server's); "
          f"{n} signatures per method after {warmup} warm-up(s); batches of {batch}")
    with bench_cluster() as (cluster, work), database_in(cluster) as db:
        registries: list[BenchRegistry] = []

        def registry_for(settings: Settings) -> KeyRegistry:
            registries.append(BenchRegistry(settings.pki_dir))
            return registries[-1]

        docmgmt.bootstrap.build_key_registry = registry_for  # type: ignore[assignment]
        write = docmgmt.bootstrap.build_write_side(
            settings_for(db, work / "data", pades_level=LEVEL))
        try:
            desk = open_desk(write)
            registry = registries[-1]
            user = write.app.get_user(desk["leader"].user_id)
            registry.leader_key(SignerIdentity(user.id, user.username, user.full_name,
                                               user.title), desk.agency)
            key, cert, chain = dev_private_key(registry, desk.agency, user.username)
            print("threads of the server process: "
                  + ", ".join(sorted(t.name for t in threading.enumerate())))
            with csc_process(work / "csc.log") as csc_url, \
                    confirm_thread(user.username, key, cert, chain) as confirm:
                bench = build(desk, registry, csc_url, confirm, Timer(postmaster_pid(cluster)),
                              work)
                t0 = time.perf_counter()
                docs = {m: [desk.approved(f"Công văn {m} {i}") for i in range(n + warmup)]
                        for m in methods}
                batch_docs = {m: [[desk.approved(f"Lô {m} {r} {i}") for i in range(batch)]
                                  for r in range(2)]
                              for m in BATCH_METHODS if m in methods}
                profile_docs = {m: [desk.approved(f"Hồ sơ {m} {i}") for i in range(PROFILED)]
                                for m in profiled}
                made = sum(map(len, docs.values())) + 2 * batch * len(batch_docs)
                print(f"{made} "
                      f"approved documents made in {time.perf_counter() - t0:.0f} s (untimed)")
                figures = {m: Figures() for m in methods}
                for i in range(n + warmup):
                    # Each round starts one method later: none always follows the same one.
                    for method in methods[i % len(methods):] + methods[:i % len(methods)]:
                        span = bench.sign_one(method, docs[method][i])
                        if i >= warmup:
                            figures[method].spans.append(span)
                print("\nOne signature (server side only; the signer's part excluded):")
                report_singles(figures)
                # Two rounds, the second in reverse order, so that neither end of the
                # sequence weighs on one method alone.
                batches = {m: (0, Span()) for m in batch_docs}
                for r, order in enumerate((list(batch_docs), list(reversed(batch_docs)))):
                    for m in order:
                        one = bench.sign_batch(m, batch_docs[m][r])
                        done, total = batches[m]
                        batches[m] = (done + batch, Span(total.wall + one.wall,
                                                         total.cpu + one.cpu, total.db + one.db))
                print(f"\nBatch of {batch} documents, one confirmation (2 batches per method, "
                      "the second round in reverse order; totals and means over both):")
                report_batches(batches, batch)
                for method in profiled:
                    profile(bench, method, profile_docs[method])
                print("\n" + json.dumps({"load_after": [round(x, 2) for x in
                                                        os.getloadavg()]}))
        finally:
            write.close()


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="signatures per method")
    parser.add_argument("--batch", type=int, default=50, help="documents per batch")
    parser.add_argument("--quick", action="store_true", help="n=3, batch=5: a smoke test")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated, server first (default: all)")
    parser.add_argument("--profile", default="", metavar="METHODS",
                        help="comma-separated: profile these after measuring (cProfile)")
    args = parser.parse_args()
    methods = tuple(args.methods.split(","))
    profiled = tuple(m for m in args.profile.split(",") if m)
    if methods[0] != "server" or not set(methods) <= set(METHODS):
        parser.error(f"methods: server first, then any of {', '.join(METHODS)}")
    if not set(profiled) <= set(methods):
        parser.error("--profile: only methods that are measured")
    if args.quick:
        run(3, 1, 5, methods, profiled)
    else:
        run(args.n, 3, args.batch, methods, profiled)


if __name__ == "__main__":
    main()
