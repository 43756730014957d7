"""The oversight charts: every bar carries its number and a key in words, so a reader
without colour (or a screen reader) gets the same figures as the table; how late a document
is, in words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from api.web.i18n import speaking
from api.web.pages.oversight import lateness, trend_period
from api.web.pages.oversight_charts import Bar, rollup_svg, states, trend_svg
from docmgmt.oversight.model import Figures, Period


def test_a_line_splits_into_late_due_soon_and_on_time() -> None:
    # 2 completed late + 1 overdue now + 1 dispatched late = 4 late; 1 due soon;
    # 3 completed on time + (2 dispatched - 1 late) + (5 open - 1 overdue - 1 due soon) = 7.
    f = Figures(completed_on_time=3, completed_late=2, handling_open=5, handling_overdue=1,
                handling_due_soon=1, dispatched=2, dispatched_late=1)
    assert states(f) == (4, 1, 7)


def test_the_rollup_chart_scales_bars_and_says_every_number_in_words() -> None:
    bars = [Bar("SNV — Sở Nội vụ", (2, 1, 7)), Bar("Không thuộc đơn vị", (0, 0, 0))]
    with speaking("vi"):
        svg = str(rollup_svg(bars))
    assert "style" not in svg
    widths = [float(w) for w in re.findall(r'width="([\d.]+)" height="20"', svg)]
    # The longest bar spans the chart (360), each segment in proportion to its count.
    assert widths == pytest.approx([72.0, 36.0, 252.0])
    assert ">1: 2 · 2: 1 · 3: 7</text>" in svg  # keyed to the legend, not to colours
    assert "SNV — Sở Nội vụ: Quá hạn 2, Sắp đến hạn 1, Trong hạn 7." in svg
    assert "Không thuộc đơn vị (0)" in svg
    assert "không có văn bản có hạn" in svg


def test_the_trend_chart_labels_each_period_and_bar() -> None:
    points = [(date(2026, 10, 1), 3, 10), (date(2026, 11, 1), 0, 4)]
    with speaking("en"):
        svg = str(trend_svg(points, monthly=True))
    assert "Late and completed documents per month" in svg
    assert "Month 10/2026: Late 3, Completed 10. Month 11/2026: Late 0, Completed 4." in svg
    assert re.findall(r'font-size="11"[^>]*>(\d+)</text>', svg) == ["3", "10", "0", "4"]
    assert ">10/2026</text>" in svg
    assert ">11/2026</text>" in svg


def test_lateness_says_hours_under_a_day_then_whole_days() -> None:
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    with speaking("vi"):
        assert lateness(now - timedelta(minutes=5), now) == "quá hạn 1 giờ"
        assert lateness(now - timedelta(hours=23, minutes=1), now) == "quá hạn 24 giờ"
        assert lateness(now - timedelta(days=3, hours=5), now) == "quá hạn 3 ngày"
        assert lateness(now + timedelta(minutes=5), now) == ""
        assert lateness(None, now) == ""
    with speaking("en"):
        assert lateness(now - timedelta(days=1), now) == "1 day late"
        assert lateness(now - timedelta(hours=2), now) == "2 hours late"


def test_the_trends_show_twelve_weeks_or_months_ending_with_the_period() -> None:
    period = Period(date(2026, 12, 1), date(2026, 12, 4))  # a Friday
    assert trend_period(period, monthly=False) == Period(date(2026, 9, 14), date(2026, 12, 4))
    assert trend_period(period, monthly=True) == Period(date(2026, 1, 1), date(2026, 12, 4))
