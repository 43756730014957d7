"""The identity stage's dependencies: ports for what lives outside the event store."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from argon2 import PasswordHasher

from docmgmt.kernel.store import DocMgmt


class AdminRoster(Protocol):
    """Who may be an admin, and a lock that serialises changes removing one."""

    def hold(self) -> AbstractContextManager[None]:
        """Hold the lock for the block, in every process."""

    def admin_ids(self) -> list[UUID]:
        """Accounts listed with the admin role (a hint: each is checked on the write side)."""


class CredentialStore(Protocol):
    """Password hashes and session generations, kept outside the append-only event store.

    The session generation counts the changes that end an account's tokens; a token
    carries the generation it was issued under and dies when that number moves on.
    """

    def set_hash(self, user_id: UUID, password_hash: str) -> None:
        """Store or replace the hash, ending every session of the account."""

    def get_hash(self, user_id: UUID) -> str | None:
        """The stored hash, if any."""

    def get_login(self, user_id: UUID) -> tuple[str, int] | None:
        """The stored hash and the session generation, read together."""

    def end_sessions(self, user_id: UUID) -> None:
        """End every token issued to the account so far."""


class LoginThrottle(Protocol):
    """Counts login attempts per account and per client address, across processes."""

    def begin(self, username: str, client_address: str) -> int:
        """Note an attempt (a failure until ``succeeded``); TooManyAttemptsError if locked."""

    def succeeded(self, attempt: int) -> None:
        """The attempt logged in: it is not a failure."""


def _dummy_hash() -> str:
    return PasswordHasher().hash("not-a-real-password-x")


@dataclass(frozen=True)
class IdentityContext:
    """What the account and login steps need besides the event store."""

    store: DocMgmt
    credentials: CredentialStore
    throttle: LoginThrottle
    roster: AdminRoster
    local_passwords: bool = True  # False: only single sign-on signs in (settings)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    # Verifying against a dummy hash keeps unknown usernames as slow as wrong passwords.
    dummy_hash: str = field(default_factory=_dummy_hash)
