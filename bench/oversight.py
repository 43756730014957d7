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
import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.utils import get_topic

from bench import projections
from bench._common import fresh_database, machine_line, measure
from bench._oversight_fill import NOW, fill
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Role
from docmgmt.kernel.db import Database
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.readpool import open_read_pool
from docmgmt.kernel.store import DocMgmt
from docmgmt.oversight import queries
from docmgmt.oversight.model import Period
from docmgmt.oversight.views import OversightViews, start_oversight_views

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


class Recorder:
    """An asyncpg pool stand-in that runs every statement and remembers it (for EXPLAIN)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Remember, then run on the pool."""
        self.statements.append((sql, args))
        return list(await self.pool.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        """Remember, then run on the pool."""
        self.statements.append((sql, args))
        return await self.pool.fetchrow(sql, *args)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Recorder]:
        """Itself as the connection (statements go to the pool one by one)."""
        yield self


async def explain(pool: Any, label: str, call: Callable[[Any], Awaitable[Any]]) -> None:
    """EXPLAIN ANALYZE each statement one call sends; print its time and costliest scans."""
    spy = Recorder(pool)
    await call(spy)
    print(f"    {label}: {len(spy.statements)} statements")
    for sql, args in spy.statements:
        rows = await pool.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
        lines = [r[0].strip() for r in rows]
        took = next((x for x in lines if x.startswith("Execution Time")), "")
        scans = [x[:100] for x in lines if "Scan" in x][:3]
        print(f"      {took} | {sql[:60]!r}... | " + " | ".join(scans))


async def time_queries(db: Database, runs: int) -> None:
    """p50/p95 of each query as the city's leader; then one plan of each."""
    pool: Any = await open_read_pool(db.app, max_size=2)
    try:
        city, leader = await pool.fetchrow(
            "SELECT a.id, m.user_id FROM docmgmt.oversight_agencies a JOIN"
            " docmgmt.oversight_mandates m ON m.agency_id = a.id WHERE a.parent_id IS NULL")
        who = Principal(leader, "lanh.dao.tp", city, None, frozenset({Role.LEADER}))
        wards = [r["id"] for r in await pool.fetch(
            "SELECT id FROM docmgmt.oversight_agencies WHERE code LIKE 'PX%'")]
        units = [(r["agency_id"], r["id"]) for r in await pool.fetch(
            "SELECT u.agency_id, u.id FROM docmgmt.oversight_units u JOIN"
            " docmgmt.oversight_agencies a ON a.id = u.agency_id WHERE a.code LIKE 'PX%'")]
        today = NOW.astimezone(VIETNAM_TZ).date()
        month = Period(today.replace(day=1), today)
        year = Period(today - timedelta(days=365), today)
        print(f"(2) queries as the city's leader, now = {NOW.isoformat()}, this month ="
              f" {month.start}..{month.end}, a year = {year.start}..{year.end}")
        await _time_all(pool, who, city, wards, units, month, year, runs)
        print("  plans (EXPLAIN ANALYZE of each statement of one call):")
        ward, (unit_ward, unit) = wards[0], units[0]
        await explain(pool, "whole city, a year", lambda p: queries.rollup(
            p, who, city, period=year, now=NOW))
        await explain(pool, "ward drill-down, this month", lambda p: queries.rollup(
            p, who, ward, period=month, now=NOW))
        await explain(pool, "unit -> people", lambda p: queries.rollup(
            p, who, unit_ward, unit_id=unit, period=month, now=NOW))
        await explain(pool, "late documents of a ward", lambda p: queries.open_documents(
            p, who, ward, late_only=True, now=NOW))
        await explain(pool, "late documents of the city", lambda p: queries.open_documents(
            p, who, city, late_only=True, now=NOW))
    finally:
        await pool.close()


async def _time_all(pool: Any, who: Principal, city: UUID, wards: list[UUID],
                    units: list[tuple[UUID, UUID]], month: Period, year: Period,
                    runs: int) -> None:
    """One latency line per query, each over ``runs`` calls."""
    await measure("whole city roll-up, this month", [
        lambda: queries.rollup(pool, who, city, period=month, now=NOW)] * runs)
    await measure("whole city roll-up, a year", [
        lambda: queries.rollup(pool, who, city, period=year, now=NOW)] * runs)
    await measure("ward drill-down (its units), this month", [
        partial(queries.rollup, pool, who, w, period=month, now=NOW)
        for w in random.choices(wards, k=runs)])
    await measure("ward drill-down (its units), a year", [
        partial(queries.rollup, pool, who, w, period=year, now=NOW)
        for w in random.choices(wards, k=runs)])
    await measure("a ward's unit -> its people, this month", [
        partial(queries.rollup, pool, who, a, unit_id=u, period=month, now=NOW)
        for a, u in random.choices(units, k=runs)])
    await measure("open late documents of a ward (first 100)", [
        partial(queries.open_documents, pool, who, w, late_only=True, now=NOW)
        for w in random.choices(wards, k=runs)])
    await measure("open late documents of the whole city (first 100)", [
        lambda: queries.open_documents(pool, who, city, late_only=True, now=NOW)] * runs)
    await measure("trends over the city, a year by month", [
        lambda: queries.trends(pool, who, city, period=year, by="month", now=NOW)] * runs)
    await measure("trends over the city, a year by week", [
        lambda: queries.trends(pool, who, city, period=year, by="week", now=NOW)] * runs)
    await measure("ranking of the city's agencies, this month", [
        lambda: queries.ranking(pool, who, city, period=month, now=NOW)] * runs)
    await measure("ranking of the city's agencies, a year", [
        lambda: queries.ranking(pool, who, city, period=year, now=NOW)] * runs)


def catch_up(events: int) -> None:
    """Record bench.projections' event mix through the application on a fresh database,
    then time the oversight projection from zero to the head."""
    with fresh_database() as (db, _work):
        env = db.app.eventsourcing_env("docmgmt", 4)
        app = DocMgmt(env=env)
        try:
            t0 = time.perf_counter()
            head = projections.fill(app, events)
            print(f"(3) catch-up: {head:,} events recorded through the application in"
                  f" {time.perf_counter() - t0:.1f} s")
            print(f"    mix: {projections.event_mix(db)}")
            # The event classes it has a handler for (the others only move its position).
            # (Reading the method from the class applies any deferred registration first.)
            assert OversightViews.process_event is not None
            registry = vars(OversightViews)["process_event"].dispatcher.registry
            handled = tuple(get_topic(cls) for cls in registry if cls is not object)
            _last, handled_n = projections.last_of_topics(db, handled)
            took = projections.catch_up_line(
                "oversight projection", lambda: start_oversight_views(env), db,
                "oversight_tracking", head)
            print(f"    {handled_n:,} of the events are of the {len(handled)} kinds it has a"
                  f" handler for: {handled_n / took:,.0f} of those per second")
            with psycopg.connect(db.owner.conninfo()) as conn:
                counts = [conn.execute(f"SELECT count(*) FROM docmgmt.{t}"  # noqa: S608
                                       ).fetchone()
                          for t in ("oversight_open", "oversight_unacknowledged",
                                    "oversight_daily")]
            print("    rows written: open {:,}, unacknowledged {:,}, daily {:,}".format(
                *(int(c[0]) if c else 0 for c in counts)))
        finally:
            app.close()


def main() -> None:
    """Fill, time the queries, time the catch-up; prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="documents: 2,000,000 incoming and 1,000,000 outgoing times this")
    parser.add_argument("--runs", type=int, default=100, help="calls timed per query")
    parser.add_argument("--events", type=int, default=50_000,
                        help="events recorded for the catch-up")
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
            if "queries" in only:
                asyncio.run(time_queries(db, args.runs))
    if "catchup" in only:
        catch_up(args.events)


if __name__ == "__main__":
    main()
