"""Identity's stores for tests on eventsourcing's in-memory persistence."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from uuid import UUID

from docmgmt.domain.common import Actor, Role
from docmgmt.identity.context import IdentityContext
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt


class InMemoryCredentialStore:
    """Credential store for tests on in-memory persistence."""

    def __init__(self) -> None:
        self._hashes: dict[UUID, str] = {}
        self._generations: dict[UUID, int] = {}
        self._lock = threading.Lock()

    def set_hash(self, user_id: UUID, password_hash: str) -> None:
        """Store or replace the hash, ending every session of the account."""
        with self._lock:
            self._hashes[user_id] = password_hash
            self._generations[user_id] = self._generations.get(user_id, -1) + 1

    def get_hash(self, user_id: UUID) -> str | None:
        """The stored hash, if any."""
        return self._hashes.get(user_id)

    def get_login(self, user_id: UUID) -> tuple[str, int] | None:
        """The stored hash and the session generation, read together."""
        with self._lock:
            if user_id not in self._hashes:
                return None
            return self._hashes[user_id], self._generations[user_id]

    def end_sessions(self, user_id: UUID) -> None:
        """End every token issued to the account so far."""
        with self._lock:
            if user_id in self._generations:
                self._generations[user_id] += 1


class UnlimitedLogins:
    """A login throttle that never refuses (in-memory tests count no failures)."""

    def begin(self, username: str, client_address: str) -> int:
        """Every attempt is allowed."""
        return 0

    def succeeded(self, attempt: int) -> None:
        """Nothing to forget."""


class InMemoryAdminRoster:
    """An admin roster without a read model: one process-wide lock, and no admin listed
    (so demoting the only admin the test knows of is refused, never allowed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the block."""
        with self._lock:
            yield

    def admin_ids(self) -> list[UUID]:
        """No read model in memory: no admin listed."""
        return []


def in_memory_identity(store: DocMgmt) -> IdentityContext:
    """The identity stage on in-memory credentials, throttle and roster."""
    return IdentityContext(store, InMemoryCredentialStore(), UnlimitedLogins(),
                           InMemoryAdminRoster())


def admin_acting_as(actor: Actor) -> Principal:
    """A principal with the admin role whose events carry exactly ``actor`` (test setup)."""
    return Principal(actor.user_id, actor.username, actor.user_id, None,
                     frozenset({Role.ADMIN}), client_ip=actor.client_ip,
                     user_agent=actor.user_agent, request_id=actor.request_id)
