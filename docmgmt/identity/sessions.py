"""Sessions in PostgreSQL: token generations, login throttling and the admin roster.

Everything here is shared by every API process through the database, never held in one
process's memory, so that a limit or a revocation holds whichever process answers.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from docmgmt.identity.login import TooManyAttemptsError
from docmgmt.kernel.pglocks import PostgresRegisterLock


async def list_failed_logins(pool: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    """The most recent failed logins, newest first."""
    rows = await pool.fetch(
        "SELECT username, client_address, at FROM docmgmt.login_failures"
        " ORDER BY id DESC LIMIT $1", limit)
    return [{"username": r["username"], "client_address": r["client_address"],
             "at": r["at"].isoformat()} for r in rows]


# The latest earlier attempts by one key: of the account, or of the client address.
_RECENT_BY = {
    "username": "SELECT at, clock_timestamp() AS now FROM docmgmt.login_failures"
                " WHERE username = %s AND id <> %s"
                " AND at > clock_timestamp() - make_interval(secs => %s)"
                " ORDER BY at DESC LIMIT %s",
    "client_address": "SELECT at, clock_timestamp() AS now FROM docmgmt.login_failures"
                      " WHERE client_address = %s AND id <> %s"
                      " AND at > clock_timestamp() - make_interval(secs => %s)"
                      " ORDER BY at DESC LIMIT %s",
}


@dataclass(frozen=True)
class LoginLimits:
    """How many failures lock what, for how long, and how much of the record is kept."""

    per_account: int
    per_address: int
    window_seconds: int
    lockout_seconds: int
    keep_rows: int
    keep_days: int


class PostgresLoginThrottle:
    """Login attempts in ``login_failures``: each attempt is a row, committed before the
    password is checked and deleted if it logs in, so parallel guesses count each other."""

    def __init__(self, datastore: Any, limits: LoginLimits) -> None:
        self._datastore = datastore
        self.limits = limits

    def begin(self, username: str, client_address: str) -> int:
        """Note an attempt (a failure until ``succeeded``); TooManyAttemptsError if locked."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO docmgmt.login_failures (username, client_address)"
                " VALUES (%s, %s) RETURNING id", (username, client_address))
            attempt = int(curs.fetchone()["id"])
            self._prune(curs, attempt)
        # Counted after the insert committed: of N simultaneous attempts, the k-th to
        # commit sees at least k-1 others, so no burst gets past the limit.
        with self._datastore.transaction(commit=False) as curs:
            wait = max(self._wait(curs, "username", username, attempt,
                                  self.limits.per_account),
                       self._wait(curs, "client_address", client_address, attempt,
                                  self.limits.per_address))
        if wait > 0:
            # A refused attempt checked no password: it is not a failure to record.
            self.succeeded(attempt)
            raise TooManyAttemptsError(wait)
        return attempt

    def succeeded(self, attempt: int) -> None:
        """The attempt logged in (or was never checked): it is not a failure."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute("DELETE FROM docmgmt.login_failures WHERE id = %s", (attempt,))

    def _wait(self, curs: Any, column: str, value: str, attempt: int, limit: int) -> int:
        """Seconds until ``limit`` earlier failures within the window stop locking."""
        span = self.limits.window_seconds + self.limits.lockout_seconds
        curs.execute(_RECENT_BY[column], (value, attempt, span, limit))
        rows = curs.fetchall()
        if len(rows) < limit:
            return 0
        latest: datetime = rows[0]["at"]
        if (latest - rows[-1]["at"]).total_seconds() > self.limits.window_seconds:
            return 0
        now: datetime = rows[0]["now"]
        left = self.limits.lockout_seconds - (now - latest).total_seconds()
        return max(0, math.ceil(left))

    def _prune(self, curs: Any, newest: int) -> None:
        # Bounded by count and by age, so that no flood of guesses can fill the disk.
        curs.execute(
            "DELETE FROM docmgmt.login_failures WHERE id <= %s"
            " OR at < now() - make_interval(days => %s)",
            (newest - self.limits.keep_rows, self.limits.keep_days))


class PostgresAdminRoster:
    """The admin roster from the read model, and one advisory lock across processes."""

    def __init__(self, datastore: Any, lock: PostgresRegisterLock) -> None:
        self._datastore = datastore
        self._lock = lock

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the block, in every process."""
        with self._lock.hold("identity:admins"):
            yield

    def admin_ids(self) -> list[UUID]:
        """Accounts listed with the admin role (a hint: each is checked on the write side)."""
        with self._datastore.transaction(commit=False) as curs:
            curs.execute("SELECT id FROM docmgmt.users_view WHERE 'admin' = ANY(roles)")
            return [UUID(str(r["id"])) for r in curs.fetchall()]
