"""The evidence ledger: full verification rate, long replays, and the worker keeping up.

On a fresh database of a real PostgreSQL (embedded pgserver unless
DOCMGMT_TEST_DATABASE_URL is set):

(a) 100,000 events (10 documents x 10,000 comments, saved through ``DocMgmt`` in batches of
    500 events), their ledger leaves computed and inserted in bulk, then ``verify_log``
    over all of it, in fresh processes as `docmgmt verify` runs: events/s, next to plain
    SHA-256 of the same canonical leaf bytes in this process (one ``hashlib.sha256`` call
    per event, bytes already in memory), each the median of RUNS runs, and the ratio of
    the medians (target >= 0.3), with the slowest verification against the fastest
    SHA-256 for the worst case. Reading the rows alone is timed too, for the breakdown.
(b) ``app.repository.get(id)`` of one of those documents (10,001 events): ms per load
    without a snapshot (target < 200 ms), and with one taken by ``app.take_snapshot``
    (reported as failing if the aggregate's state cannot be transcoded).
(c) The ledger worker (``start_ledger``, in this process as under the API) while comments
    are appended in batches of 250 at a paced 2,500 events/s for 10 s: the worker's
    rate while appending, its lag when appending stops, and the time to catch up
    (target >= 2,000 events/s).
(d) The figures of (a) again on about 1,000,000 events (``--large N`` to change, ``--large
    0`` to skip): more documents of 10,000 comments, leaves by COPY. A verification opens
    a connection per core (some 10 ms before the first chunk); over more events that weighs
    less. The checkpoints of (a) cover the first 100,011 events; then checkpoints are
    signed every 1,000 events to the end, as the scheduler would have left them, and the
    verification is timed again (each checkpoint's state root is recomputed too). Last,
    what an evidence bundle reads, as in (a): the ledger as a tree and the state tree.

    .venv/bin/python -m bench.ledger [--large N]
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import TranscodingNotRegisteredError

from bench._common import fresh_database, machine_line
from docmgmt.domain.common import Actor, Confidentiality, DocumentType, FileRef, Urgency
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.identity.agencies import register_agency
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import APP_NAME, DocMgmt
from docmgmt.ledger import bulkhash
from docmgmt.ledger.checkpoint import store_checkpoint
from docmgmt.ledger.devkeys import dev_system_keys
from docmgmt.ledger.leaf import LEAF_TAG, LEAF_VERSION, canonical_leaf, event_leaf_hash
from docmgmt.ledger.merkle import LEAF_PREFIX, inclusion_proof
from docmgmt.ledger.state_leaf import StateEntry
from docmgmt.ledger.state_tree import StateTree, state_as_of
from docmgmt.ledger.stored_tree import (
    Frontier,
    TiledTree,
    extend_tiles,
    read_proving,
    read_tiled,
    read_tree,
)
from docmgmt.ledger.worker import UPSERT_STATES, start_ledger
from tests.support import outgoing as outgoing_store
from tests.support.identity import admin_acting_as

ACTOR = Actor(uuid.uuid5(uuid.NAMESPACE_DNS, "bench"), "bench", "127.0.0.1", "bench", "")
DOCS = 10
COMMENTS = 10_000
BATCH = 500
PACE = 2_500
PACE_SECONDS = 10.0
PACE_BATCH = 250
CHECKPOINT_EVERY = 1_000
# (d): documents of COMMENTS comments added until the log holds about LARGE events (set
# by --large N; 0: no (d)).
LARGE = 1_000_000
# Timed runs of each verification figure; the median is reported.
RUNS = 5


def draft(app: DocMgmt, agency: UUID, n: int) -> UUID:
    digest = hashlib.sha256(str(n).encode()).hexdigest()
    file = FileRef(f"sha256/{digest[:2]}/{digest[2:4]}/{digest}", digest, 10, 1, "a.pdf")
    return outgoing_store.draft(app, agency_id=agency, unit_id=None,
                                summary=f"Công văn số {n}", doc_type=DocumentType.CONG_VAN,
                                urgency=Urgency.NORMAL, confidentiality=Confidentiality.NORMAL,
                                legal_normative=False, file=file, actor=ACTOR).id


def add_comments(app: DocMgmt, doc_id: UUID, count: int, batch: int = BATCH) -> None:
    doc = app.repository.get(doc_id)
    assert isinstance(doc, OutgoingDocument)
    for start in range(0, count, batch):
        for i in range(start, min(count, start + batch)):
            doc.comment(f"Góp ý số {i}: đề nghị sửa đoạn {i % 17}.", ACTOR)
        app.save(doc)


def bulk_ledger(db: Database) -> int:
    """Leaves for every event not yet in the ledger, by COPY; tracking moved to the end."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        done = conn.execute("SELECT coalesce(max(position), 0) FROM docmgmt.ledger_leaves"
                            ).fetchone()
        rows = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM docmgmt.docmgmt_events WHERE notification_id > %s ORDER BY notification_id",
            (done[0] if done else 0,)).fetchall()
        last: dict[UUID, tuple[int, int]] = {}
        with conn.cursor().copy("COPY docmgmt.ledger_leaves (position, originator_id,"
                                " originator_version, leaf_hash) FROM STDIN") as copy:
            for p, a, v, t, s in rows:
                copy.write_row((p, a, v, event_leaf_hash(p, a, v, t, bytes(s))))
                last[a] = (v, p)  # in log order: the last wins
        # Each aggregate's last leaf, with the worker's statement, in the same transaction.
        conn.execute(UPSERT_STATES, (list(last), [v for v, _ in last.values()],
                                     [p for _, p in last.values()]))
        conn.execute("INSERT INTO docmgmt.ledger_tracking VALUES (%s, %s) ON CONFLICT"
                     " (application_name) DO UPDATE SET notification_id = EXCLUDED.notification_id",
                     (APP_NAME, rows[-1][0]))
    return len(rows)


def part_a(db: Database, app: DocMgmt) -> UUID:
    print(f"(a) full verification: {DOCS} documents x {COMMENTS:,} comments")
    agency = register_agency(app, admin_acting_as(ACTOR), "BENCH", "Sở Bench", None).id
    docs = [draft(app, agency, n) for n in range(DOCS)]
    t0 = time.perf_counter()
    for doc in docs:
        add_comments(app, doc, COMMENTS)
    elapsed = time.perf_counter() - t0
    print(f"  appended {DOCS * COMMENTS:,} events in {elapsed:.1f} s"
          f" = {DOCS * COMMENTS / elapsed:,.0f} events/s (app.save, {BATCH} per batch)")
    t0 = time.perf_counter()
    leaves = bulk_ledger(db)
    print(f"  {leaves:,} ledger leaves computed and inserted by COPY in"
          f" {time.perf_counter() - t0:.1f} s")

    vacuum(db)
    n, verify_s, sha_rate = verify_figures(db)
    with_checkpoints(db, n, verify_s, sha_rate)
    proofs(db, n)
    return docs[0]


def vacuum(db: Database) -> None:
    """As autovacuum would have by the time anyone verifies: hint bits and visibility map
    set, so the first pass does not pay for them."""
    with psycopg.connect(db.owner.conninfo(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE docmgmt.docmgmt_events")
        conn.execute("VACUUM ANALYZE docmgmt.ledger_leaves")


def verify_figures(db: Database) -> tuple[int, float, float]:
    """``verify_log`` in fresh processes, next to raw SHA-256 over the same leaf bytes; the
    median of RUNS each (a single run of a tenth of a second varies by some 10% here)."""
    passes = verify_in_child(db)
    n = passes["parallel"]["events"]
    runs = [passes["parallel"]["seconds"], *(
        verify_in_child(db, "parallel")["parallel"]["seconds"] for _ in range(RUNS - 1))]
    verify_s = statistics.median(runs)

    with psycopg.connect(db.app.conninfo()) as conn:
        t0 = time.perf_counter()
        with conn.cursor(name="bench") as cur:
            cur.itersize = 5000
            cur.execute("SELECT notification_id, originator_id, originator_version, topic,"
                        " state FROM docmgmt.docmgmt_events ORDER BY notification_id")
            rows = list(cur)
        read_s = time.perf_counter() - t0
    blobs = [canonical_leaf(p, a, v, t, bytes(s)) for p, a, v, t, s in rows]
    del rows
    total = sum(map(len, blobs))
    sha_runs = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for blob in blobs:
            hashlib.sha256(blob).digest()
        sha_runs.append(time.perf_counter() - t0)
    sha_s = statistics.median(sha_runs)
    t0 = time.perf_counter()
    hashlib.sha256(b"".join(blobs)).digest()
    one_s = time.perf_counter() - t0
    stream = b"".join(blob[len(LEAF_TAG) + 1:] for blob in blobs)
    head = LEAF_PREFIX + LEAF_TAG + bytes([LEAF_VERSION])
    t0 = time.perf_counter()
    bulkhash.leaf_hashes(head, stream)
    bulk_s = time.perf_counter() - t0
    del blobs, stream

    v_rate, sha_rate = n / verify_s, n / sha_s
    print(f"  verify_log: {n:,} events in {verify_s:.3f} s = {v_rate:,.0f} events/s (median of"
          f" {RUNS} fresh processes: {', '.join(f'{r:.3f}' for r in sorted(runs))} s)")
    print(f"   "
          f" ({total / verify_s / 2**20:.1f} MiB/s of canonical leaf bytes; chunked pass,"
          f" {os.cpu_count()} connections; compiled bulk hashing in use:"
          f" {bulkhash.ACCELERATED})")
    for name, label in (("in_process", "the same chunked pass on one connection"),
                        ("row_by_row", "the row-by-row pass (run when something differs)")):
        seconds = passes[name]["seconds"]
        print(f"    {label}: {seconds:.3f} s = {n / seconds:,.0f} events/s")
    print(f"  raw SHA-256, one hashlib call per event over the same {total / 2**20:.1f} MiB:"
          f" {sha_s:.3f} s = {sha_rate:,.0f} events/s (median of {RUNS}:"
          f" {', '.join(f'{r:.3f}' for r in sorted(sha_runs))} s)")
    print(f"  ratio verify / raw SHA-256 = {v_rate / sha_rate:.3f} (target >= 0.3; slowest"
          f" verify against fastest SHA-256: {min(sha_runs) / max(runs):.3f})")
    print(f"  for reference: one SHA-256 over all bytes at once {one_s:.3f} s"
          f" ({total / one_s / 2**20:,.0f} MiB/s); the compiled leaf hashing alone, bytes in"
          f" memory, one core {bulk_s:.3f} s = {n / bulk_s:,.0f} events/s (verify / that ="
          f" {bulk_s / verify_s:.3f}); reading the same rows alone (server-side cursor)"
          f" {read_s:.2f} s = {n / read_s:,.0f} rows/s")
    return n, verify_s, sha_rate


def part_large(db: Database, app: DocMgmt) -> None:
    """The same figures on a log of LARGE events: the fixed start-up of a verification
    (connections, the first chunks) weighs less, as in a year of a city's work."""
    more = max(0, LARGE - (app.recorder.max_notification_id() or 0)) // (COMMENTS + 1)
    print(f"(d) full verification of about {LARGE:,} events: {more} more documents x"
          f" {COMMENTS:,} comments (the checkpoints of (a) are checked too)")
    agency = register_agency(app, admin_acting_as(ACTOR), "LARGE", "Sở Large", None).id
    t0 = time.perf_counter()
    for n in range(more):
        add_comments(app, draft(app, agency, 10_000 + n), COMMENTS)
    print(f"  appended in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    bulk_ledger(db)
    print(f"  ledger leaves by COPY in {time.perf_counter() - t0:.1f} s")
    vacuum(db)
    n, verify_s, sha_rate = verify_figures(db)
    # As the scheduler would have left them: a checkpoint every 1,000 events throughout.
    with_checkpoints(db, n, verify_s, sha_rate)
    proofs(db, n)


def verify_in_child(db: Database, *passes: str) -> dict[str, Any]:
    """``bench._verify_child``'s timed ``passes`` (all three if none is named), in a fresh
    process, as `docmgmt verify` runs (nothing warmed up by this one: no connection, no
    parsed certificate)."""
    child = subprocess.run([sys.executable, "-m", "bench._verify_child", db.app.conninfo(),
                            *passes], check=True, capture_output=True, text=True)
    timed: dict[str, Any] = json.loads(child.stdout)
    for result in timed.values():
        assert result["ok"], result["summary"]
    return timed


def with_checkpoints(db: Database, n: int, before_s: float, sha_rate: float) -> None:
    """The same verification with a signed, timestamped checkpoint every 1,000 events
    (the scheduler's default), each signature and timestamp checked, and each (format 2)
    signing the state tree as of its size, which verify recomputes from the events. The
    checkpoints already stored are kept; new ones go on from the last of them to ``n``."""
    with tempfile.TemporaryDirectory() as pki_dir:
        signer, stamper, _ = dev_system_keys(Path(pki_dir))
        with psycopg.connect(db.app.conninfo()) as conn:
            tree = read_tree(conn).tree
            leaves = conn.execute("SELECT position, originator_id, originator_version"
                                  " FROM docmgmt.ledger_leaves ORDER BY position").fetchall()
            stored = conn.execute("SELECT coalesce(max(tree_size), 0)"
                                  " FROM docmgmt.ledger_checkpoints").fetchone()
            done = int(stored[0]) if stored else 0
            states = StateTree()
            states.apply(StateEntry(UUID(str(a)), int(v), int(p)) for p, a, v in leaves[:done])
            t0 = time.perf_counter()
            sizes = [*range(done // CHECKPOINT_EVERY * CHECKPOINT_EVERY + CHECKPOINT_EVERY, n,
                            CHECKPOINT_EVERY), n]
            for size in sizes:
                states.apply(StateEntry(UUID(str(a)), int(v), int(p))
                             for p, a, v in leaves[done:size])
                done = size
                store_checkpoint(conn, signer, stamper, size, tree.root(size),
                                 datetime.now(UTC), state=(states.size, states.root()))
            made_s = time.perf_counter() - t0
            total = conn.execute("SELECT count(*) FROM docmgmt.ledger_checkpoints").fetchone()
    one = verify_in_child(db, "in_process")["in_process"]["seconds"]
    runs = [verify_in_child(db, "parallel")["parallel"]["seconds"] for _ in range(RUNS)]
    median = statistics.median(runs)
    print(f"  with {total[0] if total else 0} signed, timestamped checkpoints (one per"
          f" {CHECKPOINT_EVERY:,} events; {len(sizes)} made in {made_s:.1f} s): verify_log"
          f" {median:.3f} s = {n / median:,.0f} events/s (median of {RUNS}; the verification"
          f" above: {before_s:.3f} s); on one connection {one:.3f} s; ratio to raw SHA-256"
          f" {n / median / sha_rate:.3f}")


def proofs(db: Database, n: int) -> None:
    """Reading the ledger as a tree, proofs from it, and a checkpoint's tree from scratch
    and from a frontier (what an evidence bundle and the checkpointer do)."""
    with psycopg.connect(db.app.conninfo()) as conn:
        t0 = time.perf_counter()
        stored = read_tree(conn)
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(0, n, max(1, n // 100)):
            inclusion_proof(stored.tree, i)
        proof_ms = (time.perf_counter() - t0) / len(range(0, n, max(1, n // 100))) * 1000
        signed = conn.execute("SELECT state_entries, state_root FROM docmgmt.ledger_checkpoints"
                              " ORDER BY tree_size DESC LIMIT 1").fetchone()
        assert signed is not None
        t0 = time.perf_counter()
        leaves = state_as_of(conn, stored.last_position or 0)
        leaves_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        states = state_as_of(conn, stored.last_position or 0, (signed[0], bytes(signed[1])))
        states_s = time.perf_counter() - t0
        assert (states.size, states.root()) == (leaves.size, leaves.root())
        t0 = time.perf_counter()
        with conn.transaction():  # as the first checkpoint after the upgrade does
            tiles = extend_tiles(conn, n)
        tiles_s = time.perf_counter() - t0
        wanted = [stored.positions[i] for i in range(0, n, max(1, n // 10))]
        t0 = time.perf_counter()
        tiled = read_proving(conn, n, stored.tree.root(), lambda _: wanted)
        for p in wanted:
            inclusion_proof(tiled.tree, tiled.index_of(p) or 0)
        tiled_s = time.perf_counter() - t0
        assert isinstance(tiled, TiledTree)
        assert all(inclusion_proof(tiled, i) == inclusion_proof(stored.tree, i)
                   for i in map(stored.index_of, wanted) if i is not None)
        t0 = time.perf_counter()
        full = Frontier.empty().advanced(conn)
        full_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        full.advanced(conn)
        again_ms = (time.perf_counter() - t0) * 1000
        # As a checkpoint without a frontier now resumes (less its 0.4 ms of signature and
        # timestamp checks): the tiles, and the state rows as of the newest checkpoint.
        t0 = time.perf_counter()
        resumed = read_tiled(conn, n)
        assert resumed is not None
        ranged = resumed.compact_range()
        resumed_states = state_as_of(conn, resumed.last_position or 0,
                                     (int(signed[0]), bytes(signed[1])))
        resumed_s = time.perf_counter() - t0
        assert ranged.root() == full.tree.root()
        assert resumed_states.root() == full.states.root()
    assert full.tree.root() == stored.tree.root()
    print(f"  ledger as a tree ({n:,} leaves read in bulk, every level built):"
          f" {read_s:.2f} s; then one inclusion proof {proof_ms:.3f} ms (mean of 100)")
    print(f"  the same proofs from the tiles ({tiles:,} stored in {tiles_s:.2f} s, once, as"
          f" the first checkpoint after the upgrade would), as a bundle reads them: the"
          f" tiles, the leaves after them and the blocks of {len(wanted)} events, and their"
          f" proofs {tiled_s:.3f} s")
    print(f"  the state tree as of the last leaf ({states.size:,} aggregates): from one row"
          f" per aggregate, as a bundle reads it, {states_s:.3f} s; from every leaf"
          f" {leaves_s:.3f} s")
    print(f"  checkpoint tree: from scratch {full_s:.2f} s, from the previous frontier"
          f" with nothing new {again_ms:.1f} ms, resumed from the newest checkpoint's tiles"
          f" and state rows {resumed_s:.3f} s")


def part_b(app: DocMgmt, doc_id: UUID) -> None:
    version = app.repository.get(doc_id).version
    print(f"(b) replay of one document with {version:,} events")

    def load_ms(runs: int = 5) -> list[float]:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            app.repository.get(doc_id)
            times.append((time.perf_counter() - t0) * 1000)
        return times

    plain = load_ms()
    print(f"  app.repository.get (automatic snapshots every 100 events):"
          f" median {statistics.median(plain):.1f} ms, min {min(plain):.1f} ms over"
          f" {len(plain)} loads (target < 200 ms)")
    full = []
    for _ in range(3):
        t0 = time.perf_counter()
        aggregate = None
        for event in app.events.get(doc_id):
            aggregate = event.mutate(aggregate)
        full.append((time.perf_counter() - t0) * 1000)
    print(f"  full replay of every event, no snapshot: median {statistics.median(full):.0f} ms")
    if app.snapshots is None:
        print("  snapshots are not enabled for this application: no snapshot figure")
        return
    try:
        app.take_snapshot(doc_id)
    except TranscodingNotRegisteredError as exc:
        print(f"  app.take_snapshot failed: {exc}")
        return
    snap = load_ms()
    print(f"  with a snapshot at version {version:,} (app.take_snapshot):"
          f" median {statistics.median(snap):.1f} ms, min {min(snap):.1f} ms")


def part_c(db: Database, app: DocMgmt) -> None:
    print(f"(c) ledger worker while appending at {PACE:,} events/s for {PACE_SECONDS:.0f} s")
    agency = register_agency(app, admin_acting_as(ACTOR), "PACE", "Sở Pace", None).id
    docs = [draft(app, agency, 1000 + n) for n in range(8)]

    def tracked() -> int:
        with psycopg.connect(db.app.conninfo()) as conn:
            row = conn.execute("SELECT notification_id FROM docmgmt.ledger_tracking"
                               " WHERE application_name = %s", (APP_NAME,)).fetchone()
        return int(row[0]) if row else 0

    def leaves() -> int:
        with psycopg.connect(db.app.conninfo()) as conn:
            row = conn.execute("SELECT count(*) FROM docmgmt.ledger_leaves").fetchone()
        return int(row[0]) if row else 0

    with start_ledger(db.app.eventsourcing_env("docmgmt", 2)) as runner:
        runner.wait(app.recorder.max_notification_id() or 0, timeout=120)
        base = leaves()
        appended = 0
        t0 = time.perf_counter()
        stop = threading.Event()
        batches = int(PACE * PACE_SECONDS) // PACE_BATCH
        loaded = [app.repository.get(d) for d in docs]
        for k in range(batches):
            doc = loaded[k % len(loaded)]
            for i in range(PACE_BATCH):
                doc.comment(f"Ý kiến {k}.{i}", ACTOR)
            app.save(doc)
            appended += PACE_BATCH
            ahead = appended / PACE - (time.perf_counter() - t0)
            if ahead > 0:
                stop.wait(ahead)
        append_s = time.perf_counter() - t0
        head = app.recorder.max_notification_id() or 0
        done_at_stop = leaves() - base
        lag = head - tracked()
        runner.wait(head, timeout=600)
        catch_s = time.perf_counter() - t0
    print(f"  appended {appended:,} events in {append_s:.1f} s"
          f" = {appended / append_s:,.0f} events/s ({PACE_BATCH} per app.save)")
    print(f"  worker while appending: {done_at_stop:,} leaves = "
          f"{done_at_stop / append_s:,.0f} events/s; lag when appending stopped:"
          f" {lag:,} events")
    print(f"  caught up {catch_s - append_s:.1f} s later: {appended:,} events in"
          f" {catch_s:.1f} s = {appended / catch_s:,.0f} events/s (target >= 2,000)")


def main() -> None:
    """Run the measurements on one fresh database."""
    global LARGE
    if "--large" in sys.argv:
        LARGE = int(sys.argv[sys.argv.index("--large") + 1])
    print(machine_line())
    with fresh_database() as (db, _work):
        app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 4))
        try:
            doc = part_a(db, app)
            part_b(app, doc)
            part_c(db, app)
            if LARGE:
                part_large(db, app)
        finally:
            app.close()


if __name__ == "__main__":
    main()
