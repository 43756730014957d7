"""`docmgmt verify`: recompute the Merkle log from the stored events and compare.

First every stored checkpoint is checked on its own, smallest tree first: its note must
state the stored size, root and time; its signature must verify with the stored signer
certificate; its RFC 3161 token must cover SHA-256 of the note body and carry a valid TSA
signature (integrity only: neither certificate is validated against a trust root here).
Then one streaming pass over the events in notification order, merged with the ledger's
leaves and the checkpoint roots. All of it runs inside one read-only REPEATABLE READ
snapshot, and it stops at the first problem and says what differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from docmgmt.application import APP_NAME
from docmgmt.ledger.checkpoint import StoredCheckpoint, check_checkpoint
from docmgmt.ledger.leaf import event_leaf_hash
from docmgmt.ledger.merkle import CompactRange

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
    root: bytes = b""
    problem: Discrepancy | None = None
    checkpoint_sizes: list[int] = field(default_factory=list)
    # Tree size -> the TSA's genTime of that checkpoint's RFC 3161 token.
    timestamp_times: dict[int, datetime] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the log verified clean."""
        return self.problem is None

    def summary(self) -> str:
        """Human-readable result."""
        if self.problem is not None:
            return f"FAILED: {self.problem}"
        text = (f"OK: {self.events} events, {self.leaves_matched} match the ledger, "
                f"{self.checkpoints_checked} checkpoint root(s) match, "
                f"{self.checkpoints_signed} checkpoint signature(s) and timestamp(s) valid; "
                f"tree size {self.events}, root {self.root.hex()}")
        if self.pending:
            text += f"; {self.pending} newest event(s) not yet in the ledger"
        if self.timestamp_times:
            size, when = max(self.timestamp_times.items())
            text += f"; newest checkpoint (tree size {size}) timestamped {when.isoformat()}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "events": self.events, "leaves_matched": self.leaves_matched,
                "pending": self.pending, "checkpoints_checked": self.checkpoints_checked,
                "checkpoints_signed": self.checkpoints_signed,
                "timestamp_times": {str(n): t.isoformat()
                                    for n, t in self.timestamp_times.items()},
                "tree_size": self.events, "root": self.root.hex(),
                "problem": None if self.problem is None else self.problem.as_dict()}


def _rows(conn: psycopg.Connection[Any], name: str, query: str) -> Iterator[tuple[Any, ...]]:
    with conn.cursor(name=name) as cur:
        cur.itersize = FETCH
        cur.execute(query)
        yield from cur


def verify_log(conninfo: str) -> VerifyReport:
    """Verify every event against the ledger leaves and every checkpoint root."""
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            row = conn.execute("SELECT notification_id FROM docmgmt.ledger_tracking"
                               " WHERE application_name = %s", (APP_NAME,)).fetchone()
            ledger_head = int(row[0]) if row else 0
            stored = [StoredCheckpoint(*row) for row in conn.execute(
                "SELECT tree_size, root_hash, created_at, note, signature, signer_certificate,"
                " timestamp_token FROM docmgmt.ledger_checkpoints ORDER BY tree_size")]
            signed = VerifyReport(checkpoint_sizes=[cp.tree_size for cp in stored])
            for cp in stored:
                outcome = check_checkpoint(cp)
                if outcome.problem is not None:
                    signed.problem = Discrepancy(outcome.kind, None, None, None,
                                                 outcome.problem, checkpoint=cp.tree_size)
                    return signed
                if outcome.timestamp_time is not None:
                    signed.timestamp_times[cp.tree_size] = outcome.timestamp_time
                signed.checkpoints_signed += 1
            checkpoints = [(cp.tree_size, cp.root_hash) for cp in stored]
            events = _rows(conn, "verify_events",
                           "SELECT notification_id, originator_id, originator_version, topic,"
                           " state FROM docmgmt.docmgmt_events ORDER BY notification_id")
            leaves = _rows(conn, "verify_leaves",
                           "SELECT position, originator_id, originator_version, leaf_hash"
                           " FROM docmgmt.ledger_leaves ORDER BY position")
            report = _compare(events, leaves, checkpoints, ledger_head)
            report.checkpoints_signed = signed.checkpoints_signed
            report.timestamp_times = signed.timestamp_times
            return report


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
