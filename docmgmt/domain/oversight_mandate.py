"""Oversight mandates: which agency (and the agencies below it) a user may oversee, when, why.

One aggregate per user and agency (its id derived from both), so grants never collide.
Granting a mandate that was revoked, or whose term has ended, re-activates it with a new
``Granted`` event; granting one that is still current (or starts in the future) is refused.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.audit_mandate import (
    MandateInForceError,
    MandateNotInForceError,
    MandateTerm,
    check_term,
)
from docmgmt.domain.common import ID_NAMESPACE, Actor, require_text


def oversight_mandate_id(user_id: UUID, agency_id: UUID) -> UUID:
    """The mandate's id, derived from the user's and the agency's."""
    return uuid5(ID_NAMESPACE, f"oversight-mandate:{user_id}:{agency_id}")


class OversightMandate(MandateTerm, Aggregate):
    """A user's authority to oversee one agency's subtree during a term."""

    class Created(Aggregate.Created):
        """The mandate record was started (with its first grant)."""

        user_id: UUID
        agency_id: UUID

    class Granted(Aggregate.Event):
        """The user was given oversight of the agency (and those below it) for a term."""

        user_id: UUID
        agency_id: UUID
        valid_from: datetime
        valid_to: datetime | None
        legal_basis: str
        actor: dict[str, str]

    class Revoked(Aggregate.Event):
        """The oversight was withdrawn (ids included so the event describes itself)."""

        user_id: UUID
        agency_id: UUID
        reason: str
        actor: dict[str, str]

    @staticmethod
    def create_id(user_id: UUID, agency_id: UUID) -> UUID:
        """One mandate per user and agency."""
        return oversight_mandate_id(user_id, agency_id)

    @event(Created)
    def __init__(self, user_id: UUID, agency_id: UUID) -> None:
        self.user_id = user_id
        self.agency_id = agency_id
        self.valid_from: datetime | None = None
        self.valid_to: datetime | None = None
        self.legal_basis = ""
        self.revoked = False

    def grant(self, *, valid_from: datetime, valid_to: datetime | None, legal_basis: str,
              actor: Actor, now: datetime) -> None:
        """Grant (or re-grant after revocation or expiry) the mandate for a term."""
        check_term(valid_from, valid_to)
        if self.current_or_pending(now):
            raise MandateInForceError(
                "the user already holds this mandate; revoke it to change its terms",
                user_id=str(self.user_id), agency_id=str(self.agency_id))
        self._granted(self.user_id, self.agency_id, valid_from, valid_to,
                      require_text("legal_basis", legal_basis, max_len=500),
                      actor.as_payload())

    @event(Granted)
    def _granted(self, user_id: UUID, agency_id: UUID, valid_from: datetime,
                 valid_to: datetime | None, legal_basis: str, actor: dict[str, str]) -> None:
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.legal_basis = legal_basis
        self.revoked = False

    def revoke(self, reason: str, actor: Actor) -> None:
        """Withdraw the mandate (an expired one may still be revoked, for the record)."""
        if self.valid_from is None or self.revoked:
            raise MandateNotInForceError(
                "the mandate is not granted", user_id=str(self.user_id),
                agency_id=str(self.agency_id))
        self._revoked(self.user_id, self.agency_id,
                      require_text("reason", reason, max_len=500), actor.as_payload())

    @event(Revoked)
    def _revoked(self, user_id: UUID, agency_id: UUID, reason: str,
                 actor: dict[str, str]) -> None:
        self.revoked = True
