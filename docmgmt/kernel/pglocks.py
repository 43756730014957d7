"""PostgreSQL advisory locks that serialise numbering per register across processes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg


class PostgresRegisterLock:
    """Holds ``pg_advisory_lock`` on its own connection (never a pooled one).

    A pooled connection could deadlock: waiters would hold every pooled connection
    while the lock holder needs one to save.
    """

    def __init__(self, conninfo: str, timeout_seconds: float = 30.0) -> None:
        self._conninfo = conninfo
        self._timeout_ms = int(timeout_seconds * 1000)

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the lock named ``key`` for the block."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f"SET lock_timeout = {self._timeout_ms}")
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
