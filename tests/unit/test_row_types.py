"""The query rows' TypedDicts name exactly the columns their SELECTs read."""

from __future__ import annotations

from docmgmt.incoming.queries import RECIPIENT_COLUMNS, CalendarRow, RecipientRow


def test_the_recipient_row_names_the_recipient_columns_in_order() -> None:
    columns = [c.strip() for c in RECIPIENT_COLUMNS.split(",")]
    assert list(RecipientRow.__annotations__) == columns


def test_the_calendar_row_names_what_agency_calendar_selects() -> None:
    assert list(CalendarRow.__annotations__) == [
        "id", "code", "name", "extra_days_off", "make_up_working_days", "version"]
