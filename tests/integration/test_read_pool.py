"""The read side's asyncpg pool: a connection goes back without a reset round trip, and
still comes back clean (a transaction left open is rolled back).

asyncpg's default reset sends four statements after every use; each authenticated request
made that second round trip. The read side keeps no session state, so the pool's reset is
only asyncpg's own rollback of an open transaction.
"""

from __future__ import annotations

import asyncio

import pytest

from docmgmt.kernel.db import Database
from docmgmt.kernel.readpool import open_read_pool

pytestmark = pytest.mark.pg


def test_release_sends_nothing(database: Database) -> None:
    async def run() -> list[str]:
        pool = await open_read_pool(database.app, max_size=1)
        seen: list[str] = []
        try:
            async with pool.acquire() as connection:
                connection.add_query_logger(lambda record: seen.append(record.query))
                assert await connection.fetchval("SELECT 1") == 1
            # The same (only) connection again: whatever the release sent shows up here.
            async with pool.acquire() as connection:
                assert await connection.fetchval("SELECT 2") == 2
        finally:
            await pool.close()
        return seen

    # Against asyncpg's default reset this lists "SELECT pg_advisory_unlock_all(); CLOSE
    # ALL; UNLISTEN *; RESET ALL;" between the two queries.
    assert asyncio.run(run()) == ["SELECT 1", "SELECT 2"]


def test_an_open_transaction_is_rolled_back(database: Database) -> None:
    async def run() -> tuple[bool, int]:
        pool = await open_read_pool(database.app, max_size=1)
        try:
            async with pool.acquire() as connection:
                await connection.execute("BEGIN")
                await connection.execute("CREATE TEMP TABLE left_open (x int)")
            async with pool.acquire() as connection:
                in_transaction = connection.is_in_transaction()
                left = await connection.fetchval(
                    "SELECT count(*) FROM pg_class WHERE relname = 'left_open'")
        finally:
            await pool.close()
        return in_transaction, left

    in_transaction, left = asyncio.run(run())
    assert not in_transaction
    assert left == 0  # the table of the abandoned transaction went with it
