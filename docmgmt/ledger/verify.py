"""`docmgmt verify`: recompute the Merkle log from the stored events and compare.

First every stored checkpoint is checked on its own, smallest tree first: its note must
state the stored size, root and time; its signature must verify with the stored signer
certificate; its RFC 3161 token must cover SHA-256 of the note body and carry a valid TSA
signature. Given trust roots, the signer's and the TSA's certificates must also chain to
one of them and be valid at the timestamp's time (the same check as ``verify-bundle``);
without roots the report says plainly that they were not checked. Then the events: first
the chunked pass of :mod:`docmgmt.ledger.fastverify` (every leaf and node recomputed, on
every core); if it finds any difference, one streaming pass over the events in
notification order, merged with the ledger's leaves and the checkpoint roots, which stops
at the first problem and says what differs. Last, the state root each format-2 checkpoint
signs is recomputed from the events (alongside the hashing when there are workers). All of
it runs inside one read-only REPEATABLE READ snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from cryptography import x509

from docmgmt.kernel.store import APP_NAME
from docmgmt.ledger.bundle_verify import (
    NOT_CHECKED_EN,
    NOT_CHECKED_VI,
    SIGNER_TRUST,
    TSA_TRUST,
    TrustVerdict,
    check_trust,
    load_certificates,
    load_crls,
    timestamp_signer,
)
from docmgmt.ledger.checkpoint import STORED_CHECKPOINTS, StoredCheckpoint, check_checkpoint
from docmgmt.ledger.fastverify import (
    fast_verify,
    worker_count,
    worker_pool,
)
from docmgmt.ledger.leaf import event_leaf_hash
from docmgmt.ledger.merkle import CompactRange
from docmgmt.ledger.state_tree import state_root_problem

FETCH = 5000


@dataclass(frozen=True)
class Discrepancy:
    """The first place where the events and the ledger disagree."""

    kind: str
    position: int | None
    originator_id: UUID | None
    originator_version: int | None
    detail: str
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = "" if self.position is None else f"position {self.position}"
        if self.checkpoint is not None:
            where = f"checkpoint at tree size {self.checkpoint}"
        if self.originator_id is not None:
            where += f", aggregate {self.originator_id} version {self.originator_version}"
        return f"{self.kind}: {where}: {self.detail}" if where else f"{self.kind}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "position": self.position,
                "originator_id": None if self.originator_id is None else str(self.originator_id),
                "originator_version": self.originator_version, "detail": self.detail,
                "checkpoint": self.checkpoint}


@dataclass
class VerifyReport:
    """What one verification pass saw; ``problem`` is None when everything matched."""

    events: int = 0
    leaves_matched: int = 0
    pending: int = 0
    checkpoints_checked: int = 0
    checkpoints_signed: int = 0
    # Format-2 checkpoints whose signed state root matches the events' last versions.
    state_roots_checked: int = 0
    root: bytes = b""
    problem: Discrepancy | None = None
    checkpoint_sizes: list[int] = field(default_factory=list)
    # Tree size -> the TSA's genTime of that checkpoint's RFC 3161 token.
    timestamp_times: dict[int, datetime] = field(default_factory=dict)
    # Whether trust roots were given; then ``trust`` holds one verdict per named check.
    trust_checked: bool = False
    trust: list[TrustVerdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the log verified clean."""
        return self.problem is None

    def summary(self) -> str:
        """Human-readable result: one verdict line, then the trust checks in EN and VI."""
        if self.problem is not None:
            return f"FAILED: {self.problem}" + self._trust_lines()
        text = (f"OK: {self.events} events, {self.leaves_matched} match the ledger, "
                f"{self.checkpoints_checked} checkpoint root(s) match, "
                f"{self.checkpoints_signed} checkpoint signature(s) and timestamp(s) valid, "
                f"{self.state_roots_checked} state root(s) match; "
                f"tree size {self.events}, root {self.root.hex()}")
        if self.pending:
            text += f"; {self.pending} newest event(s) not yet in the ledger"
        if self.timestamp_times:
            size, when = max(self.timestamp_times.items())
            text += f"; newest checkpoint (tree size {size}) timestamped {when.isoformat()}"
        return text + self._trust_lines()

    def _trust_lines(self) -> str:
        lines = [f"[{'PASS' if t.ok else 'FAIL'}] {t.name}\n    EN: {t.en}\n    VI: {t.vi}"
                 for t in self.trust]
        if not self.trust_checked:
            lines.append("[NOT CHECKED] trust anchor / chứng thư gốc tin cậy\n"
                         f"    EN: {NOT_CHECKED_EN}\n    VI: {NOT_CHECKED_VI}")
        elif not self.trust and self.problem is None:
            lines.append("[NOT CHECKED] trust anchor / chứng thư gốc tin cậy\n"
                         "    EN: there is no signed checkpoint yet, so no certificate was "
                         "checked against the trust roots\n"
                         "    VI: chưa có mốc kiểm tra nào được ký nên chưa có chứng thư nào "
                         "được đối chiếu với chứng thư gốc tin cậy")
        return "".join("\n" + line for line in lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "events": self.events, "leaves_matched": self.leaves_matched,
                "pending": self.pending, "checkpoints_checked": self.checkpoints_checked,
                "checkpoints_signed": self.checkpoints_signed,
                "state_roots_checked": self.state_roots_checked,
                "timestamp_times": {str(n): t.isoformat()
                                    for n, t in self.timestamp_times.items()},
                "tree_size": self.events, "root": self.root.hex(),
                "trust_checked": self.trust_checked,
                "trust": [{"name": t.name, "ok": t.ok, "en": t.en, "vi": t.vi}
                          for t in self.trust],
                "problem": None if self.problem is None else self.problem.as_dict()}


def _rows(conn: psycopg.Connection[Any], name: str, query: str) -> Iterator[tuple[Any, ...]]:
    with conn.cursor(name=name) as cur:
        cur.itersize = FETCH
        cur.execute(query)
        yield from cur


def verify_log(
    conninfo: str, trust_roots: Sequence[x509.Certificate] | None = None,
    intermediates: Sequence[x509.Certificate] = (), *, workers: int | None = None,
    fast: bool = True,
) -> VerifyReport:
    """Verify every event against the ledger leaves and every checkpoint root.

    With ``trust_roots`` every checkpoint's signer and TSA certificates must chain to one of
    them (``intermediates`` may link them); a certificate that does not is the problem.
    The chunked pass of :mod:`docmgmt.ledger.fastverify` runs first (``workers`` threads
    besides this one; None: one per core beyond the first, for long logs); only if it
    finds a difference, or with ``fast=False``, does the row-by-row pass run, to name the
    first event that differs.
    """
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            # The workers connect while the ledger's head and checkpoints are read.
            count = worker_count(conn, workers) if fast else 0
            with worker_pool(conn, conninfo, count) as pool:
                row = conn.execute("SELECT notification_id FROM docmgmt.ledger_tracking"
                                   " WHERE application_name = %s", (APP_NAME,)).fetchone()
                ledger_head = int(row[0]) if row else 0
                stored = [StoredCheckpoint(*row) for row in conn.execute(
                    STORED_CHECKPOINTS + " ORDER BY tree_size")]
                signed = VerifyReport(checkpoint_sizes=[cp.tree_size for cp in stored],
                                      trust_checked=bool(trust_roots))
                checkpoints = [(cp.tree_size, bytes(cp.root_hash)) for cp in stored]
                # Checkpoint signatures and timestamps are checked in a thread of their
                # own, alongside the hashing; their verdicts are read in tree-size order.
                # With workers, the signed state roots are recomputed there too, on a
                # connection of that thread's own in the same snapshot; their verdict
                # counts only if the events verify.
                with ThreadPoolExecutor(1, thread_name_prefix="verify-checkpoints") as checker:
                    checks = checker.submit(list, map(check_checkpoint, stored))
                    states = None if pool is None else checker.submit(
                        lambda: state_root_problem(pool.connection(), _signed_states(stored)))
                    clean = fast_verify(conn, conninfo, checkpoints, ledger_head, count,
                                        executor=pool) if fast else None
                    outcomes = checks.result()
                    state_problem = _NOT_CHECKED if states is None else states.result()
                for cp, outcome in zip(stored, outcomes, strict=True):
                    if outcome.problem is not None:
                        signed.problem = Discrepancy(outcome.kind, None, None, None,
                                                     outcome.problem, checkpoint=cp.tree_size)
                        return signed
                    if outcome.timestamp_time is not None:
                        signed.timestamp_times[cp.tree_size] = outcome.timestamp_time
                    signed.checkpoints_signed += 1
                    if trust_roots:
                        failed = _check_trust(cp, list(trust_roots), list(intermediates),
                                              signed)
                        if failed is not None:
                            signed.problem = Discrepancy(
                                failed.name.replace(" ", "-"), None, None, None, failed.en,
                                checkpoint=cp.tree_size)
                            return signed
            if clean is not None:
                signed.events, signed.pending = clean.events, clean.pending
                signed.leaves_matched = clean.events - clean.pending
                signed.checkpoints_checked, signed.root = clean.checkpoints_checked, clean.root
                return _check_states(conn, stored, signed, state_problem)
            events = _rows(conn, "verify_events",
                           "SELECT notification_id, originator_id, originator_version, topic,"
                           " state FROM docmgmt.docmgmt_events ORDER BY notification_id")
            leaves = _rows(conn, "verify_leaves",
                           "SELECT position, originator_id, originator_version, leaf_hash"
                           " FROM docmgmt.ledger_leaves ORDER BY position")
            report = _compare(events, leaves, checkpoints, ledger_head)
            report.checkpoints_signed = signed.checkpoints_signed
            report.timestamp_times = signed.timestamp_times
            report.trust_checked, report.trust = signed.trust_checked, signed.trust
            return _check_states(conn, stored, report, state_problem) if report.ok else report


# A state-root pass not run yet (None is its verdict when every state root matches).
_NOT_CHECKED: tuple[int, str] = (-1, "the state-root pass has not run")


def _signed_states(stored: list[StoredCheckpoint]) -> list[tuple[int, tuple[int, bytes]]]:
    return [(cp.tree_size, state) for cp in stored if (state := cp.state) is not None]


def _check_states(conn: psycopg.Connection[Any], stored: list[StoredCheckpoint],
                  report: VerifyReport,
                  found: tuple[int, str] | None = _NOT_CHECKED) -> VerifyReport:
    """Format-2 checkpoints: the state root they sign must be that of the events (the
    events already match the leaves; this proves each aggregate's last version).
    ``found``: the state-root pass's verdict, when it has run already in this snapshot."""
    signed = _signed_states(stored)
    if found is _NOT_CHECKED:
        found = state_root_problem(conn, signed)
    if found is not None:
        report.problem = Discrepancy("state-root", None, None, None, found[1],
                                     checkpoint=found[0])
    report.state_roots_checked = len(signed) if found is None else 0
    return report


def _check_trust(cp: StoredCheckpoint, roots: list[x509.Certificate],
                 intermediates: list[x509.Certificate], report: VerifyReport,
                 ) -> TrustVerdict | None:
    """Check one (already integrity-checked) checkpoint's certificates against the roots.

    ``report.trust`` keeps the newest verdict of each check, with the count of checkpoints
    so far; the first failing verdict is returned.
    """
    try:  # check_checkpoint has parsed both already; this is belt and braces
        stamp = timestamp_signer(bytes(cp.timestamp_token or b""))
        signer = x509.load_der_x509_certificate(bytes(cp.signer_certificate or b""))
        stored_chain = load_certificates(bytes(cp.signer_chain)) if cp.signer_chain else []
        crls = load_crls(bytes(cp.revocation_info)) if cp.revocation_info else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        failed = TrustVerdict(SIGNER_TRUST, False, f"the certificates cannot be read ({exc})",
                              f"không đọc được các chứng thư ({exc})")
        report.trust = [failed]
        return failed
    pool = [*intermediates, *stamp.embedded, *stored_chain]
    verdicts = [check_trust(SIGNER_TRUST, signer, roots, pool, stamp.gen_time, crls=crls)]
    verdicts.append(
        TrustVerdict(TSA_TRUST, False, "the timestamp token carries no TSA certificate",
                     "dấu thời gian không kèm chứng thư của tổ chức cấp dấu thời gian")
        if stamp.tsa is None else
        check_trust(TSA_TRUST, stamp.tsa, roots, pool, stamp.gen_time, tsa=True, crls=crls))
    where = f"checkpoint at tree size {cp.tree_size}"
    noi = f"mốc kiểm tra tại kích thước cây {cp.tree_size}"
    count = report.checkpoints_signed
    report.trust = [
        TrustVerdict(v.name, v.ok,
                     f"{where}" + (f" (and the {count - 1} before it)" if v.ok and count > 1
                                   else "") + f": {v.en}",
                     f"{noi}" + (f" (và {count - 1} mốc trước đó)" if v.ok and count > 1
                                 else "") + f": {v.vi}")
        for v in verdicts]
    return next((v for v in verdicts if not v.ok), None)


def _compare(
    events: Iterator[tuple[Any, ...]], leaves: Iterator[tuple[Any, ...]],
    checkpoints: list[tuple[int, bytes]], ledger_head: int,
) -> VerifyReport:
    report = VerifyReport(checkpoint_sizes=[n for n, _ in checkpoints])
    tree = CompactRange()
    pending_checks = iter(checkpoints)
    check = next(pending_checks, None)

    def check_roots() -> Discrepancy | None:
        nonlocal check
        while check is not None and check[0] <= tree.size:
            size, root = check
            if size == tree.size and tree.root() != root:
                return Discrepancy(
                    "checkpoint", None, None, None,
                    f"the root of the first {size} events is {tree.root().hex()}, "
                    f"the checkpoint at tree size {size} says {root.hex()}: an event before "
                    "it was changed together with its ledger leaf", checkpoint=size)
            report.checkpoints_checked += 1
            check = next(pending_checks, None)
        return None

    report.problem = check_roots()
    ev = next(events, None)
    lf = next(leaves, None)
    while report.problem is None and (ev is not None or lf is not None):
        if lf is not None and (ev is None or lf[0] < ev[0]):
            report.problem = Discrepancy(
                "deleted", int(lf[0]), lf[1], int(lf[2]),
                "the ledger recorded this event but it is no longer in the event store")
            break
        if ev is None:  # pragma: no cover - excluded by the loop condition
            break
        position, originator_id, version, topic, state = ev
        if topic is None or state is None:
            report.problem = Discrepancy("altered", position, originator_id, version,
                                         "the stored topic or state is NULL")
            break
        leaf = event_leaf_hash(position, originator_id, version, topic, bytes(state))
        if lf is None or lf[0] > position:
            if position <= ledger_head:
                report.problem = Discrepancy(
                    "inserted", position, originator_id, version,
                    f"the event is not in the ledger, which had processed every event up "
                    f"to position {ledger_head}: it was inserted afterwards")
                break
            report.pending += 1
        elif (lf[1], lf[2]) != (originator_id, version):
            report.problem = Discrepancy(
                "reordered", position, originator_id, version,
                f"the ledger recorded aggregate {lf[1]} version {lf[2]} at this position: "
                "events were moved, swapped or replaced")
            break
        elif bytes(lf[3]) != leaf:
            report.problem = Discrepancy(
                "altered", position, originator_id, version,
                f"the topic or stored state differs from what the ledger recorded "
                f"(leaf {leaf.hex()}, recorded {bytes(lf[3]).hex()})")
            break
        else:
            report.leaves_matched += 1
            lf = next(leaves, None)
        tree.append(leaf)
        report.events += 1
        report.problem = check_roots()
        ev = next(events, None)
    if report.problem is None and check is not None:
        report.problem = Discrepancy(
            "deleted", None, None, None,
            f"a checkpoint covers {check[0]} events but only {tree.size} exist: "
            "events at the end were removed")
    report.root = tree.root()
    return report
