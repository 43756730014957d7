"""Identity use cases: agencies, units, users, passwords and login."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID, uuid5

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from docmgmt.application import CommandResult, DocMgmt
from docmgmt.domain.common import ID_NAMESPACE, Actor, Role
from docmgmt.domain.errors import (
    AgencyNotFoundError,
    DomainError,
    InvalidInputError,
    InvalidStateError,
    PermissionDeniedError,
    UserNotFoundError,
)
from docmgmt.domain.user import User
from docmgmt.services import Principal

MIN_PASSWORD_LENGTH = 10
SYSTEM_ACTOR = Actor(uuid5(ID_NAMESPACE, "system"), "system", "", "docmgmt-cli", "")


class InvalidCredentialsError(DomainError):
    """Wrong username or password, or a disabled account (one message for all)."""

    code = "invalid_credentials"


class CredentialStore(Protocol):
    """Password hashes, kept outside the append-only event store."""

    def set_hash(self, user_id: UUID, password_hash: str) -> None:
        """Store or replace the hash."""

    def get_hash(self, user_id: UUID) -> str | None:
        """The stored hash, if any."""


class InMemoryCredentialStore:
    """Credential store for tests on in-memory persistence."""

    def __init__(self) -> None:
        self._hashes: dict[UUID, str] = {}
        self._lock = threading.Lock()

    def set_hash(self, user_id: UUID, password_hash: str) -> None:
        """Store or replace the hash."""
        with self._lock:
            self._hashes[user_id] = password_hash

    def get_hash(self, user_id: UUID) -> str | None:
        """The stored hash, if any."""
        return self._hashes.get(user_id)


class PostgresCredentialStore:
    """Credential store in the ``docmgmt.credentials`` table, on the write side's pool."""

    def __init__(self, app: DocMgmt) -> None:
        self._datastore = app.recorder.datastore  # type: ignore[attr-defined]

    def set_hash(self, user_id: UUID, password_hash: str) -> None:
        """Store or replace the hash."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO docmgmt.credentials (user_id, password_hash) VALUES (%s, %s) "
                "ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
                " updated_at = now()",
                (user_id, password_hash),
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

    def __init__(self, app: DocMgmt, credentials: CredentialStore) -> None:
        self.app = app
        self.credentials = credentials
        self.hasher = PasswordHasher()
        # Verifying against a dummy hash keeps unknown usernames as slow as wrong passwords.
        self._dummy_hash = self.hasher.hash("not-a-real-password-x")

    # --- authentication -----------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User:
        """The active user with this username and password, or InvalidCredentialsError."""
        try:
            user: User | None = self.app.find_user(username)
        except (UserNotFoundError, InvalidInputError):
            user = None
        stored = self.credentials.get_hash(user.id) if user else None
        try:
            self.hasher.verify(stored or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise InvalidCredentialsError("wrong username or password") from None
        if user is None or stored is None or not user.active:
            raise InvalidCredentialsError("wrong username or password")
        return user

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
        """An admin replaces a user's roles."""
        who.require(Role.ADMIN)
        return self.app.change_roles(user_id, roles, who.actor, expected_version)

    def deactivate(self, who: Principal, user_id: UUID, reason: str) -> CommandResult:
        """An admin disables an account."""
        who.require(Role.ADMIN)
        return self.app.deactivate_user(user_id, reason, who.actor)

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
