"""Identity use cases: agencies, units, users, passwords and login."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID, uuid5

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from docmgmt.domain.common import ID_NAMESPACE, Actor, Role
from docmgmt.domain.errors import (
    AgencyNotFoundError,
    ConflictError,
    DomainError,
    InvalidInputError,
    InvalidStateError,
    PermissionDeniedError,
    UserNotFoundError,
)
from docmgmt.domain.user import User
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt

MIN_PASSWORD_LENGTH = 10
SYSTEM_ACTOR = Actor(uuid5(ID_NAMESPACE, "system"), "system", "", "docmgmt-cli", "")


class InvalidCredentialsError(DomainError):
    """Wrong username or password, or a disabled account (one message for all)."""

    code = "invalid_credentials"


class TooManyAttemptsError(DomainError):
    """Too many failed logins for the account or from the address: wait and retry."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class LastAdminError(ConflictError):
    """The change would leave no active admin to administer the system."""

    code = "last_admin"


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


@dataclass(frozen=True)
class NewUser:
    """Fields of a new account."""

    username: str
    full_name: str
    password: str
    roles: Sequence[Role]
    agency_id: UUID
    unit_id: UUID | None = None
    title: str = ""


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")


class IdentityService:
    """Administration of agencies and users, and authentication."""

    def __init__(
        self, app: DocMgmt, credentials: CredentialStore,
        throttle: LoginThrottle | None = None, roster: AdminRoster | None = None,
    ) -> None:
        self.app = app
        self.credentials = credentials
        # Without them (in-memory tests) logins are not throttled and admins not counted.
        self.throttle = throttle
        self.roster = roster
        self.hasher = PasswordHasher()
        # Verifying against a dummy hash keeps unknown usernames as slow as wrong passwords.
        self._dummy_hash = self.hasher.hash("not-a-real-password-x")

    # --- authentication -----------------------------------------------------------------

    def log_in(self, username: str, password: str, client_address: str) -> tuple[User, int]:
        """The user and their session generation, if the attempt is allowed (else
        TooManyAttemptsError, even for the right password) and the password is right."""
        if self.throttle is None:
            return self._verify(username, password)
        # Names that do not exist are counted like those that do, so a lock-out says
        # nothing about which accounts exist.
        attempt = self.throttle.begin(username.strip().lower()[:200], client_address)
        found = self._verify(username, password)
        self.throttle.succeeded(attempt)
        return found

    def authenticate(self, username: str, password: str) -> User:
        """The active user with this username and password, or InvalidCredentialsError."""
        return self._verify(username, password)[0]

    def _verify(self, username: str, password: str) -> tuple[User, int]:
        try:
            user: User | None = self.app.find_user(username)
        except (UserNotFoundError, InvalidInputError):
            user = None
        login = self.credentials.get_login(user.id) if user else None
        try:
            self.hasher.verify(login[0] if login else self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise InvalidCredentialsError("wrong username or password") from None
        if user is None or login is None or not user.active:
            raise InvalidCredentialsError("wrong username or password")
        return user, login[1]

    # --- bootstrap (command line only) ------------------------------------------------

    def bootstrap_admin(
        self, username: str, password: str, full_name: str, agency_code: str, agency_name: str
    ) -> UUID:
        """Create the first agency and an admin user in it (idempotent for the agency)."""
        try:
            agency = self.app.find_agency(agency_code)
            agency_id = agency.id
        except AgencyNotFoundError:
            agency_id = self.app.register_agency(agency_code, agency_name, None, SYSTEM_ACTOR).id
        return self._create_user(
            NewUser(username=username, full_name=full_name, password=password,
                    roles=[Role.ADMIN], agency_id=agency_id, title="Quản trị hệ thống"),
            SYSTEM_ACTOR,
        ).id

    # --- administration ---------------------------------------------------------------

    def create_agency(
        self, who: Principal, code: str, name: str, parent_id: UUID | None
    ) -> CommandResult:
        """An admin registers an agency."""
        who.require(Role.ADMIN)
        return self.app.register_agency(code, name, parent_id, who.actor)

    def add_unit(
        self, who: Principal, agency_id: UUID, code: str, name: str,
        expected_version: int | None,
    ) -> CommandResult:
        """An admin adds an organisational unit to an agency."""
        who.require(Role.ADMIN)
        return self.app.add_unit(agency_id, code, name, who.actor, expected_version)

    def create_user(self, who: Principal, new: NewUser) -> CommandResult:
        """An admin creates an account with an initial password."""
        who.require(Role.ADMIN)
        return self._create_user(new, who.actor)

    def _create_user(self, new: NewUser, actor: Actor) -> CommandResult:
        _check_password(new.password)
        result = self.app.register_user(
            username=new.username, full_name=new.full_name, title=new.title,
            agency_id=new.agency_id, unit_id=new.unit_id, roles=new.roles, actor=actor,
        )
        self.credentials.set_hash(result.id, self.hasher.hash(new.password))
        return result

    def change_roles(
        self, who: Principal, user_id: UUID, roles: Sequence[Role], expected_version: int | None
    ) -> CommandResult:
        """An admin replaces a user's roles (which ends the user's sessions)."""
        who.require(Role.ADMIN)
        with self._keeping_an_admin(user_id, stays_admin=Role.ADMIN in roles):
            result = self.app.change_roles(user_id, roles, who.actor, expected_version)
        self.credentials.end_sessions(user_id)
        return result

    def deactivate(self, who: Principal, user_id: UUID, reason: str) -> CommandResult:
        """An admin disables an account (which ends its sessions)."""
        who.require(Role.ADMIN)
        with self._keeping_an_admin(user_id, stays_admin=False):
            result = self.app.deactivate_user(user_id, reason, who.actor)
        self.credentials.end_sessions(user_id)
        return result

    def reactivate(self, who: Principal, user_id: UUID, reason: str) -> CommandResult:
        """An admin enables a disabled account again (its old tokens stay ended)."""
        who.require(Role.ADMIN)
        return self.app.reactivate_user(user_id, reason, who.actor)

    @contextlib.contextmanager
    def _keeping_an_admin(self, user_id: UUID, *, stays_admin: bool) -> Iterator[None]:
        """Refuse a change that leaves no active admin. Two admins demoting each other at
        once are serialised by the roster's lock, and each counts the others from their
        aggregates (the write side), so the second sees what the first did."""
        # Only an active admin's change can lower the count; promotions never do, so a
        # target that is not one now needs no lock.
        if stays_admin or self.roster is None or not self._is_active_admin(user_id):
            yield
            return
        with self.roster.hold():
            target = self.app.get_user(user_id)
            if target.active and target.has_role(Role.ADMIN) and not any(
                self._is_active_admin(other)
                for other in self.roster.admin_ids() if other != user_id
            ):
                raise LastAdminError(
                    f"{target.username} is the last active admin; make another admin first",
                    user=target.username)
            yield

    def _is_active_admin(self, user_id: UUID) -> bool:
        try:
            user = self.app.get_user(user_id)
        except UserNotFoundError:
            return False
        return user.active and user.has_role(Role.ADMIN)

    def set_password(self, who: Principal | None, user_id: UUID, password: str) -> CommandResult:
        """A user changes their own password, or an admin (or the CLI, who=None) resets it."""
        if who is not None and who.user_id != user_id and Role.ADMIN not in who.roles:
            raise PermissionDeniedError("only an admin can set another user's password")
        _check_password(password)
        user = self.app.get_user(user_id)
        if not user.active:
            raise InvalidStateError("the account is deactivated", user=user.username)
        self.credentials.set_hash(user.id, self.hasher.hash(password))
        return self.app.record_password_change(user.id, who.actor if who else SYSTEM_ACTOR)
