"""The oversight queries over rows written straight into the oversight tables.

A small city, counted by hand: the city (UB) with two units, a department (SNV) with a
centre below it, and two wards (P1, P2). ``now`` is Friday 4 December 2026, 10:00 in
Hanoi; the period is 1-4 December; due soon means within two days.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import asyncpg
import pytest
from pypdf import PdfReader

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.errors import AgencyNotFoundError, InvalidInputError, UnitNotFoundError
from docmgmt.kernel.db import Database
from docmgmt.kernel.principal import Principal
from docmgmt.oversight.access import authorise, oversight_roots
from docmgmt.oversight.model import (
    NIL_UUID,
    Figures,
    Level,
    OpenDocument,
    Period,
    RankedAgency,
    Rollup,
    Step,
)
from docmgmt.oversight.queries import (
    all_documents,
    open_documents,
    period_of,
    ranking,
    rollup,
    trends,
)
from docmgmt.oversight.report import render_report
from tests.support.pg import Cluster, on_pool

T = TypeVar("T")
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=VIETNAM_TZ)
PERIOD = Period(date(2026, 12, 1), date(2026, 12, 4))
H = timedelta(hours=1)
D = timedelta(days=1)

# Agencies, units, people and documents get ordered ids, so ties sort predictably.
CITY, DEPT, CENTRE, WARD1, WARD2 = (UUID(int=0xA0 + i) for i in range(5))
U1, U2, DU, W1U = (UUID(int=0xB0 + i) for i in range(4))
LEADER, P1, P2, P3, P4, PW, DEPT_LEADER, FORMER = (UUID(int=0xC0 + i) for i in range(8))
C1, C2, C3, C4, C5, C6, C7, C8, W1, W2, D1, E1 = (UUID(int=0xD0 + i) for i in range(12))


@dataclass
class World:
    """The database and a way to run one query on it."""

    db: Database
    inserted: list[str] = field(default_factory=list)

    def run(self, call: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """Run ``call`` on a fresh pool, as the application login."""
        return on_pool(self.db, call)


def who(user_id: UUID) -> Principal:
    """A caller (roles do not matter to oversight: mandates do)."""
    return Principal(user_id, "u", CITY, None, frozenset())


async def fill(pool: asyncpg.Pool) -> None:
    """The hand-counted city."""
    s = "docmgmt"
    await pool.executemany(f"INSERT INTO {s}.oversight_agencies VALUES ($1, $2, $3, $4)", [
        (CITY, "UB", "UBND Thành phố", None), (DEPT, "SNV", "Sở Nội vụ", CITY),
        (CENTRE, "TT", "Trung tâm Lưu trữ", DEPT), (WARD1, "P1", "Phường Một", CITY),
        (WARD2, "P2", "Phường Hai", CITY)])
    await pool.executemany(f"INSERT INTO {s}.oversight_units VALUES ($1, $2, $3, $4)", [
        (U1, CITY, "U1", "Văn phòng"), (U2, CITY, "U2", "Phòng Kinh tế"),
        (DU, DEPT, "D1", "Phòng Tổ chức"), (W1U, WARD1, "W1", "Bộ phận Một cửa")])
    await pool.executemany(f"INSERT INTO {s}.oversight_people VALUES ($1, $2, $3, $4, $5)", [
        (LEADER, CITY, None, "Lê Chủ Tịch", "Chủ tịch"),
        (P1, CITY, U1, "An Văn Một", "Chuyên viên"), (P2, CITY, U1, "Bùi Thị Hai", ""),
        (P3, CITY, U2, "Cao Văn Ba", ""), (P4, CITY, U1, "Đỗ Văn Bốn", ""),
        (PW, WARD1, W1U, "Phạm Phường", ""), (DEPT_LEADER, DEPT, None, "Giám Đốc Sở", "")])
    # Mandates: the city leader over the city, the department's over the department; a
    # revoked one and one that ended yesterday give nothing.
    await pool.executemany(
        f"INSERT INTO {s}.oversight_mandates (id, user_id, agency_id, valid_from, valid_to,"
        " revoked, granted_at, version) VALUES ($1, $2, $3, $4, $5, $6, $4, 2)", [
            (UUID(int=1), LEADER, CITY, NOW - 30 * D, None, False),
            (UUID(int=2), DEPT_LEADER, DEPT, NOW - 30 * D, NOW + 30 * D, False),
            (UUID(int=3), FORMER, CITY, NOW - 30 * D, None, True),
            (UUID(int=4), FORMER, WARD1, NOW - 30 * D, NOW - D, False)])

    async def flow(agency: UUID, day: date, unit: UUID | None, person: UUID | None,
                   **counts: float) -> None:
        # As the projection counts a flow: once at each of the three levels.
        names = ", ".join(counts)
        values = ", ".join(f"${i + 6}" for i in range(len(counts)))
        adds = ", ".join(f"{n} = {s}.oversight_daily.{n} + EXCLUDED.{n}" for n in counts)
        for level, u, p in ((0, NIL_UUID, NIL_UUID), (1, unit or NIL_UUID, NIL_UUID),
                            (2, unit or NIL_UUID, person or NIL_UUID)):
            await pool.execute(
                f"INSERT INTO {s}.oversight_daily (agency_id, level, unit_id, person_id, day,"
                f" {names}) VALUES ($1, $2, $3, $4, $5, {values}) ON CONFLICT (level, agency_id,"
                f" unit_id, person_id, day) DO UPDATE SET {adds}",
                agency, level, u, p, day, *counts.values())

    await flow(CITY, date(2026, 11, 30), None, None, arrived=5)  # before the period
    await flow(CITY, date(2026, 12, 2), None, None, arrived=3)
    await flow(CITY, date(2026, 12, 2), U1, P1, completed_on_time=1, handling_seconds=7200)
    await flow(CITY, date(2026, 12, 3), U1, P2, completed_late=1, handling_seconds=28800,
               extensions_requested=1, extensions_granted=1)
    await flow(CITY, date(2026, 12, 4), U2, P3, dispatched=2, dispatched_late=1)
    await flow(CITY, date(2026, 12, 5), U2, P3, dispatched=7)  # after the period
    await flow(WARD1, date(2026, 12, 3), None, None, arrived=2)
    await flow(WARD1, date(2026, 12, 3), W1U, PW, completed_late=1, handling_seconds=3600)
    await flow(DEPT, date(2026, 12, 1), DU, None, completed_on_time=2, handling_seconds=7200)
    await flow(CENTRE, date(2026, 12, 4), None, None, dispatched=1)
    await flow(WARD2, date(2026, 12, 4), None, None, arrived=4)

    await pool.executemany(
        f"INSERT INTO {s}.oversight_open (document_id, direction, agency_id, unit_id,"
        " person_id, label, summary, step, holder_kind, holder_id, since, due)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", [
            (C1, "incoming", CITY, U1, P1, "12/BC-SNV", "Báo cáo", "handling", "person", P1,
             NOW - 9 * D, NOW - D),
            (C2, "incoming", CITY, U1, P1, "", "", "handling", "person", P1, NOW - D, NOW + D),
            (C3, "incoming", CITY, U1, P2, "", "", "extension", "leaders", None, NOW - D,
             NOW + 5 * D),
            (C4, "incoming", CITY, None, None, "", "", "registration", "clerks", None,
             NOW - D, NOW - 2 * H),
            (C5, "incoming", CITY, None, None, "", "", "assignment", "leaders", None,
             NOW - H, None),
            (C6, "outgoing", CITY, U2, P3, "", "", "approval", "leaders", None, NOW - H, None),
            (C7, "outgoing", CITY, U2, P3, "5/QĐ-UBND", "", "seal", "clerks", None,
             NOW - 2 * D, NOW - D),
            (W1, "incoming", WARD1, W1U, PW, "", "", "handling", "person", PW, NOW - 8 * D,
             NOW - 3 * D),
            (W2, "outgoing", WARD1, W1U, PW, "", "", "dispatch", "clerks", None, NOW - H,
             NOW + 3 * H),
            (D1, "incoming", DEPT, DU, None, "", "", "handling", "unit", DU, NOW - 9 * D,
             NOW - 5 * D),
            (E1, "outgoing", CENTRE, None, None, "", "", "signature", "person", None,
             NOW - H, None)])
    # The city's C8 went to both wards; neither has registered it.
    await pool.executemany(
        f"INSERT INTO {s}.oversight_unacknowledged VALUES ($1, $2, $3, $4, $5, $6, $7)", [
            (C8, WARD1, CITY, U2, P3, NOW - 3 * D, NOW - 2 * D),
            (C8, WARD2, CITY, U2, P3, NOW - 3 * D, NOW - 2 * D)])


@pytest.fixture(scope="module")
def world(pg_cluster: Cluster) -> Iterator[World]:
    """One migrated database, filled once for the module."""
    db = pg_cluster.new_database()
    try:
        w = World(db)
        w.run(fill)
        yield w
    finally:
        pg_cluster.drop_database(db)


def test_mandates_open_their_subtree_and_nothing_else(world: World) -> None:
    # The city leader starts from the city; the department's leader from the department.
    assert world.run(lambda p: oversight_roots(p, LEADER, NOW)) == [CITY]
    assert world.run(lambda p: oversight_roots(p, DEPT_LEADER, NOW)) == [DEPT]
    # A revoked mandate and one that ended yesterday open nothing.
    assert world.run(lambda p: oversight_roots(p, FORMER, NOW)) == []
    # The way down to the centre, from each one's root.
    crumbs = world.run(lambda p: authorise(p, who(LEADER), CENTRE, NOW))
    assert [(lvl, a) for lvl, a, _ in crumbs] == [
        (Level.AGENCY, CITY), (Level.AGENCY, DEPT), (Level.AGENCY, CENTRE)]
    assert crumbs[1][2] == "Sở Nội vụ"
    crumbs = world.run(lambda p: authorise(p, who(DEPT_LEADER), CENTRE, NOW))
    assert [a for _, a, _ in crumbs] == [DEPT, CENTRE]
    # The department's leader sees no ward, nor the city above; the former holder nothing.
    for user, agency in ((DEPT_LEADER, WARD1), (DEPT_LEADER, CITY), (FORMER, WARD1)):
        with pytest.raises(AgencyNotFoundError):
            world.run(lambda p, u=user, a=agency: authorise(p, who(u), a, NOW))
    # After the department's mandate ends, it sees nothing either.
    with pytest.raises(AgencyNotFoundError):
        world.run(lambda p: authorise(p, who(DEPT_LEADER), DEPT, NOW + 31 * D))


def test_the_city_rollup_counts_each_line_and_the_whole_tree(world: World) -> None:
    r = world.run(lambda p: rollup(p, who(LEADER), CITY, period=PERIOD, now=NOW))
    assert (r.agency_name, r.level, r.unit_id) == ("UBND Thành phố", Level.AGENCY, None)
    assert [(ln.level, ln.code) for ln in r.lines] == [
        (Level.AGENCY, "P1"), (Level.AGENCY, "P2"), (Level.AGENCY, "SNV"),
        (Level.UNIT, "U1"), (Level.UNIT, "U2"), (Level.UNIT, "")]
    by_code = {ln.code: ln.figures for ln in r.lines}
    # Ward 1: 2 arrived, 1 completed late (1 h); W1 overdue (due 3 days ago), W2 awaits
    # dispatch (due in 3 h, not late).
    assert by_code["P1"] == Figures(arrived=2, completed_late=1, handling_hours_total=1.0,
                                    handling_open=1, handling_overdue=1, awaiting_dispatch=1,
                                    open_total=2)
    assert by_code["P2"] == Figures(arrived=4)
    # The department with its centre: 2 completed on time (2 h), the centre's dispatch;
    # D1 overdue 5 days, E1 awaiting signature.
    assert by_code["SNV"] == Figures(completed_on_time=2, handling_hours_total=2.0,
                                     dispatched=1, handling_open=1, handling_overdue=1,
                                     awaiting_signature=1, open_total=2)
    # The office (U1): C1 overdue, C2 due tomorrow (soon), C3 waits for an extension
    # decision, due in 5 days; 1 on time (2 h) + 1 late (8 h), one extension granted.
    assert by_code["U1"] == Figures(
        completed_on_time=1, completed_late=1, handling_hours_total=10.0,
        extensions_requested=1, extensions_granted=1, handling_open=3, handling_due_soon=1,
        handling_overdue=1, open_total=3)
    # U2: 2 dispatched (1 late), C6 awaits approval, C7 awaits the seal past its dispatch
    # deadline, C8 unacknowledged by two wards.
    assert by_code["U2"] == Figures(dispatched=2, dispatched_late=1, awaiting_approval=1,
                                    awaiting_seal=1, dispatch_overdue=1, unacknowledged=2,
                                    open_total=2)
    # No unit: 3 arrivals (the 5 of 30 November are outside the period), C4 not
    # registered 2 h past its due, C5 waiting for assignment.
    assert by_code[""] == Figures(arrived=3, registration_overdue=1, open_total=2)
    assert r.lines[-1].id is None
    # The whole tree: arrived 3 + 2 + 4 = 9; completed on time 1 + 2 = 3, late 1 + 1 = 2;
    # hours 10 + 1 + 2 = 13; handling open C1 C2 C3 W1 D1 = 5, overdue C1 W1 D1 = 3;
    # open 7 (city) + 2 (ward 1) + 1 (dept) + 1 (centre) = 11.
    assert r.total == Figures(
        arrived=9, completed_on_time=3, completed_late=2, handling_hours_total=13.0,
        extensions_requested=1, extensions_granted=1, registration_overdue=1,
        handling_open=5, handling_due_soon=1, handling_overdue=3, dispatched=3,
        dispatched_late=1, awaiting_approval=1, awaiting_signature=1, awaiting_seal=1,
        awaiting_dispatch=1, dispatch_overdue=1, unacknowledged=2, open_total=11)
    # late = 2 completed late + 3 overdue + 1 registration + 1 dispatch overdue + 1
    # dispatched late = 8, over 5 completed + 3 + 1 + 3 dispatched + 1 = 13.
    assert r.total.late == 8
    assert r.total.late_rate == pytest.approx(8 / 13)
    assert [a for _, a, _ in r.breadcrumbs] == [CITY]


def test_a_units_people_and_the_no_unit_line(world: World) -> None:
    r = world.run(lambda p: rollup(p, who(LEADER), CITY, unit_id=U1, period=PERIOD, now=NOW))
    assert (r.level, r.unit_id) == (Level.PERSON, U1)
    assert r.breadcrumbs[-1] == (Level.UNIT, U1, "Văn phòng")
    # Everyone of the office, by name; Đỗ Văn Bốn holds nothing (no drill-down).
    assert [(ln.name, ln.drill) for ln in r.lines] == [
        ("An Văn Một", True), ("Bùi Thị Hai", True), ("Đỗ Văn Bốn", False)]
    one, two, four = (ln.figures for ln in r.lines)
    assert one == Figures(completed_on_time=1, handling_hours_total=2.0, handling_open=2,
                          handling_due_soon=1, handling_overdue=1, open_total=2)
    assert two == Figures(completed_late=1, handling_hours_total=8.0, extensions_requested=1,
                          extensions_granted=1, handling_open=1, open_total=1)
    assert four == Figures()
    # The unit's total is the office line of the city's roll-up.
    assert r.total.handling_open == 3
    assert r.total.completed == 2
    # "No unit": the city's leader (no figures) and a "no person" line with C4, C5 and
    # the 3 arrivals.
    r = world.run(lambda p: rollup(p, who(LEADER), CITY, unit_id=NIL_UUID, period=PERIOD,
                                   now=NOW))
    assert [(ln.id, ln.name) for ln in r.lines] == [(LEADER, "Lê Chủ Tịch"), (None, "")]
    assert r.lines[1].figures == Figures(arrived=3, registration_overdue=1, open_total=2)
    # Another agency's unit is no unit of the city.
    with pytest.raises(UnitNotFoundError):
        world.run(lambda p: rollup(p, who(LEADER), CITY, unit_id=W1U, period=PERIOD, now=NOW))


def test_open_documents_most_overdue_first_with_their_holders(world: World) -> None:
    items, more = world.run(lambda p: open_documents(p, who(LEADER), CITY, now=NOW))
    # By due date: D1 (-5 d), W1 (-3 d), C8 at ward 1 and ward 2 (-2 d), C1 and C7 (-1 d),
    # C4 (-2 h), W2 (+3 h), C2 (+1 d), C3 (+5 d), then no deadline: C5, C6, E1.
    assert [(d.id, d.step) for d in items] == [
        (D1, Step.HANDLING), (W1, Step.HANDLING), (C8, Step.ACKNOWLEDGEMENT),
        (C8, Step.ACKNOWLEDGEMENT), (C1, Step.HANDLING), (C7, Step.SEAL),
        (C4, Step.REGISTRATION), (W2, Step.DISPATCH), (C2, Step.HANDLING),
        (C3, Step.EXTENSION), (C5, Step.ASSIGNMENT), (C6, Step.APPROVAL),
        (E1, Step.SIGNATURE)]
    assert more is None
    assert [d.late for d in items] == [True] * 7 + [False] * 6
    # Who holds them: a unit, a person, each ward that has not registered C8, the clerks.
    assert [d.holder_name for d in items[:4]] == [
        "Phòng Tổ chức", "Phạm Phường", "Phường Một", "Phường Hai"]
    assert (items[0].agency_name, items[4].label, items[6].holder_name) == (
        "Sở Nội vụ", "12/BC-SNV", "")
    # The late ones, five per page: the cursor leads to the last two.
    page, more = world.run(lambda p: open_documents(p, who(LEADER), CITY, late_only=True,
                                                    now=NOW, limit=5))
    assert [d.id for d in page] == [D1, W1, C8, C8, C1]
    assert more is not None
    page, last = world.run(lambda p: open_documents(p, who(LEADER), CITY, late_only=True,
                                                    now=NOW, limit=5, cursor=more))
    assert ([d.id for d in page], last) == ([C7, C4], None)
    # One person's documents; the city's own (not its subtree); "no unit".
    mine, _ = world.run(lambda p: open_documents(p, who(LEADER), CITY, person_id=P1, now=NOW))
    assert [d.id for d in mine] == [C1, C2]
    own, _ = world.run(lambda p: open_documents(p, who(LEADER), CITY, subtree=False, now=NOW))
    assert len(own) == 9  # C1-C7 and C8 twice
    loose, _ = world.run(lambda p: open_documents(p, who(LEADER), CITY, unit_id=NIL_UUID,
                                                  now=NOW))
    assert [d.id for d in loose] == [C4, C5]
    # A cursor this server never gave, and a ward outside the department's mandate.
    with pytest.raises(InvalidInputError):
        world.run(lambda p: open_documents(p, who(LEADER), CITY, now=NOW, cursor="x!"))
    with pytest.raises(AgencyNotFoundError):
        world.run(lambda p: open_documents(p, who(DEPT_LEADER), WARD1, now=NOW))


def test_trends_by_week_and_month(world: World) -> None:
    # Weeks from Monday: 23 November (nothing), 30 November (5 arrived that day + the
    # 9 of 1-4 December); 5 December is after the period.
    weeks = world.run(lambda p: trends(p, who(LEADER), CITY, by="week", now=NOW,
                                       period=Period(date(2026, 11, 23), date(2026, 12, 4))))
    assert [(w.start, w.figures.arrived, w.figures.dispatched) for w in weeks] == [
        (date(2026, 11, 23), 0, 0), (date(2026, 11, 30), 14, 3)]
    months = world.run(lambda p: trends(p, who(LEADER), CITY, by="month", now=NOW,
                                        period=Period(date(2026, 11, 1), date(2026, 12, 4))))
    assert [(m.start, m.figures.arrived, m.figures.completed) for m in months] == [
        (date(2026, 11, 1), 5, 0), (date(2026, 12, 1), 9, 5)]
    # The department's leader: its subtree only (2 completed, the centre's dispatch).
    dept = world.run(lambda p: trends(p, who(DEPT_LEADER), DEPT, by="month", now=NOW,
                                      period=PERIOD))
    assert [(m.figures.completed, m.figures.dispatched) for m in dept] == [(2, 1)]


def test_ranking_by_own_late_rate(world: World) -> None:
    ranked = world.run(lambda p: ranking(p, who(LEADER), CITY, period=PERIOD, now=NOW))
    # Ward 1: late 1 completed + 1 overdue of 1 + 1 -> 100 %. The city itself: late
    # 1 + 1 + 1 registration + 1 dispatch overdue + 1 dispatched late = 5 of 2 completed
    # + 1 + 1 + 2 dispatched + 1 = 7. SNV: D1 of 2 + 1 = 1/3. The centre: 0 of 1
    # dispatched. Ward 2: nothing with a deadline, last.
    assert [(a.code, a.figures.late_rate) for a in ranked] == [
        ("P1", 1.0), ("UB", pytest.approx(5 / 7)), ("SNV", pytest.approx(1 / 3)),
        ("TT", 0.0), ("P2", None)]


def test_the_period_defaults_to_the_month_to_date_and_is_bounded() -> None:
    assert period_of(None, None, NOW) == PERIOD
    # 1 December 00:30 in Hanoi is still 30 November in UTC: Vietnam's date counts.
    early = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    assert period_of(None, None, early) == Period(date(2026, 12, 1), date(2026, 12, 1))
    assert period_of(date(2026, 1, 1), date(2026, 12, 31), NOW).end == date(2026, 12, 31)
    for start, end in ((date(2026, 12, 4), date(2026, 12, 1)),
                       (date(2025, 1, 1), date(2026, 1, 2))):  # 367 days
        with pytest.raises(InvalidInputError):
            period_of(start, end, NOW)


def test_the_printed_report_of_the_city(world: World, tmp_path: Path) -> None:
    async def gather(p: asyncpg.Pool) -> tuple[Rollup, list[RankedAgency], list[OpenDocument]]:
        return (await rollup(p, who(LEADER), CITY, period=PERIOD, now=NOW),
                await ranking(p, who(LEADER), CITY, period=PERIOD, now=NOW),
                await all_documents(p, who(LEADER), CITY, now=NOW, late_only=True))

    r, ranked, late = world.run(gather)
    out = tmp_path / "report.pdf"
    with out.open("wb") as f:
        render_report(r, ranked, late, f)
    # Cells wrap: compare with the line breaks folded into spaces.
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(out).pages).split())
    # The header, the totals, every line, the ranking and the 7 late documents.
    for expected in ("BÁO CÁO GIÁM SÁT", "UBND Thành phố", "01/12/2026 – 04/12/2026",
                     "61,5 %",  # the whole tree's late rate, 8 / 13
                     "SNV Sở Nội vụ", "U1 Văn phòng", "(Không thuộc đơn vị / No unit)",
                     "Xếp hạng", "71,4 %",  # the city's own, 5 / 7
                     "Văn bản trễ hạn / Late documents (7)", "12/BC-SNV", "Phạm Phường",
                     "Văn thư / Clerks", "Phòng Tổ chức"):
        assert expected in text, expected
