"""Working days: Vietnamese public holidays (the ``holidays`` library) and agency calendars.

What the library (0.109) gives for "VN", with ``observed=True`` (its default, kept here):

* the fixed and lunar public holidays of the Labour Code 2019 (Art. 112): Tết Dương lịch,
  five days of Tết Nguyên Đán (eve to the fourth day), Giỗ Tổ Hùng Vương, 30/4, 1/5,
  2/9 plus the adjacent day, and from 2026 the Vietnam Cultural Day (24/11);
* substitute days off (nghỉ bù): a holiday on a weekend is observed on the next working
  day; Tết days falling on Saturday move to the working day before and on Sunday to the
  working day after (e.g. 2027: 29 Tết on Thu 4 Feb, mùng năm on Wed 10 Feb), and a few
  one-off swaps decided by the government that the library records.

It does not know every swap the government announces late in the year for civil
servants, nor any agency's own arrangement: those go into ``AgencyCalendar`` as extra
days off and make-up working days.
"""

from __future__ import annotations

from datetime import date

import holidays

from docmgmt.domain.agency import Agency
from docmgmt.domain.calendar import AgencyCalendar, HolidaySource


class VietnamHolidays:
    """HolidaySource for Vietnam, computed once per year and cached."""

    def __init__(self) -> None:
        self._by_year: dict[int, frozenset[date]] = {}

    def holidays_in(self, year: int) -> frozenset[date]:
        """Every public day off in ``year``, substitute days included."""
        if year not in self._by_year:
            table = holidays.country_holidays("VN", years=year)
            self._by_year[year] = frozenset(d for d in table if d.year == year)
        return self._by_year[year]


def agency_calendar(agency: Agency, source: HolidaySource) -> AgencyCalendar:
    """The agency's working days: national holidays plus its own recorded calendar."""
    return AgencyCalendar(
        source,
        extra_days_off=[date.fromisoformat(d) for d in agency.extra_days_off],
        make_up_working_days=[date.fromisoformat(d) for d in agency.make_up_working_days],
    )
