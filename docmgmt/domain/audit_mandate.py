"""Audit mandates: which agencies an auditor may read, from when, until when, and why.

One aggregate per auditor and agency (its id derived from both), so granting and revoking
never collide with other mandates. Granting a mandate that was revoked, or whose term has
ended, re-activates it with a new ``Granted`` event carrying the new terms; granting one
that is still current (or starts in the future) is refused: revoke it first.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import ID_NAMESPACE, Actor, require_text
from docmgmt.domain.errors import InvalidInputError, InvalidStateError


def audit_mandate_id(auditor_id: UUID, agency_id: UUID) -> UUID:
    """The mandate's id, derived from the auditor's and the agency's."""
    return uuid5(ID_NAMESPACE, f"audit-mandate:{auditor_id}:{agency_id}")


class NotAnAuditorError(InvalidInputError):
    """Audit mandates are granted to users who hold the auditor role only."""

    code = "not_an_auditor"


class MandateInForceError(InvalidStateError):
    """The mandate is already current (or pending); revoke it before granting new terms."""

    code = "mandate_in_force"


class MandateNotInForceError(InvalidStateError):
    """The mandate was revoked already."""

    code = "mandate_not_in_force"


def _aware(name: str, moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInputError(f"{name} must carry a time zone, e.g. +07:00", field=name)
    return moment


def check_term(valid_from: datetime, valid_to: datetime | None) -> None:
    """A mandate's term: moments with their time zone, the end (if any) after the start."""
    _aware("valid_from", valid_from)
    if valid_to is not None:
        _aware("valid_to", valid_to)
        if valid_to <= valid_from:
            raise InvalidInputError("valid_to must be after valid_from", field="valid_to")


class MandateTerm:
    """When a mandate (audit or oversight) allows its holder to act: granted, not revoked,
    within its term. Mixed into the aggregates, which set ``valid_from``, ``valid_to`` and
    ``revoked`` from their events."""

    valid_from: datetime | None
    valid_to: datetime | None
    revoked: bool

    def in_force(self, now: datetime) -> bool:
        """Whether the mandate allows its holder to act at ``now``."""
        return (self.valid_from is not None and not self.revoked
                and self.valid_from <= now
                and (self.valid_to is None or now < self.valid_to))

    def current_or_pending(self, now: datetime) -> bool:
        """Granted, not revoked, and its term not over at ``now`` (it may start later)."""
        return (self.valid_from is not None and not self.revoked
                and (self.valid_to is None or now < self.valid_to))


class AuditMandate(MandateTerm, Aggregate):
    """An auditor's authority to read one agency's records during a term."""

    class Created(Aggregate.Created):
        """The mandate record was started (with its first grant)."""

        auditor_id: UUID
        agency_id: UUID

    class Granted(Aggregate.Event):
        """The auditor was given authority to read the agency's records for a term."""

        auditor_id: UUID
        agency_id: UUID
        valid_from: datetime
        valid_to: datetime | None
        legal_basis: str
        actor: dict[str, str]

    class Revoked(Aggregate.Event):
        """The authority was withdrawn (the ids make the event self-describing for the
        read model and for the auditors' store queries)."""

        auditor_id: UUID
        agency_id: UUID
        reason: str
        actor: dict[str, str]

    @staticmethod
    def create_id(auditor_id: UUID, agency_id: UUID) -> UUID:
        """One mandate per auditor and agency."""
        return audit_mandate_id(auditor_id, agency_id)

    @event(Created)
    def __init__(self, auditor_id: UUID, agency_id: UUID) -> None:
        self.auditor_id = auditor_id
        self.agency_id = agency_id
        self.valid_from: datetime | None = None
        self.valid_to: datetime | None = None
        self.legal_basis = ""
        self.revoked = False

    def grant(self, *, valid_from: datetime, valid_to: datetime | None, legal_basis: str,
              actor: Actor, now: datetime) -> None:
        """Grant (or re-grant after revocation or expiry) the mandate for a term; a term
        wholly in the past is accepted as a record but never allows a read."""
        check_term(valid_from, valid_to)
        if self.current_or_pending(now):
            raise MandateInForceError(
                "the auditor already holds this mandate; revoke it to change its terms",
                auditor_id=str(self.auditor_id), agency_id=str(self.agency_id))
        self._granted(self.auditor_id, self.agency_id, valid_from, valid_to,
                      require_text("legal_basis", legal_basis, max_len=500),
                      actor.as_payload())

    @event(Granted)
    def _granted(self, auditor_id: UUID, agency_id: UUID, valid_from: datetime,
                 valid_to: datetime | None, legal_basis: str, actor: dict[str, str]) -> None:
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.legal_basis = legal_basis
        self.revoked = False

    def revoke(self, reason: str, actor: Actor) -> None:
        """Withdraw the mandate (an expired one may still be revoked, for the record)."""
        if self.valid_from is None or self.revoked:
            raise MandateNotInForceError(
                "the mandate is not granted", auditor_id=str(self.auditor_id),
                agency_id=str(self.agency_id))
        self._revoked(self.auditor_id, self.agency_id,
                      require_text("reason", reason, max_len=500), actor.as_payload())

    @event(Revoked)
    def _revoked(self, auditor_id: UUID, agency_id: UUID, reason: str,
                 actor: dict[str, str]) -> None:
        self.revoked = True
