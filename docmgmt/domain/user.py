"""User accounts: agency, unit, roles. Password hashes live outside the event store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import (
    Actor,
    Role,
    normalise_username,
    require_text,
    user_id_for,
)
from docmgmt.domain.errors import (
    CertificateNotFoundError,
    InvalidInputError,
    InvalidStateError,
)


def _check_roles(roles: list[Role]) -> list[str]:
    if not roles:
        raise InvalidInputError("a user needs at least one role")
    return sorted({Role(r).value for r in roles})


class User(Aggregate):
    """A person who acts in the system on behalf of one agency."""

    class Registered(Aggregate.Created):
        """The account was created."""

        username: str
        full_name: str
        title: str
        agency_id: UUID
        unit_id: UUID | None
        roles: list[str]
        actor: dict[str, str]

    class RolesChanged(Aggregate.Event):
        """The user's roles were replaced."""

        roles: list[str]
        actor: dict[str, str]

    class PasswordChanged(Aggregate.Event):
        """The password was set or changed (the hash itself is never an event)."""

        actor: dict[str, str]

    class Deactivated(Aggregate.Event):
        """The account can no longer log in or act."""

        reason: str
        actor: dict[str, str]

    class Reactivated(Aggregate.Event):
        """A disabled account may log in and act again."""

        reason: str
        actor: dict[str, str]

    class CertificateRegistered(Aggregate.Event):
        """A signing certificate was registered to the user: an admin uploaded it, the user
        proved possession of its key, or the development PKI issued it."""

        certificate: dict[str, str]
        der: str
        chain: list[str]
        method: str
        registered_at: str
        actor: dict[str, str]

    class CertificateRemoved(Aggregate.Event):
        """A registered certificate may no longer be used to sign."""

        fingerprint: str
        reason: str
        actor: dict[str, str]

    @staticmethod
    def create_id(username: str) -> UUID:
        """Users are keyed by their unique username."""
        return user_id_for(username)

    @classmethod
    def register(
        cls,
        *,
        username: str,
        full_name: str,
        title: str,
        agency_id: UUID,
        unit_id: UUID | None,
        roles: list[Role],
        actor: Actor,
    ) -> User:
        """Create an account after checking its fields."""
        return cls(
            username=normalise_username(username),
            full_name=require_text("full_name", full_name, max_len=200),
            title=title.strip()[:200],
            agency_id=agency_id,
            unit_id=unit_id,
            roles=_check_roles(roles),
            actor=actor.as_payload(),
        )

    @event(Registered)
    def __init__(
        self,
        username: str,
        full_name: str,
        title: str,
        agency_id: UUID,
        unit_id: UUID | None,
        roles: list[str],
        actor: dict[str, str],
    ) -> None:
        self.username = username
        self.full_name = full_name
        self.title = title
        self.agency_id = agency_id
        self.unit_id = unit_id
        self.roles = list(roles)
        self.active = True
        self.certificates: dict[str, dict[str, Any]] = {}

    def has_role(self, role: Role) -> bool:
        """Whether the user holds the role."""
        return role.value in self.roles

    def change_roles(self, roles: list[Role], actor: Actor) -> None:
        """Replace the user's roles."""
        self._require_active()
        self._roles_changed(_check_roles(roles), actor.as_payload())

    @event(RolesChanged)
    def _roles_changed(self, roles: list[str], actor: dict[str, str]) -> None:
        self.roles = list(roles)

    def record_password_change(self, actor: Actor) -> None:
        """Note that the password was set; the hash is stored elsewhere."""
        self._require_active()
        self._password_changed(actor.as_payload())

    @event(PasswordChanged)
    def _password_changed(self, actor: dict[str, str]) -> None:
        pass

    def deactivate(self, reason: str, actor: Actor) -> None:
        """Disable the account."""
        self._require_active()
        self._deactivated(require_text("reason", reason, max_len=500), actor.as_payload())

    @event(Deactivated)
    def _deactivated(self, reason: str, actor: dict[str, str]) -> None:
        self.active = False

    def reactivate(self, reason: str, actor: Actor) -> None:
        """Enable a disabled account again."""
        if self.active:
            raise InvalidStateError("the account is active", user=self.username)
        self._reactivated(require_text("reason", reason, max_len=500), actor.as_payload())

    @event(Reactivated)
    def _reactivated(self, reason: str, actor: dict[str, str]) -> None:
        self.active = True

    def register_certificate(self, *, certificate: Mapping[str, Any], der: str, chain: list[str],
                             method: str, registered_at: datetime, actor: Actor) -> None:
        """Register a signing certificate (described, base64 DER, chain) to the user."""
        self._require_active()
        fingerprint = str(certificate["fingerprint_sha256"])
        if fingerprint in self.certificates:
            raise InvalidStateError("this certificate is already registered to the user",
                                    fingerprint=fingerprint)
        described = {k: str(v) for k, v in certificate.items()}
        self._certificate_registered(described, der, list(chain), method,
                                     registered_at.isoformat(), actor.as_payload())

    @event(CertificateRegistered)
    def _certificate_registered(self, certificate: dict[str, str], der: str,
                                chain: list[str], method: str, registered_at: str,
                                actor: dict[str, str]) -> None:
        self.certificates[certificate["fingerprint_sha256"]] = {
            **certificate, "der": der, "chain": list(chain), "method": method,
            "registered_at": registered_at}

    def remove_certificate(self, fingerprint: str, reason: str, actor: Actor) -> None:
        """Stop a registered certificate from being used to sign."""
        if fingerprint not in self.certificates:
            raise CertificateNotFoundError("no such certificate is registered to the user",
                                           fingerprint=fingerprint)
        self._certificate_removed(fingerprint, require_text("reason", reason, max_len=500),
                                  actor.as_payload())

    @event(CertificateRemoved)
    def _certificate_removed(self, fingerprint: str, reason: str,
                             actor: dict[str, str]) -> None:
        self.certificates.pop(fingerprint, None)

    def _require_active(self) -> None:
        if not self.active:
            raise InvalidStateError("the account is deactivated", user=self.username)
