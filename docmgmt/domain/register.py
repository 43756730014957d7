"""Number registers (sổ đăng ký văn bản): consecutive numbers per agency, year and series."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import Actor
from docmgmt.domain.errors import AlreadyExistsError


class Series(StrEnum):
    """Separate numbering series (Decree 30, Art. 15)."""

    GENERAL = "general"  # administrative documents
    LEGAL = "legal"  # legal normative documents (văn bản quy phạm pháp luật)
    INCOMING = "incoming"  # arrival numbers of the incoming register (sổ văn bản đến)


def register_id(agency_id: UUID, year: int, series: Series) -> UUID:
    """The register's id: one per agency, calendar year and series."""
    return uuid5(agency_id, f"register:{Series(series).value}:{year}")


class NumberRegister(Aggregate):
    """Issues 1, 2, 3 ... from 1 January to 31 December, with no gaps and no repeats."""

    class Opened(Aggregate.Created):
        """The register for a year and series was opened."""

        agency_id: UUID
        year: int
        series: str

    class NumberIssued(Aggregate.Event):
        """A number was given to a document."""

        number: int
        document_id: UUID
        actor: dict[str, Any]

    @staticmethod
    def create_id(agency_id: UUID, year: int, series: str) -> UUID:
        """Registers are keyed by agency, year and series."""
        return register_id(agency_id, year, Series(series))

    @event(Opened)
    def __init__(self, agency_id: UUID, year: int, series: str) -> None:
        self.agency_id = agency_id
        self.year = year
        self.series = Series(series)
        self.last_number = 0
        self.documents: dict[UUID, int] = {}

    def issue(self, document_id: UUID, actor: Actor) -> int:
        """The next consecutive number, for a document that has none yet."""
        if document_id in self.documents:
            raise AlreadyExistsError(
                f"document {document_id} already has number {self.documents[document_id]}"
            )
        number = self.last_number + 1
        self._issued(number, document_id, actor.as_payload())
        return number

    @event(NumberIssued)
    def _issued(self, number: int, document_id: UUID, actor: dict[str, Any]) -> None:
        self.last_number = number
        self.documents[document_id] = number
