"""The oversight benchmark's fill: a city's agency tree and a year of documents written
straight into the oversight_* tables (migration 0017) with set-based SQL.

The tree is fixed in size: agency 0 the city (50 units), 1-20 departments (40 units each),
21-29 sub-departments under departments 1-9 (10 units each), 30-199 wards and communes
(18 units each): 200 agencies, 4,000 units, 2 or 3 people a unit (10,000 people); person 0
of an agency's first unit is its leader. Documents scale with ``--scale``.

Each virtual document draws its times from ``hashint8extended(g, k)`` (stream k of document
g), is materialised once in an UNLOGGED scratch table, and every row of oversight_open,
oversight_unacknowledged and oversight_daily is derived from it, so the open rows and the
daily flows describe the same documents (level 1 and level 0 are sums of level 2).
"""

# The SQL is composed from this module's constants only (no outside input):
# ruff: noqa: S608
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from docmgmt.kernel.db import Database

# The clock the fill is built around and the queries are asked at (10:00 in Vietnam).
NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
NIL = "'00000000-0000-0000-0000-000000000000'::uuid"

TREE = """
CREATE TEMP TABLE b_agency AS
SELECT i, md5('agency:' || i)::uuid AS id,
       CASE WHEN i = 0 THEN NULL WHEN i BETWEEN 21 AND 29 THEN i - 20 ELSE 0 END AS parent,
       CASE WHEN i = 0 THEN 'TP' WHEN i <= 20 THEN 'S' || lpad(i::text, 2, '0')
            WHEN i <= 29 THEN 'CC' || lpad(i::text, 2, '0')
            ELSE 'PX' || lpad(i::text, 3, '0') END AS code,
       CASE WHEN i = 0 THEN 'Ủy ban nhân dân Thành phố'
            WHEN i <= 20 THEN 'Sở chuyên ngành số ' || i
            WHEN i <= 29 THEN 'Chi cục số ' || i || ' thuộc Sở số ' || (i - 20)
            WHEN i % 3 = 0 THEN 'Ủy ban nhân dân xã số ' || i
            ELSE 'Ủy ban nhân dân phường số ' || i END AS name,
       CASE WHEN i = 0 THEN 50 WHEN i <= 20 THEN 40 WHEN i <= 29 THEN 10 ELSE 18 END AS units
FROM generate_series(0, 199) i;
ALTER TABLE b_agency ADD COLUMN first_unit int;
UPDATE b_agency a SET first_unit = s.f
  FROM (SELECT i, sum(units) OVER (ORDER BY i) - units AS f FROM b_agency) s WHERE s.i = a.i;
CREATE TEMP TABLE b_unit AS
SELECT a.first_unit + k AS gi, a.i AS agency, a.id AS agency_id, k,
       md5('unit:' || a.i || ':' || k)::uuid AS id, 2 + (a.first_unit + k) % 2 AS people
FROM b_agency a, generate_series(0, a.units - 1) k;
ALTER TABLE b_unit ADD COLUMN first_person int;
UPDATE b_unit u SET first_person = s.f
  FROM (SELECT gi, sum(people) OVER (ORDER BY gi) - people AS f FROM b_unit) s
 WHERE s.gi = u.gi;
ALTER TABLE b_unit ADD PRIMARY KEY (gi);
CREATE TEMP TABLE b_person AS
SELECT u.first_person + j AS gi, u.gi AS unit, u.id AS unit_id, u.agency_id,
       md5('person:' || u.gi || ':' || j)::uuid AS id, j AS k
FROM b_unit u, generate_series(0, u.people - 1) j;
ALTER TABLE b_person ADD PRIMARY KEY (gi);
CREATE TEMP TABLE b_leader AS
SELECT a.id AS agency_id, p.id FROM b_agency a
  JOIN b_unit u ON u.gi = a.first_unit JOIN b_person p ON p.unit = u.gi AND p.k = 0;
INSERT INTO docmgmt.oversight_agencies (id, code, name, parent_id)
SELECT a.id, a.code, a.name, p.id FROM b_agency a LEFT JOIN b_agency p ON p.i = a.parent;
INSERT INTO docmgmt.oversight_units (id, agency_id, code, name)
SELECT id, agency_id, 'P' || lpad(k::text, 2, '0'), 'Phòng nghiệp vụ số ' || k FROM b_unit;
INSERT INTO docmgmt.oversight_people (id, agency_id, unit_id, full_name, title)
SELECT id, agency_id, unit_id, 'Cán bộ ' || gi,
       CASE WHEN k = 0 THEN 'Trưởng phòng' ELSE 'Chuyên viên' END FROM b_person;
"""


SUMMARIES = [
    "Quyết định về việc phân bổ ngân sách năm",
    "Kế hoạch triển khai chuyển đổi số",
    "Công văn về việc đôn đốc giải ngân vốn đầu tư công",
    "Báo cáo tình hình kinh tế - xã hội tháng",
    "Tờ trình đề nghị phê duyệt dự toán",
    "Chỉ thị về tăng cường phòng chống thiên tai",
]


def _draws(*streams: int) -> str:
    # r<k>: a uniform draw in [0, 1) from stream k of document g.
    return "CROSS JOIN LATERAL (SELECT " + ", ".join(
        f"mod(abs(hashint8extended(g, {k})), 1000000) / 1000000.0 AS r{k}" for k in streams
    ) + ") r"


# Incoming copies: 1 % returned at once, 0.2 % never registered, 0.2 % never assigned,
# 4 % never completed; registered within 6 h, assigned within 36 h, deadline 5-15 days
# later; done in 0.2-1.1 of the time allowed (about 11 % late); 5 % ask for an extension
# at 80 % of the time (4 % get 10 more days, decided a day later). One in ten is led by a
# unit without a named person.
INCOMING = f"""
INSERT INTO b_in
SELECT g, u.agency_id, u.id, CASE WHEN r3 >= 0.1 THEN p.id END, arrived, r5 < 0.01,
       registered, assigned, deadline0, deadline, ext_req, ext_req + interval '1 day',
       granted AND ext_req IS NOT NULL,
       CASE WHEN ext_req IS NOT NULL AND done < ext_req + interval '1 day'
            THEN ext_req + interval '1 day' + r10 * interval '2 days' ELSE done END
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
{_draws(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)}
CROSS JOIN LATERAL (SELECT %(t0)s::timestamptz + (g - 1) * %(step)s * interval '1 second'
                           + r4 * interval '1 hour' AS arrived) a
CROSS JOIN LATERAL (SELECT CASE WHEN r5 >= 0.012 THEN arrived + r6 * interval '6 hours' END
                           AS registered) b
CROSS JOIN LATERAL (SELECT CASE WHEN r5 >= 0.014 THEN registered + r7 * interval '36 hours'
                           END AS assigned) c
CROSS JOIN LATERAL (SELECT assigned + (5 + floor(r8 * 11)) * interval '1 day' AS deadline0,
                           r9 < 0.04 AS granted) d
CROSS JOIN LATERAL (SELECT CASE WHEN granted THEN deadline0 + interval '10 days'
                           ELSE deadline0 END AS deadline) e
CROSS JOIN LATERAL (SELECT CASE WHEN r5 NOT BETWEEN 0.02 AND 0.06
                           THEN assigned + (deadline - assigned) * (0.2 + 0.9 * r10) END
                           AS done) f
CROSS JOIN LATERAL (SELECT CASE WHEN r9 < 0.05 AND assigned IS NOT NULL
                                 AND assigned + (deadline0 - assigned) * 0.8
                                     < coalesce(done, 'infinity')
                           THEN assigned + (deadline0 - assigned) * 0.8 END AS ext_req) h
JOIN b_unit u ON u.gi = floor(r1 * 4000)::int
JOIN b_person p ON p.gi = u.first_person + floor(r2 * u.people)::int
"""

B_IN = """
CREATE UNLOGGED TABLE b_in (g bigint, agency_id uuid, unit_id uuid, person_id uuid,
  arrived timestamptz, returned boolean, registered timestamptz, assigned timestamptz,
  deadline0 timestamptz, deadline timestamptz, ext_requested timestamptz,
  ext_decided timestamptz, granted boolean, completed timestamptz)
"""

# Outgoing documents: 3 % of drafts never submitted, 2 % stuck at approval, 1 % at the
# signature; submitted 0.5-3.5 days after drafting, approved within 2 days, signed within a
# day, numbered and sealed within hours, dispatched within 30 h of sealing (skewed early:
# about 10 % after the one-day dispatch deadline). 0-3 recipients in the system, each
# registering within 5 days (skewed early; 1 % never).
OUTGOING = f"""
INSERT INTO b_out
SELECT g, p.agency_id, p.unit_id, p.id, l.id, u.agency, floor(r10 * 4)::int, r11,
       drafted, submitted, approved, signed, signed + r8 * interval '2 hours',
       signed + r8 * interval '3 hours', signed + r8 * interval '3 hours'
           + r9 * r9 * r9 * interval '30 hours'
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
{_draws(1, 2, 4, 5, 6, 7, 8, 9, 10, 11)}
CROSS JOIN LATERAL (SELECT %(t0)s::timestamptz + (g - 1) * %(step)s * interval '1 second'
                           + r4 * interval '1 hour' AS drafted) a
CROSS JOIN LATERAL (SELECT CASE WHEN r5 >= 0.03
                           THEN drafted + (0.5 + 3 * r2) * interval '1 day' END
                           AS submitted) b
CROSS JOIN LATERAL (SELECT CASE WHEN r5 >= 0.05 THEN submitted + r6 * interval '2 days' END
                           AS approved) c
CROSS JOIN LATERAL (SELECT CASE WHEN r5 >= 0.06 THEN approved + r7 * interval '1 day' END
                           AS signed) d
JOIN b_person p ON p.gi = floor(r1 * 10000)::int
JOIN b_unit u ON u.gi = p.unit
JOIN b_leader l ON l.agency_id = p.agency_id
"""

B_OUT = """
CREATE UNLOGGED TABLE b_out (g bigint, agency_id uuid, unit_id uuid, person_id uuid,
  leader_id uuid, agency int, recipients int, r11 double precision, drafted timestamptz,
  submitted timestamptz, approved timestamptz, signed timestamptz, numbered timestamptz,
  sealed timestamptz, dispatched timestamptz)
"""

SUMMARY = ("(%(summaries)s::text[])[1 + mod(g, %(n_summaries)s)] || ' (số ' || g || ')'")

OPEN_INCOMING = f"""
INSERT INTO docmgmt.oversight_open (document_id, direction, agency_id, unit_id, person_id,
    label, summary, urgency, step, holder_kind, holder_id, since, due, extension_pending,
    assigned_at)
SELECT md5('in:' || g)::uuid, 'incoming', agency_id,
       CASE WHEN st IN ('handling', 'extension') THEN unit_id END,
       CASE WHEN st IN ('handling', 'extension') THEN person_id END,
       CASE WHEN st = 'registration' THEN mod(g, 9000) + 1 || '/UBND-VP'
            ELSE mod(g, 5000) + 1 || '/ĐẾN' END,
       {SUMMARY}, CASE WHEN mod(g, 10) = 0 THEN 'urgent' ELSE 'normal' END, st,
       CASE WHEN st = 'registration' THEN 'clerks'
            WHEN st IN ('assignment', 'extension') THEN 'leaders'
            WHEN person_id IS NOT NULL THEN 'person' ELSE 'unit' END,
       CASE WHEN st = 'handling' THEN coalesce(person_id, unit_id) END,
       CASE st WHEN 'registration' THEN arrived WHEN 'assignment' THEN registered
               WHEN 'extension' THEN ext_requested
               ELSE greatest(assigned, CASE WHEN ext_decided <= %(now)s THEN ext_decided END)
       END,
       CASE st WHEN 'registration' THEN arrived + interval '1 day'
               WHEN 'assignment' THEN NULL WHEN 'extension' THEN deadline0
               ELSE CASE WHEN ext_decided <= %(now)s THEN deadline ELSE deadline0 END END,
       st = 'extension', CASE WHEN st IN ('handling', 'extension') THEN assigned END
FROM b_in CROSS JOIN LATERAL (SELECT CASE
    WHEN returned THEN NULL
    WHEN registered IS NULL OR registered > %(now)s THEN 'registration'
    WHEN assigned IS NULL OR assigned > %(now)s THEN 'assignment'
    WHEN ext_requested <= %(now)s AND ext_decided > %(now)s THEN 'extension'
    WHEN completed IS NULL OR completed > %(now)s THEN 'handling' END AS st) s
WHERE st IS NOT NULL
"""

OPEN_OUTGOING = f"""
INSERT INTO docmgmt.oversight_open (document_id, direction, agency_id, unit_id, person_id,
    label, summary, urgency, step, holder_kind, holder_id, since, due)
SELECT md5('out:' || g)::uuid, 'outgoing', agency_id, unit_id, person_id,
       CASE WHEN numbered <= %(now)s THEN mod(g, 9000) + 1 || '/CV' ELSE '' END,
       {SUMMARY}, 'normal', st,
       CASE WHEN st IN ('drafting', 'signature') THEN 'person'
            WHEN st = 'approval' THEN 'leaders' ELSE 'clerks' END,
       CASE st WHEN 'drafting' THEN person_id WHEN 'signature' THEN leader_id END,
       CASE st WHEN 'drafting' THEN drafted WHEN 'approval' THEN submitted
               WHEN 'signature' THEN approved WHEN 'number' THEN signed
               WHEN 'seal' THEN numbered ELSE sealed END,
       CASE WHEN st IN ('number', 'seal', 'dispatch') THEN signed + interval '1 day' END
FROM b_out CROSS JOIN LATERAL (SELECT CASE
    WHEN submitted IS NULL OR submitted > %(now)s THEN 'drafting'
    WHEN approved IS NULL OR approved > %(now)s THEN 'approval'
    WHEN signed IS NULL OR signed > %(now)s THEN 'signature'
    WHEN numbered > %(now)s THEN 'number'
    WHEN sealed > %(now)s THEN 'seal'
    WHEN dispatched > %(now)s THEN 'dispatch' END AS st) s
WHERE st IS NOT NULL
"""

# Recipient k of document g: a distinct agency other than the sender's; it registers its
# copy after ack (NULL: never).
UNACKNOWLEDGED = """
INSERT INTO docmgmt.oversight_unacknowledged (document_id, recipient_agency_id, agency_id,
    unit_id, person_id, dispatched_at, due)
SELECT md5('out:' || g)::uuid, ra.id, o.agency_id, o.unit_id, o.person_id, dispatched,
       dispatched + interval '1 day'
FROM b_out o CROSS JOIN generate_series(0, 2) k
CROSS JOIN LATERAL (SELECT mod(agency + 1 + 67 * k + floor(r11 * 131)::int, 200) AS ri,
    mod(abs(hashint8extended(g, 20 + k)), 1000000) / 1000000.0 AS ra) r
JOIN b_agency ra ON ra.i = ri
WHERE k < recipients AND ri <> agency AND dispatched <= %(now)s
  AND (ra < 0.01 OR dispatched + ra * ra * interval '5 days' > %(now)s)
"""

DAY = "(({t}) AT TIME ZONE 'Asia/Ho_Chi_Minh')::date"
COUNTERS = ("arrived", "completed_on_time", "completed_late", "handling_seconds",
            "extensions_requested", "extensions_granted", "dispatched", "dispatched_late")


def _fact(source: str, key: str, t: str, where: str, **values: str) -> str:
    cols = ", ".join(values.get(c, "0") for c in COUNTERS)
    return f"SELECT {key}, {DAY.format(t=t)} AS day, {cols} FROM {source} WHERE {where}"


_PERSON = "agency_id, unit_id, person_id"
_AGENCY = "agency_id, NULL::uuid, NULL::uuid"
_ON_TIME = "completed <= CASE WHEN ext_decided <= completed THEN deadline ELSE deadline0 END"
FACTS = " UNION ALL ".join([
    _fact("b_in", _AGENCY, "arrived", "true", arrived="1"),
    _fact("b_in", _PERSON, "completed", "completed <= %(now)s",
          completed_on_time=f"({_ON_TIME})::int", completed_late=f"(NOT ({_ON_TIME}))::int",
          handling_seconds="extract(epoch FROM completed - assigned)"),
    _fact("b_in", _PERSON, "ext_requested", "ext_requested <= %(now)s",
          extensions_requested="1"),
    _fact("b_in", _PERSON, "ext_decided", "ext_decided <= %(now)s AND granted",
          extensions_granted="1"),
    _fact("b_out", _PERSON, "dispatched", "dispatched <= %(now)s", dispatched="1",
          dispatched_late="(dispatched > signed + interval '1 day')::int"),
])
_SUMS = ", ".join(f"sum({c})" for c in COUNTERS)
_COLS = ", ".join(COUNTERS)
_INTO = f"INSERT INTO b_daily (agency_id, level, unit_id, person_id, day, {_COLS})"
DAILY = [
    "CREATE UNLOGGED TABLE b_daily (LIKE docmgmt.oversight_daily INCLUDING DEFAULTS)",
    f"{_INTO} SELECT agency_id, 2, coalesce(unit_id, {NIL}), coalesce(person_id, {NIL}), day,"
    f" {_SUMS} FROM ({FACTS}) f (agency_id, unit_id, person_id, day, {_COLS})"
    " GROUP BY 1, 3, 4, 5",
    f"{_INTO} SELECT agency_id, 1, unit_id, {NIL}, day, {_SUMS} FROM b_daily"
    " WHERE level = 2 GROUP BY 1, 3, 5",
    f"{_INTO} SELECT agency_id, 0, {NIL}, {NIL}, day, {_SUMS} FROM b_daily"
    " WHERE level = 1 GROUP BY 1, 5",
    # The projection adds a day's rows of every level as that day's events come, so the
    # three levels lie interleaved by day in the table, not one after the other.
    "INSERT INTO docmgmt.oversight_daily SELECT * FROM b_daily ORDER BY day, random()",
]

# The city's leader oversees the city (everything); department 1's leader its department.
MANDATES = """
INSERT INTO docmgmt.oversight_mandates (id, user_id, agency_id, valid_from, valid_to,
    legal_basis, granted_by, granted_at, version)
SELECT md5('mandate:' || a.i)::uuid, l.id, a.id, %(now)s - interval '30 days', NULL,
       'Quyết định phân công giám sát số ' || (a.i + 1) || '/QĐ-UBND', NULL,
       %(now)s - interval '30 days', 2
FROM b_agency a JOIN b_leader l ON l.agency_id = a.id WHERE a.i IN (0, 1)
"""

TABLES = ("oversight_agencies", "oversight_units", "oversight_people", "oversight_open",
          "oversight_unacknowledged", "oversight_daily", "oversight_mandates")
CHUNK = 500_000


def _insert_chunked(conn: psycopg.Connection[Any], sql: str, n: int, label: str,
                    started: float) -> None:
    t0 = NOW - YEAR - timedelta(hours=1)
    step = YEAR.total_seconds() / max(n, 1)
    for lo in range(1, n + 1, CHUNK):
        hi = min(n, lo + CHUNK - 1)
        conn.execute(sql, {"lo": lo, "hi": hi, "t0": t0, "step": step})
        print(f"    {label}: {hi:,} documents, {time.perf_counter() - started:.0f} s",
              flush=True)


def fill(db: Database, incoming: int, outgoing: int) -> None:
    """Fill the oversight tables as the database owner, then VACUUM ANALYZE; prints timings."""
    started = time.perf_counter()
    params: dict[str, Any] = {"now": NOW, "summaries": SUMMARIES,
                              "n_summaries": len(SUMMARIES)}
    with psycopg.connect(db.owner.conninfo()) as conn:
        conn.execute("SET work_mem = '512MB'")
        conn.execute("SET search_path = docmgmt, public")
        conn.execute(TREE)
        conn.execute(B_IN)
        conn.execute(B_OUT)
        _insert_chunked(conn, INCOMING, incoming, "incoming", started)
        _insert_chunked(conn, OUTGOING, outgoing, "outgoing", started)
        steps = [("open incoming", OPEN_INCOMING), ("open outgoing", OPEN_OUTGOING),
                 ("unacknowledged", UNACKNOWLEDGED), ("daily scratch table", DAILY[0]),
                 ("daily level 2", DAILY[1]), ("daily level 1", DAILY[2]),
                 ("daily level 0", DAILY[3]), ("daily, all levels by day", DAILY[4]),
                 ("mandates", MANDATES)]
        for label, sql in steps:
            t = time.perf_counter()
            rows = conn.execute(sql, params).rowcount
            count = f"{rows:,} rows" if rows >= 0 else "done"
            print(f"    {label}: {count} in {time.perf_counter() - t:.1f} s", flush=True)
        conn.execute("DROP TABLE b_in; DROP TABLE b_out; DROP TABLE b_daily")
        conn.commit()
    filled = time.perf_counter() - started
    with psycopg.connect(db.owner.conninfo(), autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"VACUUM ANALYZE docmgmt.{table}")
        size = conn.execute(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c"
            " WHERE c.relname LIKE 'oversight\\_%%' AND c.relkind = 'r'").fetchone()
    print(f"  filled {incoming:,} incoming and {outgoing:,} outgoing documents (SQL as the"
          f" owner, straight into the oversight tables) in {filled:.1f} s; VACUUM ANALYZE"
          f" {time.perf_counter() - started - filled:.1f} s; tables with indexes"
          f" {size[0] if size else '?'}")
