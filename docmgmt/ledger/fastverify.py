"""The fast verification pass: the whole log hashed in chunks, on every core, in one snapshot.

Each tree-aligned chunk of events comes back from PostgreSQL as a few byte strings of
canonical leaves, is hashed in bulk (:mod:`docmgmt.ledger.bulkhash`) and compared with the
ledger's own leaf hashes; worker threads share one exported snapshot, and the caller folds
one root per chunk and checks the checkpoint roots. Any difference returns ``None``, and
the row-by-row pass (:mod:`docmgmt.ledger.verify`) names the event (design and figures in
bench/README.md).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

from docmgmt.ledger.bulkhash import leaf_hashes
from docmgmt.ledger.leaf import LEAF_TAG, LEAF_VERSION
from docmgmt.ledger.merkle import LEAF_PREFIX, CompactRange, TreeLevels

CHUNK = 1 << 13
MIN_POSITION = -(1 << 63)
# Logs shorter than this are verified on the caller's connection only: opening another
# would cost more than it saves.
PARALLEL_FROM = 2 * CHUNK

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
# head, then the chunk's start (exclusive) and size. One row per group of up to
# 2**_GROUP_SHIFT consecutive positions, in order: every value stays a few kilobytes, so
# neither side allocates (and page-faults) a chunk-sized block per chunk.
_GROUP_SHIFT = 5
_EVENTS = (
    "SELECT count(*), count(leaf), count(*) FILTER (WHERE notification_id <= %s),"  # noqa: S608
    " max(notification_id), pg_catalog.string_agg(leaf, ''::bytea ORDER BY notification_id)"
    f" FROM (SELECT e.notification_id, {_CANONICAL} AS leaf"
    "  FROM docmgmt.docmgmt_events AS e"
    "  CROSS JOIN LATERAL (SELECT pg_catalog.convert_to(e.topic, 'UTF8') AS topic) AS t"
    "  WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s) AS chunk"
    f" GROUP BY notification_id >> {_GROUP_SHIFT} ORDER BY notification_id >> {_GROUP_SHIFT}")
# Sorting a chunk's events into their groups happens in memory up to this size: at
# PostgreSQL's default of 4 MB, a chunk of events averaging over some 500 bytes went to
# disk, and took nearly twice as long (bench/README.md). Set for the verifying
# transactions only.
_SORT_MEMORY = "SET LOCAL work_mem = '128MB'"
# Groups per result as psycopg streams them (libpq's chunked rows mode where it has it).
_GROUPS_PER_RESULT = 8
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


def _read_chunk(conn: psycopg.Connection[Any], after: int, limit: int, head: int,
                ) -> tuple[int, int, int, bytes] | None:
    """How many of the ``limit`` events after position ``after`` there are, how many of
    them (the first ones) are at positions up to ``head``, the last one's position, and
    their leaf hashes; None if a topic or a state is NULL or the leaves do not parse."""
    count = done = 0
    last = after
    clean = True
    leaves: list[bytes] = []
    with conn.cursor() as cur:
        # Every group is read, even after one that cannot be hashed, so that the
        # connection is left idle.
        for size, hashable, processed, top, stream in cur.stream(
                _EVENTS, (head, after, limit), binary=True, size=_GROUPS_PER_RESULT):
            count, done, last = count + size, done + processed, top
            clean = clean and hashable == size
            if clean:
                try:
                    leaves.append(leaf_hashes(_LEAF_HEAD, stream))
                except ValueError:
                    clean = False
    return (count, done, last, b"".join(leaves)) if clean else None


def hash_chunk(conn: psycopg.Connection[Any], after: int, limit: int, head: int,
               cuts: Sequence[int]) -> ChunkResult | None:
    """Hash the ``limit`` events after position ``after``; None if anything differs.

    ``head`` is the last position the ledger has processed: events after it are pending
    (hashed into the tree, but without a ledger leaf to compare).
    """
    read = _read_chunk(conn, after, limit, head)
    if read is None:
        return None
    # ``done``: how many of the chunk's events (the first ones) the ledger has processed.
    count, done, last, leaves = read
    if not count:
        return ChunkResult(0, after, 0, {0: []}) if not cuts or max(cuts) == 0 else None
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


class Workers(ThreadPoolExecutor):
    """Threads that each open their own connection, inside one exported snapshot, on
    first use (a connection that cannot be opened fails the job that needed it)."""

    def __init__(self, workers: int, conninfo: str, snapshot: str) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="verify")
        self.workers = workers
        self.conninfo, self.snapshot = conninfo, snapshot
        self.opened: list[psycopg.Connection[Any]] = []
        self._local = threading.local()

    def connection(self) -> psycopg.Connection[Any]:
        """This thread's connection, opened now if it has none."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = psycopg.connect(self.conninfo, autocommit=True)
        self.opened.append(conn)
        # Explicitly, so that SET TRANSACTION SNAPSHOT is the transaction's first statement
        # (one round trip: the snapshot's name is PostgreSQL's own, not the caller's).
        conn.execute(f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
                     f" SET TRANSACTION SNAPSHOT '{self.snapshot}'; {_SORT_MEMORY}")
        self._local.conn = conn
        return conn

    def hash_chunk(self, after: int, limit: int, head: int, cuts: tuple[int, ...],
                   ) -> ChunkResult | None:
        """:func:`hash_chunk` on this thread's connection."""
        return hash_chunk(self.connection(), after, limit, head, cuts)


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
    """``workers`` as asked, or by default, for logs of :data:`PARALLEL_FROM` events or
    more, one thread per core besides the caller's (which hashes its share of the chunks
    too), and none for shorter ones."""
    if workers is not None:
        return max(workers, 0)
    return (os.cpu_count() or 1) - 1 if _span(conn) >= PARALLEL_FROM else 0


def _span(conn: psycopg.Connection[Any]) -> int:
    """How far apart the log's first and last positions are (its length, without gaps)."""
    top = conn.execute("SELECT coalesce(max(notification_id), 0) - coalesce("
                       "min(notification_id), 0) FROM docmgmt.docmgmt_events").fetchone()
    return int(top[0]) if top else 0


@contextlib.contextmanager
def worker_pool(conn: psycopg.Connection[Any], conninfo: str, workers: int,
                ) -> Iterator[Workers | None]:
    """``workers`` threads, each with its own connection reading inside ``conn``'s snapshot
    (None for 0); every thread starts connecting at once, and every connection is closed
    on leaving."""
    if workers <= 0:
        yield None
        return
    exported = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
    pool = Workers(workers, conninfo, str(exported[0]) if exported else "")
    try:
        for _ in range(workers):
            pool.submit(pool.connection)
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
        for worker in pool.opened:
            worker.close()


def fast_verify(conn: psycopg.Connection[Any], conninfo: str,
                checkpoints: list[tuple[int, bytes]], head: int,
                workers: int | None = None, chunk: int = CHUNK,
                executor: Workers | None = None) -> FastReport | None:
    """Verify the log seen by ``conn``'s open REPEATABLE READ transaction, or return None.

    ``workers``: threads to use besides this one (see :func:`worker_count`), unless
    ``executor`` (from :func:`worker_pool` over the same snapshot) is given. ``chunk`` must
    be a power of two. Raises ``work_mem`` for the rest of the transaction (SET LOCAL).
    """
    if chunk <= 0 or chunk & (chunk - 1):
        raise ValueError("the chunk size must be a power of two")
    if executor is not None:
        return _run(conn, executor, checkpoints, head, chunk)
    count = worker_count(conn, workers)
    with worker_pool(conn, conninfo, count) as pool:
        return _run(conn, pool, checkpoints, head, chunk)


class _Chunk:
    """A chunk's job: queued for the worker threads, or hashed on the caller's connection
    (always without workers; with them, when no worker has started it)."""

    def __init__(self, start: int, job: tuple[int, int, int, tuple[int, ...]],
                 executor: Workers | None) -> None:
        self.start, self.job = start, job
        self.future = executor.submit(executor.hash_chunk, *job) if executor else None
        self.result: ChunkResult | None = None
        self.here = False

    def ready(self) -> bool:
        return self.here or (self.future is not None and self.future.done())

    def steal(self, conn: psycopg.Connection[Any]) -> bool:
        """Hash the chunk on ``conn`` if it is still waiting for a worker."""
        if self.here or (self.future is not None and not self.future.cancel()):
            return False
        self.result, self.here = hash_chunk(conn, *self.job), True
        return True

    def outcome(self) -> ChunkResult | None:
        if self.here:
            return self.result
        if self.future is None:
            raise RuntimeError("a chunk without a worker was not hashed here")
        return self.future.result()


def _run(conn: psycopg.Connection[Any], executor: Workers | None,
         checkpoints: list[tuple[int, bytes]], head: int, chunk: int) -> FastReport | None:
    conn.execute(_SORT_MEMORY)
    tree = CompactRange()
    pending = checked = 0
    for size, root in checkpoints:
        if size == 0:  # an empty tree's checkpoint
            if root != tree.root():
                return None
            checked += 1
    sharers = (executor.workers if executor is not None else 0) + 1
    in_flight: deque[_Chunk] = deque()
    after: int | None = MIN_POSITION
    index = 0  # the leaf index of the next chunk to submit
    last_position = MIN_POSITION

    def cuts_in(start: int) -> tuple[int, ...]:
        return tuple(size - start for size, _ in checkpoints if start < size <= start + chunk)

    while True:
        while after is not None and len(in_flight) < 2 * sharers:
            in_flight.append(_Chunk(index, (after, chunk, head, cuts_in(index)), executor))
            index += chunk
            nxt = conn.execute(_NEXT, (after, chunk - 1)).fetchone()
            after = None if nxt is None else int(nxt[0])
        if not in_flight:
            break
        # Rather than wait for a worker to finish the next chunk in order, hash here the
        # first chunk no worker has started (so this connection starts at once, and the
        # last chunks go to whoever is free).
        while not in_flight[0].ready() and any(queued.steal(conn) for queued in in_flight):
            pass
        done = in_flight.popleft()
        start, result = done.start, done.outcome()
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
