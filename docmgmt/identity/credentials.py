"""Password hashes and session generations in PostgreSQL, outside the event store."""

from __future__ import annotations

from uuid import UUID

from docmgmt.kernel.store import DocMgmt


class PostgresCredentialStore:
    """Credential store in the ``docmgmt.credentials`` table, on the write side's pool."""

    def __init__(self, app: DocMgmt) -> None:
        self._datastore = app.recorder.datastore  # type: ignore[attr-defined]

    def set_hash(self, user_id: UUID, password_hash: str) -> None:
        """Store or replace the hash, ending every session of the account."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO docmgmt.credentials (user_id, password_hash) VALUES (%s, %s) "
                "ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
                " updated_at = now(),"
                " session_generation = credentials.session_generation + 1",
                (user_id, password_hash),
            )

    def get_login(self, user_id: UUID) -> tuple[str, int] | None:
        """The stored hash and the session generation, read together."""
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT password_hash, session_generation FROM docmgmt.credentials"
                " WHERE user_id = %s", (user_id,)
            )
            row = curs.fetchone()
        return None if row is None else (str(row["password_hash"]),
                                         int(row["session_generation"]))

    def end_sessions(self, user_id: UUID) -> None:
        """End every token issued to the account so far."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE docmgmt.credentials SET session_generation = session_generation + 1"
                " WHERE user_id = %s", (user_id,)
            )

    def get_hash(self, user_id: UUID) -> str | None:
        """The stored hash, if any."""
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT password_hash FROM docmgmt.credentials WHERE user_id = %s", (user_id,)
            )
            row = curs.fetchone()
        return None if row is None else str(row["password_hash"])

