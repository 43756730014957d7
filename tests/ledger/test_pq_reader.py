"""The C reader: rows read through psycopg's own libpq connection and hashed as leaves.

Expected digests come from :func:`docmgmt.ledger.leaf.event_leaf_hash` (hashlib over the
canonical leaf), never from the module under test; the rows are real PostgreSQL rows of
the event table's column types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import psycopg
import pytest

from docmgmt.kernel.db import Database
from docmgmt.ledger import bulkhash, fastverify
from docmgmt.ledger.leaf import event_leaf_hash
from tests.ledger.test_bulkhash import HEAD, sample_events

pytestmark = pytest.mark.postgres

ROWS = b"SELECT position, id, version, topic, state FROM leaves ORDER BY position"


def test_the_c_reader_is_in_use() -> None:
    assert fastverify.c_reader_unavailable() == "", (
        "the fast verification pass cannot read rows in C:"
        f" {fastverify.c_reader_unavailable()}")


@pytest.fixture
def conn(database: Database) -> Iterator[psycopg.Connection[Any]]:
    """A connection with a temporary table of the event table's column types."""
    assert fastverify.c_reader_unavailable() == ""
    with psycopg.connect(database.app.conninfo(), autocommit=True) as connection:
        connection.execute("CREATE TEMP TABLE leaves (position int8 PRIMARY KEY, id uuid,"
                           " version int8, topic text, state bytea)")
        yield connection


def pointer(conn: psycopg.Connection[Any]) -> int:
    address = cast(Any, conn.pgconn).pgconn_ptr
    assert isinstance(address, int)
    return address


def test_rows_hash_as_the_definition(conn: psycopg.Connection[Any]) -> None:
    events = sample_events(300, seed=4)
    # Topics past the C code's 256-byte inline buffer, and 4-byte UTF-8 characters.
    events += [(p, i, v, "docmgmt.topic:" + "t" * 300, s) for p, i, v, _, s in
               sample_events(3, seed=5)]
    events += [(p, i, v, "chữ ký 🖋" * 40, s) for p, i, v, _, s in sample_events(3, seed=6)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO leaves VALUES (%s, %s, %s, %s, %s)", events)
    events.sort()
    head = events[150][0]
    count, done, last, leaves = cast(
        tuple[int, int, int, bytes],
        bulkhash.pq_leaf_hashes(pointer(conn), ROWS, (), HEAD, head))
    assert (count, done, last) == (len(events), 151, events[-1][0])
    assert leaves == b"".join(event_leaf_hash(*event) for event in events)
    # Parameters, as text; and no row at all.
    assert bulkhash.pq_leaf_hashes(
        pointer(conn), b"SELECT position, id, version, topic, state FROM leaves"
        b" WHERE position > $1 ORDER BY position LIMIT $2",
        (b"%d" % events[9][0], b"5"), HEAD, head) == (
        5, 5, events[14][0], b"".join(event_leaf_hash(*e) for e in events[10:15]))
    assert bulkhash.pq_leaf_hashes(pointer(conn), ROWS + b" LIMIT 0", (), HEAD, 0) == (
        0, 0, 0, b"")


def test_a_null_topic_or_state_is_not_hashed(conn: psycopg.Connection[Any]) -> None:
    conn.cursor().executemany("INSERT INTO leaves VALUES (%s, %s, %s, %s, %s)",
                              sample_events(5, seed=7))
    assert bulkhash.pq_leaf_hashes(pointer(conn), ROWS, (), HEAD, 0) is not None
    for column in ("topic", "state"):
        with conn.transaction(force_rollback=True):
            conn.execute(f"UPDATE leaves SET {column} = NULL WHERE position = ("
                         "SELECT max(position) FROM leaves)")
            assert bulkhash.pq_leaf_hashes(pointer(conn), ROWS, (), HEAD, 0) is None


FIXED = "int8, uuid and int8"


@pytest.mark.parametrize(("sql", "message"), [
    (b"SELECT position, id, version, topic FROM leaves", "5 columns"),
    (b"SELECT (position % 1000)::int4, id, version, topic, state FROM leaves", FIXED),
    (b"SELECT position, id::text, version, topic, state FROM leaves", FIXED),
    (b"SELECT NULL::int8, id, version, topic, state FROM leaves", FIXED),
])
def test_rows_of_another_shape_are_refused(conn: psycopg.Connection[Any], sql: bytes,
                                           message: str) -> None:
    conn.cursor().executemany("INSERT INTO leaves VALUES (%s, %s, %s, %s, %s)",
                              sample_events(2, seed=8))
    with pytest.raises(ValueError, match=message):
        bulkhash.pq_leaf_hashes(pointer(conn), sql, (), HEAD, 0)
    assert conn.execute("SELECT count(*) FROM leaves").fetchone() == (2,)


def test_a_failed_query_raises_and_leaves_the_connection_usable(
        conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(RuntimeError, match="division by zero"):
        bulkhash.pq_leaf_hashes(pointer(conn), b"SELECT 1 / 0", (), HEAD, 0)
    with pytest.raises(RuntimeError, match="invalid input syntax for type bigint"):
        bulkhash.pq_leaf_hashes(pointer(conn), ROWS.replace(b"ORDER", b"WHERE position > $1"
                                                            b" ORDER"), (b"x",), HEAD, 0)
    # A failure after hundreds of rows have arrived (in results of 256 rows, libpq 17+).
    with pytest.raises(RuntimeError, match="division by zero"):
        bulkhash.pq_leaf_hashes(
            pointer(conn), b"SELECT g::int8, gen_random_uuid(), 1::int8, 't', CASE WHEN"
            b" g < 600 THEN '\\x00'::bytea ELSE (1 / (600 - g))::text::bytea END"
            b" FROM generate_series(1, 700) AS g", (), HEAD, 0)
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert conn.execute("SELECT 2").fetchone() == (2,)
    # Inside a transaction, the failure is the server's: the transaction is aborted, and
    # psycopg sees it so.
    conn.execute("BEGIN")
    with pytest.raises(RuntimeError, match="division by zero"):
        bulkhash.pq_leaf_hashes(pointer(conn), b"SELECT 1 / 0", (), HEAD, 0)
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.INERROR
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        conn.execute("SELECT 3")
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT 4").fetchone() == (4,)
