"""Response bodies of the oversight figures (roll-up, open documents, trends, ranking)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.oversight.model import (
    Direction,
    Figures,
    HolderKind,
    Level,
    Line,
    OpenDocument,
    RankedAgency,
    Rollup,
    Step,
    TrendPoint,
)


class FiguresOut(BaseModel):
    """One line's numbers: flows over the period, the open state now, and what follows."""

    arrived: int
    completed_on_time: int
    completed_late: int
    handling_hours_total: float
    extensions_requested: int
    extensions_granted: int
    registration_overdue: int
    handling_open: int
    handling_due_soon: int
    handling_overdue: int
    dispatched: int
    dispatched_late: int
    awaiting_approval: int
    awaiting_signature: int
    awaiting_number: int
    awaiting_seal: int
    awaiting_dispatch: int
    dispatch_overdue: int
    unacknowledged: int
    open_total: int
    completed: int
    average_handling_hours: float | None
    late: int
    late_rate: float | None

    @classmethod
    def of(cls, f: Figures) -> FiguresOut:
        """The body of ``f``, derived figures included."""
        return cls(**asdict(f), completed=f.completed,
                   average_handling_hours=f.average_handling_hours, late=f.late,
                   late_rate=f.late_rate)


class LineOut(BaseModel):
    """A line: a child agency (its subtree), a unit or a person; id null for "none"."""

    level: Level
    id: UUID | None
    code: str
    name: str
    drill: bool
    figures: FiguresOut

    @classmethod
    def of(cls, line: Line) -> LineOut:
        """The body of ``line``."""
        return cls(level=line.level, id=line.id, code=line.code, name=line.name,
                   drill=line.drill, figures=FiguresOut.of(line.figures))


class Crumb(BaseModel):
    """A step of the way back up, from the mandate's root."""

    level: Level
    id: UUID
    name: str


class RollupOut(BaseModel):
    """One screen of the drill-down: the total and its lines."""

    agency_id: UUID
    agency_name: str
    level: Level
    unit_id: UUID | None
    start: date
    end: date
    now: datetime
    total: FiguresOut
    lines: list[LineOut]
    breadcrumbs: list[Crumb]

    @classmethod
    def of(cls, r: Rollup) -> RollupOut:
        """The body of ``r``."""
        return cls(agency_id=r.agency_id, agency_name=r.agency_name, level=r.level,
                   unit_id=r.unit_id, start=r.period.start, end=r.period.end,
                   now=r.now.astimezone(VIETNAM_TZ), total=FiguresOut.of(r.total),
                   lines=[LineOut.of(ln) for ln in r.lines],
                   breadcrumbs=[Crumb(level=lv, id=i, name=n) for lv, i, n in r.breadcrumbs])


class OpenDocumentOut(BaseModel):
    """An open document, the step it waits at, who holds it since when, and its due."""

    id: UUID
    direction: Direction
    agency_id: UUID
    agency_name: str
    label: str
    summary: str
    step: Step
    holder_kind: HolderKind
    holder_id: UUID | None
    holder_name: str
    since: datetime
    due: datetime | None
    late: bool

    @classmethod
    def of(cls, d: OpenDocument) -> OpenDocumentOut:
        """The body of ``d``, moments in Vietnam time."""
        return cls(**{**asdict(d), "since": d.since.astimezone(VIETNAM_TZ),
                      "due": d.due.astimezone(VIETNAM_TZ) if d.due else None})


class DocumentsPage(BaseModel):
    """One page of open documents; ``next_cursor`` is null on the last page."""

    items: list[OpenDocumentOut]
    next_cursor: str | None


class TrendPointOut(BaseModel):
    """One week (from Monday) or month of flows."""

    start: date
    figures: FiguresOut

    @classmethod
    def of(cls, p: TrendPoint) -> TrendPointOut:
        """The body of ``p``."""
        return cls(start=p.start, figures=FiguresOut.of(p.figures))


class RankedAgencyOut(BaseModel):
    """An agency with its own figures (not its children's)."""

    agency_id: UUID
    code: str
    name: str
    figures: FiguresOut

    @classmethod
    def of(cls, a: RankedAgency) -> RankedAgencyOut:
        """The body of ``a``."""
        return cls(agency_id=a.agency_id, code=a.code, name=a.name,
                   figures=FiguresOut.of(a.figures))


class RootOut(BaseModel):
    """An agency the caller holds an oversight mandate for."""

    id: UUID
    code: str
    name: str
