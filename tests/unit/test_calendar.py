"""Working-day arithmetic and Decree 30 deadlines, on the real Vietnamese holiday calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from docmgmt.domain.calendar import (
    VIETNAM_TZ,
    AgencyCalendar,
    DeadlineStatus,
    FixedHolidays,
    deadline_status,
    dispatch_due,
    local_date,
    registration_due,
)
from docmgmt.domain.common import Urgency
from docmgmt.domain.errors import InvalidInputError
from docmgmt.kernel.holidays import VietnamHolidays

VN = VietnamHolidays()

# Tết Nguyên Đán 2027 (mùng một = Sat 6 Feb) as the holidays library gives it: the eve to
# the fourth day, with Saturday's day moved to Thu 4 Feb (29 Tết) and Sunday's to Wed 10 Feb.
TET_2027 = [date(2027, 2, d) for d in range(4, 11)]


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM_TZ)


def end_of(d: date) -> datetime:
    return datetime.combine(d, time(17, 0), tzinfo=VIETNAM_TZ)


@pytest.fixture
def cal() -> AgencyCalendar:
    return AgencyCalendar(VN)


def test_the_library_gives_tet_2027_as_seven_days_off_thursday_to_wednesday(
        cal: AgencyCalendar) -> None:
    assert set(TET_2027) <= VN.holidays_in(2027)
    assert [cal.is_working_day(d) for d in TET_2027] == [False] * 7
    assert cal.is_working_day(date(2027, 2, 3))
    assert cal.is_working_day(date(2027, 2, 11))


def test_received_the_working_day_before_tet_is_due_after_the_holiday(
        cal: AgencyCalendar) -> None:
    # Received on Wednesday 3 Feb 2027, the last working day before Tết.
    due = registration_due(at(2027, 2, 3, 15, 30), Urgency.NORMAL, cal)
    # Due at closing time on Thursday 11 Feb, the first working day after it.
    assert due == end_of(date(2027, 2, 11))
    assert due.utcoffset() == timedelta(hours=7)


def test_received_during_tet_is_due_the_first_working_day_after_it(cal: AgencyCalendar) -> None:
    assert registration_due(at(2027, 2, 6, 10), "normal", cal) == end_of(date(2027, 2, 11))


def test_friday_is_due_monday(cal: AgencyCalendar) -> None:
    assert registration_due(at(2027, 3, 5, 16), "normal", cal) == end_of(date(2027, 3, 8))
    assert dispatch_due(at(2027, 3, 5, 16), "normal", cal) == end_of(date(2027, 3, 8))


def test_received_on_saturday_is_due_monday(cal: AgencyCalendar) -> None:
    assert registration_due(at(2027, 3, 6, 10), "normal", cal) == end_of(date(2027, 3, 8))


def test_the_date_of_receipt_is_taken_in_vietnam_time(cal: AgencyCalendar) -> None:
    # Friday 23:30 UTC is already Saturday 06:30 in Hanoi; Thursday 20:00 UTC is Friday 03:00.
    assert local_date(datetime(2027, 3, 5, 23, 30, tzinfo=UTC)) == date(2027, 3, 6)
    due = registration_due(datetime(2027, 3, 4, 20, 0, tzinfo=UTC), "normal", cal)
    assert due == end_of(date(2027, 3, 8))


def test_a_substitute_day_off_from_the_library_is_not_a_working_day(
        cal: AgencyCalendar) -> None:
    # 30/4 is a Friday and 1/5 a Saturday in 2027; the library observes 1/5 on Monday 3 May.
    assert not cal.is_working_day(date(2027, 5, 3))
    assert registration_due(at(2027, 4, 29), "normal", cal) == end_of(date(2027, 5, 4))


def test_an_agency_extra_day_off_pushes_the_deadline() -> None:
    cal = AgencyCalendar(VN, extra_days_off={date(2027, 3, 8)})
    assert registration_due(at(2027, 3, 5, 16), "normal", cal) == end_of(date(2027, 3, 9))


def test_a_make_up_saturday_is_a_working_day() -> None:
    cal = AgencyCalendar(VN, make_up_working_days={date(2027, 3, 6)})
    assert cal.is_working_day(date(2027, 3, 6))
    assert registration_due(at(2027, 3, 5, 16), "normal", cal) == end_of(date(2027, 3, 6))


def test_the_closing_time_is_configurable(cal: AgencyCalendar) -> None:
    due = registration_due(at(2027, 3, 5), "normal", cal, closing_time=time(16, 30))
    assert due == at(2027, 3, 8, 16, 30)


@pytest.mark.parametrize("urgency", [Urgency.URGENT, Urgency.VERY_URGENT, Urgency.FLASH])
def test_urgent_levels_are_due_immediately(cal: AgencyCalendar, urgency: Urgency) -> None:
    # Even received on the eve of Tết: urgent documents do not wait for working days.
    received = at(2027, 2, 5, 21, 15)
    assert registration_due(received, urgency.value, cal) == received
    assert dispatch_due(received, urgency.value, cal) == received


def test_an_agency_may_configure_a_grace_for_one_urgent_level(cal: AgencyCalendar) -> None:
    grace = {"urgent": timedelta(hours=2)}
    received = at(2027, 3, 5, 16)
    assert registration_due(received, "urgent", cal, urgent_grace=grace) == at(2027, 3, 5, 18)
    assert registration_due(received, "flash", cal, urgent_grace=grace) == received


def test_naive_times_and_unknown_urgencies_are_refused(cal: AgencyCalendar) -> None:
    with pytest.raises(InvalidInputError, match="time zone"):
        local_date(datetime(2027, 3, 5, 9, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidInputError, match="unknown urgency"):
        registration_due(at(2027, 3, 5), "whenever", cal)


def test_overdue_and_due_soon_are_derived_as_time_passes(cal: AgencyCalendar) -> None:
    deadline = registration_due(at(2027, 2, 3, 15), "normal", cal)  # Thu 11 Feb, 17:00
    window = timedelta(hours=24)

    def status(now: datetime) -> DeadlineStatus:
        return deadline_status(deadline, now, window)

    assert status(at(2027, 2, 3, 15)) == "on_time"
    assert status(at(2027, 2, 10, 17, 1)) is DeadlineStatus.DUE_SOON
    assert status(deadline) is DeadlineStatus.DUE_SOON
    assert status(deadline + timedelta(seconds=1)) is DeadlineStatus.OVERDUE
    # The same instant in another zone gives the same answer.
    assert deadline_status(deadline, datetime(2027, 2, 11, 10, 1, tzinfo=UTC), window) == "overdue"


def test_add_working_days_counts_from_the_day_after(cal: AgencyCalendar) -> None:
    wed = date(2027, 2, 3)
    assert cal.add_working_days(wed, 0) == wed
    assert cal.add_working_days(wed, 1) == date(2027, 2, 11)
    assert cal.add_working_days(wed, 3) == date(2027, 2, 15)  # Thu, Fri, then Monday
    # On a day off, 0 means the next working day.
    assert cal.add_working_days(date(2027, 2, 6), 0) == date(2027, 2, 11)
    with pytest.raises(InvalidInputError):
        cal.add_working_days(wed, -1)


@pytest.mark.parametrize("n", [1, 2, 5, 10, 30])
def test_working_days_between_inverts_add_working_days(cal: AgencyCalendar, n: int) -> None:
    start = date(2027, 1, 29)
    end = cal.add_working_days(start, n)
    assert cal.working_days_between(start, end) == n
    assert cal.working_days_between(end, start) == -n


def test_working_days_between_skips_tet(cal: AgencyCalendar) -> None:
    assert cal.working_days_between(date(2027, 2, 1), date(2027, 2, 12)) == 4
    assert cal.next_working_day(date(2027, 2, 3)) == date(2027, 2, 11)


def test_calendar_configuration_is_checked() -> None:
    day = date(2027, 3, 6)
    with pytest.raises(InvalidInputError, match="both"):
        AgencyCalendar(VN, extra_days_off={day}, make_up_working_days={day})
    with pytest.raises(InvalidInputError, match="weekend"):
        AgencyCalendar(VN, weekend=set(range(7)))


def test_a_fixed_holiday_source_and_a_six_day_week() -> None:
    cal = AgencyCalendar(FixedHolidays({date(2030, 1, 1)}), weekend={6})
    assert not cal.is_working_day(date(2030, 1, 1))
    assert cal.is_working_day(date(2030, 1, 5))  # a Saturday
    assert cal.next_working_day(date(2029, 12, 31)) == date(2030, 1, 2)


def test_vietnam_holidays_are_cached_per_year() -> None:
    source = VietnamHolidays()
    assert source.holidays_in(2027) is source.holidays_in(2027)
    assert all(d.year == 2027 for d in source.holidays_in(2027))
