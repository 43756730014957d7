"""The state tree between checkpoints: what a checkpoint after 1,000 events costs.

In process, no database: a state tree of N aggregates (default 1,000,000), then batches
of 1,000 events as a checkpointer would apply them (``StateTree.apply`` + ``root``):
all to existing aggregates, then a quarter of them new aggregates at random ids; beside
them, what recomputing the tree from the leaf hashes, and from the entries, would cost.
Prints median and max over the rounds; asserts nothing about timing.

With ``--log EVENTS``: instead, a whole log as ``docmgmt verify`` recomputes it, one state
root per checkpoint of ``--events`` events from the first event on. Each event goes to a
new aggregate (random id) with probability 1/``--per-aggregate``, otherwise to one of the
``--active`` newest aggregates (documents are worked on for a while after they are made).
Each checkpoint's entries are handed over sorted and hashed, as PostgreSQL does for
``state_root_problem``; only the tree's work (``apply_sorted`` + ``root``) is timed. Prints
the total, the cost of the last checkpoints, and the same for a log of a tenth of the size.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from array import array
from collections.abc import Callable
from uuid import UUID

from docmgmt.ledger.bulkhash import ACCELERATED
from docmgmt.ledger.merkle import TreeLevels
from docmgmt.ledger.state_leaf import StateEntry, state_root
from docmgmt.ledger.state_tree import StateTree


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _whole_log(events: int, per_aggregate: float, active: int, every: int,
               rng: random.Random) -> tuple[float, int, list[float]]:
    """(seconds of tree work, aggregates at the end, seconds per checkpoint) of recomputing
    one state root per ``every`` events over a log of ``events`` events."""
    tree = StateTree()
    ids: list[bytes] = []
    versions: dict[bytes, int] = {}
    position, each = 0, []
    while position < events:
        latest: dict[bytes, tuple[int, int]] = {}
        for _ in range(min(every, events - position)):
            position += 1
            if not ids or rng.random() * per_aggregate < 1:
                key = rng.getrandbits(128).to_bytes(16, "big")
                ids.append(key)
                versions[key] = 0
            else:
                key = ids[-1 - int(rng.random() * min(len(ids), active))]
            versions[key] += 1
            latest[key] = (versions[key], position)
        keys = sorted(latest)
        columns = (keys, array("q", [latest[k][0] for k in keys]),
                   array("q", [latest[k][1] for k in keys]),
                   b"".join(StateEntry(UUID(bytes=k), *latest[k]).leaf_hash() for k in keys))
        start = time.perf_counter()
        tree.apply_sorted(*columns)
        tree.root()
        each.append(time.perf_counter() - start)
    return sum(each), tree.size, each


def _log_figures(args: argparse.Namespace) -> None:
    for events in (args.log // 10, args.log):
        total, aggregates, each = _whole_log(events, args.per_aggregate, args.active,
                                             args.events, random.Random(16))
        last = statistics.median(each[-10:])
        print(f"log of {events:,} events, {len(each):,} checkpoints (one per {args.events:,}"
              f" events), {aggregates:,} aggregates at the end: the state roots' tree work"
              f" {total:.2f} s in all; the last checkpoints {last * 1000:.1f} ms each")


def main() -> None:
    """Run the rounds and print one line per measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aggregates", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--log", type=int, default=0,
                        help="a whole log of this many events instead (see above)")
    parser.add_argument("--per-aggregate", type=float, default=6.0)
    parser.add_argument("--active", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(16)
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, "
          f"compiled hashing {ACCELERATED}")
    if args.log:
        _log_figures(args)
        return
    entries = sorted((StateEntry(UUID(int=rng.getrandbits(128)), 1, n + 1)
                      for n in range(args.aggregates)), key=lambda e: e.aggregate_id.bytes)
    # As PostgreSQL hands them over (see state_tree.CHANGED_AFTER): sorted, hashed.
    columns = ([e.aggregate_id.bytes for e in entries],
               array("q", [e.last_version for e in entries]),
               array("q", [e.last_position for e in entries]),
               b"".join(e.leaf_hash() for e in entries))
    tree = StateTree()
    first = _timed(lambda: tree.apply_sorted(*columns))
    root_time = _timed(tree.root)
    print(f"first build of {args.aggregates:,} entries from sorted, hashed columns: "
          f"{first:.2f} s (then the root: {root_time * 1000:.1f} ms)")
    position = args.aggregates
    ids = [e.aggregate_id for e in entries]
    versions = {a: 1 for a in ids}

    def batch(new_share: float) -> list[StateEntry]:
        nonlocal position
        out = []
        for _ in range(args.events):
            position += 1
            if rng.random() < new_share:
                aggregate = UUID(int=rng.getrandbits(128))
                ids.append(aggregate)
                versions[aggregate] = 0
            else:
                aggregate = rng.choice(ids)
            versions[aggregate] += 1
            out.append(StateEntry(aggregate, versions[aggregate], position))
        return out

    for label, share in (("existing aggregates only", 0.0), ("25% new aggregates", 0.25)):
        times = []
        for _ in range(args.rounds):
            changes = batch(share)
            start = time.perf_counter()
            tree.apply(changes)
            tree.root()
            times.append(time.perf_counter() - start)
        print(f"checkpoint after {args.events:,} events, {label}: median "
              f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    leaves = tree.tree().leaf
    hashes = b"".join(leaves(i) for i in range(tree.size))
    print(f"rehash every node from cached leaf hashes: "
          f"{_timed(lambda: TreeLevels(hashes).root()):.2f} s")
    everything = [tree.entry(a) for a in set(ids)]
    print(f"state_root from the entries (every leaf hashed, sorted): "
          f"{_timed(lambda: state_root(e for e in everything if e is not None)):.2f} s")
    assert state_root(e for e in everything if e is not None) == (tree.size, tree.root())


if __name__ == "__main__":
    main()
