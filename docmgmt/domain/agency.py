"""Agency (cơ quan, tổ chức) with its organisational units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from docmgmt.domain.common import Actor, agency_id_for, normalise_code, require_text
from docmgmt.domain.errors import AlreadyExistsError, InvalidInputError

MAX_CALENDAR_DATES = 2000


@dataclass(frozen=True)
class OrgUnit:
    """A department, office or division inside an agency."""

    id: UUID
    code: str
    name: str


class Agency(Aggregate):
    """An agency: its code issues document codes, its key applies the seal."""

    class Registered(Aggregate.Created):
        """The agency was registered in the system."""

        code: str
        name: str
        parent_id: UUID | None
        actor: dict[str, str]

    class Renamed(Aggregate.Event):
        """The agency's official name changed."""

        name: str
        actor: dict[str, str]

    class CalendarSet(Aggregate.Event):
        """The agency set its own days off and make-up working days (ISO dates)."""

        extra_days_off: list[str]
        make_up_working_days: list[str]
        actor: dict[str, str]

    class PlaceNameSet(Aggregate.Event):
        """The place name printed before the date of a numbered document (Decree 30)."""

        place_name: str
        actor: dict[str, str]

    class UnitAdded(Aggregate.Event):
        """An organisational unit was created in the agency."""

        unit_id: UUID
        code: str
        name: str
        actor: dict[str, str]

    @staticmethod
    def create_id(code: str) -> UUID:
        """Agencies are keyed by their unique code."""
        return agency_id_for(code)

    @classmethod
    def register(cls, code: str, name: str, parent_id: UUID | None, actor: Actor) -> Agency:
        """Register a new agency after checking its code and name."""
        return cls(
            code=normalise_code(code),
            name=require_text("name", name, max_len=300),
            parent_id=parent_id,
            actor=actor.as_payload(),
        )

    @event(Registered)
    def __init__(
        self, code: str, name: str, parent_id: UUID | None, actor: dict[str, str]
    ) -> None:
        self.code = code
        self.name = name
        self.parent_id = parent_id
        self.units: dict[UUID, OrgUnit] = {}
        self.extra_days_off: list[str] = []
        self.make_up_working_days: list[str] = []
        self.place_name = ""

    def rename(self, name: str, actor: Actor) -> None:
        """Change the agency's official name."""
        self._renamed(require_text("name", name, max_len=300), actor.as_payload())

    @event(Renamed)
    def _renamed(self, name: str, actor: dict[str, str]) -> None:
        self.name = name

    def add_unit(self, code: str, name: str, actor: Actor) -> UUID:
        """Create an organisational unit with a code unique in the agency."""
        unit_code = normalise_code(code)
        if any(u.code == unit_code for u in self.units.values()):
            raise AlreadyExistsError(f"unit {unit_code} already exists", code=unit_code)
        unit_id = uuid5(self.id, "unit:" + unit_code)
        self._unit_added(unit_id, unit_code, require_text("name", name, max_len=300),
                         actor.as_payload())
        return unit_id

    @event(UnitAdded)
    def _unit_added(self, unit_id: UUID, code: str, name: str, actor: dict[str, Any]) -> None:
        self.units[unit_id] = OrgUnit(unit_id, code, name)

    def set_calendar(self, extra_days_off: list[date], make_up_working_days: list[date],
                     actor: Actor) -> None:
        """Replace the agency's own days off and make-up working days (ngày làm bù)."""
        off = sorted({d.isoformat() for d in extra_days_off})
        make_up = sorted({d.isoformat() for d in make_up_working_days})
        clash = set(off) & set(make_up)
        if clash:
            raise InvalidInputError("a date cannot be both a day off and a make-up working day",
                                    dates=sorted(clash))
        if len(off) + len(make_up) > MAX_CALENDAR_DATES:
            raise InvalidInputError(f"at most {MAX_CALENDAR_DATES} calendar dates")
        self._calendar_set(off, make_up, actor.as_payload())

    @event(CalendarSet)
    def _calendar_set(self, extra_days_off: list[str], make_up_working_days: list[str],
                      actor: dict[str, str]) -> None:
        self.extra_days_off = list(extra_days_off)
        self.make_up_working_days = list(make_up_working_days)

    def set_place_name(self, place_name: str, actor: Actor) -> None:
        """Set the place name before the date ("Thành phố Hồ Chí Minh, ngày ...")."""
        self._place_name_set(require_text("place_name", place_name, max_len=100),
                             actor.as_payload())

    @event(PlaceNameSet)
    def _place_name_set(self, place_name: str, actor: dict[str, str]) -> None:
        self.place_name = place_name
