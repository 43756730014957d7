"""The read side's asyncpg pool (the views' queries; the write side uses psycopg)."""

from __future__ import annotations

import asyncpg

from docmgmt.kernel.db import PgParams


async def keep_session(connection: asyncpg.Connection) -> None:
    """What a read connection needs when it goes back to the pool: nothing beyond the step
    asyncpg always takes first, which rolls back a transaction left open.

    asyncpg's default reset sends four statements (advisory unlock, CLOSE ALL, UNLISTEN,
    RESET ALL) after every use: a second round trip for each query, and for each request,
    which is authenticated by one. The read side keeps no session state (no SET, LISTEN,
    advisory lock or cursor outside a transaction), so there is nothing for them to undo.
    """


async def open_read_pool(
    login: PgParams, max_size: int, min_size: int = 1, command_timeout: float = 30,
) -> asyncpg.Pool:
    """A pool for the views' queries, on ``login`` (the application's role)."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        **login.asyncpg_kwargs(), min_size=min_size, max_size=max_size,
        command_timeout=command_timeout, timeout=5, reset=keep_session,
    )
    return pool
