"""Oversight: roll-up query latency over a city's year, and the projection's catch-up rate.

(1) Fill: a fresh migrated database (embedded PostgreSQL, or DOCMGMT_TEST_DATABASE_URL); a
    city of 200 agencies (the city, 20 departments, 9 sub-departments, 170 wards and
    communes), 4,000 units, 10,000 people, and a year of documents (default 2,000,000
    incoming copies and 1,000,000 outgoing documents; ``--scale`` multiplies both) written
    DIRECTLY into the oversight_* tables with set-based SQL as the database owner
    (bench/_oversight_fill.py says how each document's life is drawn). These are projection
    tables, rebuildable from events, so a direct fill is fine for a query benchmark; no
    events exist for these rows. Mandates: the city's leader over the city.
(2) Queries: p50/p95 over ``--runs`` calls each of docmgmt.oversight.queries as the city's
    leader, on an asyncpg pool with the application login (no HTTP).
(3) Catch-up: bench.projections' event mix (``--events``) recorded through the application,
    then the oversight projection timed from zero to the head, in events/s.

    .venv/bin/python -m bench.oversight                 # 2,000,000 + 1,000,000 documents
    .venv/bin/python -m bench.oversight --scale 0.01    # a quick try
"""

from __future__ import annotations

import argparse

import psycopg

from bench._common import fresh_database, machine_line
from bench._oversight_fill import NOW, fill
from docmgmt.kernel.db import Database

STAGES = ("fill", "queries", "catchup")


def shape(db: Database) -> None:
    """One line on what the fill holds: open share, late share, flows over the year."""
    with psycopg.connect(db.owner.conninfo()) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE direction = 'incoming'),"
            " count(*) FILTER (WHERE direction = 'outgoing'),"
            " count(*) FILTER (WHERE due < %(now)s) FROM docmgmt.oversight_open",
            {"now": NOW}).fetchone()
        flows = conn.execute(
            "SELECT sum(arrived), sum(completed_on_time), sum(completed_late),"
            " sum(dispatched), sum(dispatched_late), count(*) FILTER (WHERE level = 2)"
            " FROM docmgmt.oversight_daily WHERE level = 0 OR level = 2").fetchone()
        unack = conn.execute("SELECT count(*) FROM docmgmt.oversight_unacknowledged"
                             ).fetchone()
    assert row is not None
    assert flows is not None
    assert unack is not None
    print(f"  open now: {row[0]:,} incoming, {row[1]:,} outgoing ({row[2]:,} past due);"
          f" {unack[0]:,} recipients that have not registered a dispatched document")
    # Level 0 and level 2 each hold the whole year, so every sum counts them twice.
    arrived, on_time, late, sent, sent_late = (int(x or 0) // 2 for x in flows[:5])
    print(f"  flows over the year: {arrived:,} arrived, {on_time + late:,} completed"
          f" ({late:,} late), {sent:,} dispatched ({sent_late:,} late);"
          f" {flows[5]:,} daily rows at level 2")


def main() -> None:
    """Fill, time the queries, time the catch-up; prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="documents: 2,000,000 incoming and 1,000,000 outgoing times this")
    parser.add_argument("--only", default=",".join(STAGES),
                        help=f"comma-separated, from {','.join(STAGES)}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    if only & {"fill", "queries"}:
        with fresh_database() as (db, _work):
            print(f"(1) fill (scale {args.scale})")
            fill(db, round(2_000_000 * args.scale), round(1_000_000 * args.scale))
            shape(db)


if __name__ == "__main__":
    main()
