"""What the oversight queries return: typed values shared by the API, the pages, the CSV
export and the printable report.

Figures of two kinds sit side by side:
- flows over the period (local dates, both ends included): arrivals, completions, extensions,
  dispatches, counted from the day they happened;
- the open state as of ``now``: what waits, and what is late. "Late" is derived at query time
  from each document's deadline and ``now``; it is never written back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

# "No unit" / "no person" in oversight_daily's key, and in a drill-down's unit_id.
NIL_UUID = UUID(int=0)


class Level(StrEnum):
    """What a line of a roll-up stands for."""

    AGENCY = "agency"
    UNIT = "unit"
    PERSON = "person"


class Direction(StrEnum):
    """Văn bản đến / văn bản đi."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"


class Step(StrEnum):
    """The step an open document waits at."""

    # incoming
    REGISTRATION = "registration"      # arrived, not registered (the agency's clerks)
    ASSIGNMENT = "assignment"          # registered, not assigned (the agency's leaders)
    HANDLING = "handling"              # assigned: the lead person, else the lead unit
    EXTENSION = "extension"            # an extension asked, waiting for a leader's decision
    # outgoing
    DRAFTING = "drafting"              # draft or returned for revision (the drafter)
    APPROVAL = "approval"              # submitted (the agency's leaders)
    SIGNATURE = "signature"            # approved, not signed (the approver / the signer)
    NUMBER = "number"                  # signed, not numbered (the clerks)
    SEAL = "seal"                      # numbered, not sealed (the clerks)
    DISPATCH = "dispatch"              # sealed, not dispatched (the clerks)
    ACKNOWLEDGEMENT = "acknowledgement"  # dispatched; a recipient has not registered it


class HolderKind(StrEnum):
    """Who holds an open document: a named person where the record names one."""

    PERSON = "person"
    UNIT = "unit"
    CLERKS = "clerks"      # the agency's clerks (văn thư) as a role
    LEADERS = "leaders"    # the agency's leaders as a role
    AGENCY = "agency"      # a recipient agency (acknowledgement)


@dataclass(frozen=True)
class Period:
    """Local (Vietnam) dates, both included."""

    start: date
    end: date


@dataclass(frozen=True)
class Figures:
    """One line's numbers (a subtree, an agency, a unit or a person)."""

    # incoming, flows in the period
    arrived: int = 0
    completed_on_time: int = 0
    completed_late: int = 0
    handling_hours_total: float = 0.0   # sum over completed (assigned -> completed)
    extensions_requested: int = 0
    extensions_granted: int = 0
    # incoming, open now
    registration_overdue: int = 0       # not registered, registration due < now
    handling_open: int = 0              # assigned, not completed
    handling_due_soon: int = 0          # now <= deadline < now + due_soon
    handling_overdue: int = 0           # deadline < now
    # outgoing, flows in the period
    dispatched: int = 0
    dispatched_late: int = 0            # dispatched after the dispatch deadline
    # outgoing, open now
    awaiting_approval: int = 0
    awaiting_signature: int = 0
    awaiting_number: int = 0
    awaiting_seal: int = 0
    awaiting_dispatch: int = 0
    dispatch_overdue: int = 0           # not dispatched, dispatch deadline < now
    unacknowledged: int = 0             # recipients (in the system) that never registered
    # every open document, whatever its step (drafts and unassigned ones included)
    open_total: int = 0

    @property
    def completed(self) -> int:
        """Incoming documents completed in the period."""
        return self.completed_on_time + self.completed_late

    @property
    def average_handling_hours(self) -> float | None:
        """Mean hours from assignment to completion over the period's completions."""
        return self.handling_hours_total / self.completed if self.completed else None

    @property
    def late(self) -> int:
        """Late now or in the period: completed late, handling or registration or dispatch
        overdue now, dispatched late."""
        return (self.completed_late + self.handling_overdue + self.registration_overdue
                + self.dispatch_overdue + self.dispatched_late)

    @property
    def late_rate(self) -> float | None:
        """Late share of what had a deadline to meet: late / (completed + open overdue +
        dispatched + dispatch overdue + registration overdue); None with nothing to count."""
        base = (self.completed + self.handling_overdue + self.registration_overdue
                + self.dispatched + self.dispatch_overdue)
        return self.late / base if base else None


@dataclass(frozen=True)
class Line:
    """A line of a roll-up: a child agency (its whole subtree), a unit, or a person.

    ``id`` is None for "no unit" / "no person" (documents led by nobody in particular).
    ``drill`` says whether clicking it goes further down (an agency with sub-agencies or
    units, a unit with people, a person with documents).
    """

    level: Level
    id: UUID | None
    code: str
    name: str
    figures: Figures
    drill: bool = True


@dataclass(frozen=True)
class Rollup:
    """One screen of the drill-down: the total of what is shown, and its lines."""

    agency_id: UUID
    agency_name: str
    level: Level                       # the level of ``lines``
    unit_id: UUID | None               # set when the lines are a unit's people
    period: Period
    now: datetime
    total: Figures
    lines: list[Line] = field(default_factory=list)
    # The way back up: (level, id, name) from the mandate's root down to here.
    breadcrumbs: list[tuple[Level, UUID, str]] = field(default_factory=list)


@dataclass(frozen=True)
class OpenDocument:
    """An open document, where it waits and who holds it (late or not)."""

    id: UUID
    direction: Direction
    agency_id: UUID
    agency_name: str
    label: str                   # number and code when it has one, else ""
    summary: str
    step: Step
    holder_kind: HolderKind
    holder_id: UUID | None       # the person, unit or agency; None for a role
    holder_name: str             # a person's display name, a unit's or an agency's name, or ""
    since: datetime              # when the document reached this step / holder
    due: datetime | None         # the deadline of this step, if it has one
    late: bool                   # due is not None and due < now


@dataclass(frozen=True)
class TrendPoint:
    """One week or month of flows (``start`` is its first day)."""

    start: date
    figures: Figures


@dataclass(frozen=True)
class RankedAgency:
    """An agency of the subtree with its own figures (not its children's), by late rate."""

    agency_id: UUID
    code: str
    name: str
    figures: Figures
