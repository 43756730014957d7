"""Outgoing official document (văn bản đi): drafts, revisions, comments, views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import (
    Actor,
    Confidentiality,
    DocumentType,
    FileRef,
    Urgency,
    require_text,
)
from docmgmt.domain.errors import InvalidStateError, RevisionNotFoundError

MAX_SUMMARY = 1000
MAX_COMMENT = 4000


class Status(StrEnum):
    """Where the document stands in its life."""

    DRAFT = "draft"


@dataclass(frozen=True)
class Revision:
    """One uploaded PDF version of the draft."""

    number: int
    file: FileRef
    note: str
    uploaded_by: UUID
    uploaded_at: datetime


class OutgoingDocument(Aggregate):
    """A document the agency drafts, signs and issues."""

    class Drafted(Aggregate.Created):
        """An official drafted the document with its first PDF revision."""

        agency_id: UUID
        unit_id: UUID | None
        summary: str
        doc_type: str
        urgency: str
        confidentiality: str
        legal_normative: bool
        file: dict[str, Any]
        actor: dict[str, str]

    class RevisionUploaded(Aggregate.Event):
        """A new PDF revision replaced the previous one as current."""

        revision: int
        file: dict[str, Any]
        note: str
        actor: dict[str, str]

    class Commented(Aggregate.Event):
        """Someone commented on the draft (on a given revision)."""

        revision: int
        text: str
        actor: dict[str, str]

    class Viewed(Aggregate.Event):
        """Someone opened or downloaded a revision."""

        revision: int
        purpose: str
        actor: dict[str, str]

    @classmethod
    def draft(
        cls,
        *,
        agency_id: UUID,
        unit_id: UUID | None,
        summary: str,
        doc_type: DocumentType,
        urgency: Urgency,
        confidentiality: Confidentiality,
        legal_normative: bool,
        file: FileRef,
        actor: Actor,
    ) -> OutgoingDocument:
        """Start a draft from its first PDF revision."""
        return cls(
            agency_id=agency_id,
            unit_id=unit_id,
            summary=require_text("summary", summary, max_len=MAX_SUMMARY),
            doc_type=DocumentType(doc_type).value,
            urgency=Urgency(urgency).value,
            confidentiality=Confidentiality(confidentiality).value,
            legal_normative=bool(legal_normative),
            file=file.as_payload(),
            actor=actor.as_payload(),
        )

    @event(Drafted)
    def __init__(
        self,
        agency_id: UUID,
        unit_id: UUID | None,
        summary: str,
        doc_type: str,
        urgency: str,
        confidentiality: str,
        legal_normative: bool,
        file: dict[str, Any],
        actor: dict[str, str],
    ) -> None:
        self.agency_id = agency_id
        self.unit_id = unit_id
        self.summary = summary
        self.doc_type = DocumentType(doc_type)
        self.urgency = Urgency(urgency)
        self.confidentiality = Confidentiality(confidentiality)
        self.legal_normative = legal_normative
        self.status = Status.DRAFT
        self.drafted_by = UUID(actor["user_id"])
        self.revisions: list[Revision] = [
            Revision(1, FileRef.from_payload(file), "", self.drafted_by, self.created_on)
        ]
        self.comment_count = 0
        self.view_count = 0

    @property
    def current_revision(self) -> Revision:
        """The latest uploaded revision."""
        return self.revisions[-1]

    def revision(self, number: int) -> Revision:
        """A revision by number, or RevisionNotFoundError."""
        if not 1 <= number <= len(self.revisions):
            raise RevisionNotFoundError(f"revision {number} does not exist", revision=number)
        return self.revisions[number - 1]

    def upload_revision(self, file: FileRef, note: str, actor: Actor) -> int:
        """Add a new PDF revision while the document is still a draft."""
        if self.status is not Status.DRAFT:
            raise InvalidStateError(
                f"revisions can only be uploaded to a draft (status: {self.status.value})"
            )
        number = len(self.revisions) + 1
        self._revision_uploaded(number, file.as_payload(), note.strip()[:MAX_COMMENT],
                                actor.as_payload())
        return number

    @event(RevisionUploaded)
    def _revision_uploaded(
        self, revision: int, file: dict[str, Any], note: str, actor: dict[str, str]
    ) -> None:
        self.revisions.append(
            Revision(revision, FileRef.from_payload(file), note, UUID(actor["user_id"]),
                     self.modified_on)
        )

    def comment(self, text: str, actor: Actor) -> None:
        """Comment on the current revision."""
        body = require_text("text", text, max_len=MAX_COMMENT)
        self._commented(self.current_revision.number, body, actor.as_payload())

    @event(Commented)
    def _commented(self, revision: int, text: str, actor: dict[str, str]) -> None:
        self.comment_count += 1

    def record_view(self, revision: int, purpose: str, actor: Actor) -> Revision:
        """Record that a revision was opened or downloaded, and return it."""
        found = self.revision(revision)
        self._viewed(found.number, purpose, actor.as_payload())
        return found

    @event(Viewed)
    def _viewed(self, revision: int, purpose: str, actor: dict[str, str]) -> None:
        self.view_count += 1
