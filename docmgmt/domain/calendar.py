"""Working days and deadlines in Vietnam time (Decree 30/2020, Art. 16 and 22).

Pure and deterministic: public holidays come through the small ``HolidaySource`` port,
so this module never imports a holiday library (see ``docmgmt.kernel.holidays``).

Rules chosen here (and tested in ``tests/unit/test_calendar.py``):

* Every date is a calendar date in Vietnam time, UTC+07:00. Vietnam has no daylight
  saving time, so a fixed offset is exact and needs no tz database. Naive datetimes are
  refused: a deadline computed from an unknown zone would be silently wrong.
* A day is a working day unless it is a weekend day, a public holiday or an agency
  extra day off; an agency make-up working day (ngày làm bù) is a working day whatever
  else it is, because it is the agency's explicit decision for that date.
* "Registered / dispatched the same day or at the latest the next working day": the
  deadline is the closing time (17:00 by default) of the first working day strictly after
  the local date of receipt. Received on Friday → Monday 17:00; received on Saturday →
  Monday 17:00; received the working day before Tết → the first working day after Tết.
* Urgent levels (Khẩn, Thượng khẩn, Hỏa tốc) are due "immediately": the deadline is the
  moment of receipt plus a grace that defaults to zero. The grace is a parameter so that
  an agency may configure, say, two hours for Khẩn without a code change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Protocol

from docmgmt.domain.common import Urgency
from docmgmt.domain.errors import InvalidInputError

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
DEFAULT_CLOSING_TIME = time(17, 0)
SATURDAY, SUNDAY = 5, 6

# No real calendar has a year of consecutive days off: past this, the configuration is wrong.
_MAX_CONSECUTIVE_DAYS_OFF = 366


class HolidaySource(Protocol):
    """Port: the public holidays (including substitute days off) of one year."""

    def holidays_in(self, year: int) -> frozenset[date]:
        """Every date of ``year`` that is a public day off."""
        ...


class FixedHolidays:
    """A HolidaySource over a fixed set of dates (for agencies' own lists and for tests)."""

    def __init__(self, dates: Iterable[date] = ()) -> None:
        self._dates = frozenset(dates)

    def holidays_in(self, year: int) -> frozenset[date]:
        """The fixed dates falling in ``year``."""
        return frozenset(d for d in self._dates if d.year == year)


def local_date(moment: datetime) -> date:
    """The calendar date of an aware moment in Vietnam time; naive datetimes are refused."""
    return to_vietnam_time(moment).date()


def to_vietnam_time(moment: datetime) -> datetime:
    """The same instant expressed at +07:00; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError("a moment must carry a time zone", moment=moment.isoformat())
    return moment.astimezone(VIETNAM_TZ)


class AgencyCalendar:
    """An agency's working days: national holidays plus its own days off and make-up days."""

    def __init__(
        self,
        holidays: HolidaySource,
        extra_days_off: Iterable[date] = (),
        make_up_working_days: Iterable[date] = (),
        weekend: Iterable[int] = (SATURDAY, SUNDAY),
    ) -> None:
        self._holidays = holidays
        self.extra_days_off = frozenset(extra_days_off)
        self.make_up_working_days = frozenset(make_up_working_days)
        self.weekend = frozenset(weekend)
        if not self.weekend <= set(range(7)) or len(self.weekend) == 7:
            raise InvalidInputError(
                "weekend days are 0 (Monday) to 6 (Sunday), and not all seven",
                weekend=sorted(self.weekend),
            )
        clash = self.extra_days_off & self.make_up_working_days
        if clash:
            raise InvalidInputError(
                "a date cannot be both an extra day off and a make-up working day",
                dates=[d.isoformat() for d in sorted(clash)],
            )
        self._by_year: dict[int, frozenset[date]] = {}

    def _public_holidays(self, year: int) -> frozenset[date]:
        if year not in self._by_year:
            self._by_year[year] = frozenset(self._holidays.holidays_in(year))
        return self._by_year[year]

    def is_working_day(self, d: date) -> bool:
        """Whether the agency works on ``d``."""
        if d in self.make_up_working_days:
            return True
        if d in self.extra_days_off or d.weekday() in self.weekend:
            return False
        return d not in self._public_holidays(d.year)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        candidate = d
        for _ in range(_MAX_CONSECUTIVE_DAYS_OFF):
            candidate += timedelta(days=1)
            if self.is_working_day(candidate):
                return candidate
        raise InvalidInputError("no working day within a year: check the calendar",
                                after=d.isoformat())

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start``; for 0, ``start`` or the next working day.

        Counting starts the day after ``start`` (as periods in days do in Vietnamese law), so
        ``working_days_between(start, add_working_days(start, n)) == n`` for every n >= 1.
        """
        if n < 0:
            raise InvalidInputError("the number of working days must not be negative", n=n)
        if n == 0:
            return start if self.is_working_day(start) else self.next_working_day(start)
        day = start
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days ``d`` with ``a < d <= b``; negative when ``b`` is before ``a``."""
        if b < a:
            return -self.working_days_between(b, a)
        return sum(
            1 for offset in range(1, (b - a).days + 1)
            if self.is_working_day(a + timedelta(days=offset))
        )


def _urgency(value: str) -> Urgency:
    try:
        return Urgency(value)
    except ValueError:
        raise InvalidInputError("unknown urgency", urgency=value) from None


def registration_due(
    received_at: datetime,
    urgency: str,
    cal: AgencyCalendar,
    *,
    closing_time: time = DEFAULT_CLOSING_TIME,
    urgent_grace: Mapping[str, timedelta] | None = None,
) -> datetime:
    """When an incoming document must be registered (Decree 30, Art. 22), at +07:00.

    Normal documents: ``closing_time`` on the first working day after the date of receipt.
    Urgent levels: immediately, i.e. ``received_at`` plus ``urgent_grace[urgency]``
    (zero unless configured).
    """
    received = to_vietnam_time(received_at)
    level = _urgency(urgency)
    if level is not Urgency.NORMAL:
        grace = (urgent_grace or {}).get(level.value, timedelta(0))
        if grace < timedelta(0):
            raise InvalidInputError("a grace period must not be negative", urgency=level.value)
        return received + grace
    if closing_time.tzinfo is not None:
        raise InvalidInputError("the closing time is a local wall-clock time without a zone")
    due_day = cal.next_working_day(received.date())
    return datetime.combine(due_day, closing_time, tzinfo=VIETNAM_TZ)


def dispatch_due(
    ready_at: datetime,
    urgency: str,
    cal: AgencyCalendar,
    *,
    closing_time: time = DEFAULT_CLOSING_TIME,
    urgent_grace: Mapping[str, timedelta] | None = None,
) -> datetime:
    """When a signed outgoing document must be dispatched (Art. 16): the same rule."""
    return registration_due(ready_at, urgency, cal, closing_time=closing_time,
                            urgent_grace=urgent_grace)


class DeadlineStatus(StrEnum):
    """Derived, never stored: it changes as time passes."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


def deadline_status(deadline: datetime, now: datetime, due_soon: timedelta) -> DeadlineStatus:
    """Overdue strictly after the deadline; due soon within ``due_soon`` of it (inclusive)."""
    if due_soon < timedelta(0):
        raise InvalidInputError("the due-soon window must not be negative")
    remaining = to_vietnam_time(deadline) - to_vietnam_time(now)
    if remaining < timedelta(0):
        return DeadlineStatus.OVERDUE
    if remaining <= due_soon:
        return DeadlineStatus.DUE_SOON
    return DeadlineStatus.ON_TIME
