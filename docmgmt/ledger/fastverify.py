"""The fast verification pass: the whole log hashed in chunks, on every core, in one snapshot.

``docmgmt verify`` first runs this pass. It recomputes every leaf from the stored event
bytes and every interior node of the tree with OpenSSL's SHA-256 (the library hashlib
uses), exactly as the row-by-row pass in :mod:`docmgmt.ledger.verify` defines them, but
it moves the work off the per-row path:

* PostgreSQL assembles each event's canonical leaf bytes (:mod:`docmgmt.ledger.leaf`,
  a plain concatenation of the stored columns; no hashing on the server) and returns a
  chunk of 8,192 events as one byte string in binary format, so one row crosses the wire
  per chunk and nothing is decoded per event in Python;
* the leaves and every level of nodes are hashed a whole chunk per call, in C
  (:mod:`docmgmt.ledger.bulkhash`; its pure-Python definitions where it was not built);
* chunks are aligned to the tree (chunk *i* holds leaves ``i*C .. i*C+C-1``), so each
  chunk's subtree, and every checkpoint cut inside it, is computed by a worker process on
  its own; the parent only folds one root per chunk into a compact range and compares
  checkpoint roots;
* every worker reads inside the same exported snapshot, so the pass sees one consistent
  log however long it runs.

A chunk is "clean" when its recomputed leaf hashes are, in order, the ledger's leaf hashes
for the same range of positions (a leaf hash covers the position, the aggregate id and
version, the topic and the state, so this also catches a moved, deleted or inserted
event). The pass
gives a report only when every chunk is clean and every checkpoint root matches; on the
first difference of any kind it stops and returns ``None``, and the caller runs the
row-by-row pass, which names the first event that does not match.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

from docmgmt.ledger.bulkhash import leaf_hashes
from docmgmt.ledger.checkpoint import CheckpointCheck, StoredCheckpoint, check_checkpoint
from docmgmt.ledger.leaf import LEAF_TAG, LEAF_VERSION
from docmgmt.ledger.merkle import LEAF_PREFIX, CompactRange, TreeLevels

CHUNK = 1 << 13
MIN_POSITION = -(1 << 63)
# Logs shorter than this are verified in process: starting workers would cost more.
PARALLEL_FROM = 4 * CHUNK

# What each leaf hash covers before the stream's bytes: the RFC 9162 leaf byte 0x00, then
# the canonical leaf's tag and layout version (docmgmt.ledger.leaf).
_LEAF_HEAD = LEAF_PREFIX + LEAF_TAG + bytes([LEAF_VERSION])
# The rest of an event's canonical leaf bytes (docmgmt.ledger.leaf, after tag and version),
# in PostgreSQL's binary send formats: NULL when the topic or the state is NULL (then
# count(leaf) < count(*)).
_CANONICAL = (
    "pg_catalog.int8send(e.notification_id)"
    " || pg_catalog.uuid_send(e.originator_id) || pg_catalog.int8send(e.originator_version)"
    " || pg_catalog.int4send(pg_catalog.octet_length(t.topic)) || t.topic"
    " || pg_catalog.int8send(pg_catalog.octet_length(e.state)::int8) || e.state")
# Built from constants of this module only; every value goes as a parameter: the ledger
# head, then the chunk's start (exclusive) and size.
_EVENTS = (
    "SELECT count(*), count(leaf), count(*) FILTER (WHERE notification_id <= %s),"  # noqa: S608
    " max(notification_id), pg_catalog.string_agg(leaf, ''::bytea ORDER BY notification_id)"
    f" FROM (SELECT e.notification_id, {_CANONICAL} AS leaf"
    "  FROM docmgmt.docmgmt_events AS e"
    "  CROSS JOIN LATERAL (SELECT pg_catalog.convert_to(e.topic, 'UTF8') AS topic) AS t"
    "  WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s) AS chunk")
_LEAVES = ("SELECT pg_catalog.string_agg(leaf_hash, ''::bytea ORDER BY position)"
           " FROM docmgmt.ledger_leaves WHERE position > %s AND position <= %s")
_NEXT = ("SELECT notification_id FROM docmgmt.docmgmt_events WHERE notification_id > %s"
         " ORDER BY notification_id OFFSET %s LIMIT 1")


@dataclass(frozen=True)
class ChunkResult:
    """One clean chunk: its size, last position, pending count and subtree roots.

    ``cuts`` maps each requested offset inside the chunk (including ``size``) to the
    roots of the perfect subtrees covering the chunk's first ``offset`` leaves, largest
    first, as (height, root).
    """

    size: int
    last_position: int
    pending: int
    cuts: dict[int, list[tuple[int, bytes]]]


def hash_chunk(conn: psycopg.Connection[Any], after: int, limit: int, head: int,
               cuts: Sequence[int]) -> ChunkResult | None:
    """Hash the ``limit`` events after position ``after``; None if anything differs.

    ``head`` is the last position the ledger has processed: events after it are pending
    (hashed into the tree, but without a ledger leaf to compare).
    """
    row = conn.execute(_EVENTS, (head, after, limit), binary=True).fetchone()
    if row is None or not row[0]:
        return ChunkResult(0, after, 0, {0: []}) if not cuts or max(cuts) == 0 else None
    count, hashable, done, last, stream = row
    if hashable != count:
        return None
    # ``done``: how many of the chunk's events (the first ones) the ledger has processed.
    leaves = leaf_hashes(_LEAF_HEAD, stream)
    if len(leaves) != 32 * count:
        return None
    stored = conn.execute(_LEAVES, (after, last), binary=True).fetchone()
    # The leaf hash covers the position, aggregate id and version, topic and state, so
    # equal sequences of leaf hashes mean the same events in the same order.
    if bytes(stored[0] or b"" if stored else b"") != leaves[:32 * done]:
        return None
    if any(cut > count for cut in cuts):
        return None
    tree = TreeLevels(leaves)
    return ChunkResult(count, last, count - done,
                       {cut: tree.blocks(0, cut) for cut in {*cuts, count}})


# A chunk crosses the wire as one value of a few megabytes, built and sent by the server
# backend and received here. glibc's malloc serves blocks that size from fresh mappings and
# unmaps them on free (its mmap threshold starts at 128 KiB), so every chunk would be
# page-faulted in again on both sides: some 2,000 faults a chunk, which cost more than
# the hashing on this kind of virtual machine. Freeing one block of ROOMY bytes raises the
# threshold to that size and the trim threshold to twice it, for the rest of the process
# (glibc's documented dynamic mmap threshold, see mallopt(3)), so later chunks reuse the
# same memory. With another allocator it is one short-lived allocation.
ROOMY = 8 << 20
_ROOMY_SERVER = ("SELECT pg_catalog.octet_length(pg_catalog.repeat("
                 "pg_catalog.repeat(pg_catalog.repeat('x', 64), 64), %s))")
# A worker makes itself roomy (about 15 ms, mostly the server's page faults) when it can
# expect this many chunks or more; each later chunk saves about 9 ms.
ROOMY_FROM = 3


def make_roomy(conn: psycopg.Connection[Any]) -> None:
    """Let this process and ``conn``'s server backend keep chunk-sized blocks once freed."""
    block = bytes(ROOMY)  # calloc'd: no page of it is touched
    del block
    conn.execute(_ROOMY_SERVER, (ROOMY // 4096,))


# Worker processes: one connection each, inside the snapshot the parent exported.
_worker_conn: psycopg.Connection[Any] | None = None


def _init_worker(conninfo: str, snapshot: str, roomy: bool) -> None:
    global _worker_conn
    conn = psycopg.connect(conninfo, autocommit=True)
    # Explicitly, so that SET TRANSACTION SNAPSHOT is the transaction's first statement.
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    if roomy:
        make_roomy(conn)
    _worker_conn = conn


def _worker_chunk(after: int, limit: int, head: int, cuts: tuple[int, ...]
                  ) -> ChunkResult | None:
    if _worker_conn is None:
        raise RuntimeError("the verification worker was started without its connection")
    return hash_chunk(_worker_conn, after, limit, head, cuts)


@dataclass
class FastReport:
    """What a clean fast pass established."""

    events: int
    pending: int
    checkpoints_checked: int
    root: bytes


def _push_blocks(tree: CompactRange, blocks: list[tuple[int, bytes]]) -> None:
    for height, root in blocks:
        tree.append_subtree(root, height)


def worker_count(conn: psycopg.Connection[Any], workers: int | None) -> int:
    """``workers`` as asked, or by default one per core for logs of
    :data:`PARALLEL_FROM` events or more and 0 (in process) for shorter ones."""
    if workers is not None:
        return max(workers, 0)
    return (os.cpu_count() or 1) if _span(conn) >= PARALLEL_FROM else 0


def _span(conn: psycopg.Connection[Any]) -> int:
    """How far apart the log's first and last positions are (its length, without gaps)."""
    top = conn.execute("SELECT coalesce(max(notification_id), 0) - coalesce("
                       "min(notification_id), 0) FROM docmgmt.docmgmt_events").fetchone()
    return int(top[0]) if top else 0


@contextlib.contextmanager
def worker_pool(conn: psycopg.Connection[Any], conninfo: str, workers: int,
                chunk: int = CHUNK) -> Iterator[Executor | None]:
    """``workers`` processes reading inside ``conn``'s snapshot (None for 0)."""
    if workers <= 0:
        yield None
        return
    roomy = _span(conn) >= ROOMY_FROM * chunk * workers
    exported = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
    snapshot = str(exported[0]) if exported else ""
    # fork starts workers at once and without re-importing anything, but is only safe in
    # a process with no other thread (the CLI); otherwise forkserver.
    if threading.active_count() == 1:
        context: Any = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_init_worker,
                                   initargs=(conninfo, snapshot, roomy))
    try:
        yield executor
    finally:
        executor.shutdown(cancel_futures=True)


def fast_verify(conn: psycopg.Connection[Any], conninfo: str,
                checkpoints: list[tuple[int, bytes]], head: int,
                workers: int | None = None, chunk: int = CHUNK,
                executor: Executor | None = None) -> FastReport | None:
    """Verify the log seen by ``conn``'s open REPEATABLE READ transaction, or return None.

    ``workers``: processes to use (see :func:`worker_count`); with ``executor`` (from
    :func:`worker_pool` over the same snapshot), how many it has. ``chunk`` must be a
    power of two.
    """
    if chunk <= 0 or chunk & (chunk - 1):
        raise ValueError("the chunk size must be a power of two")
    if executor is not None:
        return _run(conn, executor, checkpoints, head, max(workers or 1, 1), chunk)
    count = worker_count(conn, workers)
    with worker_pool(conn, conninfo, count, chunk) as pool:
        return _run(conn, pool, checkpoints, head, max(count, 1), chunk)


def _run(conn: psycopg.Connection[Any], executor: Executor | None,
         checkpoints: list[tuple[int, bytes]], head: int, width: int, chunk: int,
         ) -> FastReport | None:
    tree = CompactRange()
    pending = checked = 0
    wanted = iter(checkpoints)
    check = next(wanted, None)
    while check is not None and check[0] == 0:  # an empty tree's checkpoint
        if check[1] != tree.root():
            return None
        checked += 1
        check = next(wanted, None)
    in_flight: deque[tuple[int, Future[ChunkResult | None] | ChunkResult | None]] = deque()
    after: int | None = MIN_POSITION
    index = 0  # the leaf index of the next chunk to submit
    last_position = MIN_POSITION

    def cuts_in(start: int) -> tuple[int, ...]:
        return tuple(size - start for size, _ in checkpoints if start < size <= start + chunk)

    while True:
        while after is not None and len(in_flight) < 2 * width:
            job = (after, chunk, head, cuts_in(index))
            if executor is None and index == (ROOMY_FROM - 1) * chunk:
                make_roomy(conn)
            in_flight.append((index, executor.submit(_worker_chunk, *job) if executor
                              else hash_chunk(conn, *job)))
            index += chunk
            nxt = conn.execute(_NEXT, (after, chunk - 1)).fetchone()
            after = None if nxt is None else int(nxt[0])
        if not in_flight:
            break
        start, pending_result = in_flight.popleft()
        result = pending_result.result() if isinstance(pending_result, Future) else pending_result
        if result is None:
            return None
        for size, root in checkpoints:
            if start < size <= start + result.size:
                probe = tree.copy()
                _push_blocks(probe, result.cuts[size - start])
                if probe.root() != root:
                    return None
                checked += 1
        _push_blocks(tree, result.cuts[result.size])
        pending += result.pending
        if result.size:
            last_position = result.last_position
        if result.size < chunk:
            break
    if checked != len(checkpoints):  # a checkpoint covers more events than exist
        return None
    beyond = conn.execute("SELECT count(*) FROM docmgmt.ledger_leaves WHERE position > %s",
                          (last_position,)).fetchone()
    if beyond is None or beyond[0]:
        return None
    return FastReport(tree.size, pending, checked, tree.root())


def check_checkpoints(stored: list[StoredCheckpoint]) -> list[CheckpointCheck]:
    """:func:`~docmgmt.ledger.checkpoint.check_checkpoint` of each (run in a worker)."""
    return [check_checkpoint(cp) for cp in stored]
