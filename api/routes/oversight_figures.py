"""Oversight figures (giám sát): roll-ups, open documents, trends and ranking across the
agency subtree a caller holds an oversight mandate for; outside it everything is 404.

Periods are local (Vietnam) dates, both ends included; by default the current month to
date. Late and due soon are derived at the moment of the request.
"""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.auth import CurrentUser
from api.deps import ContainerDep
from api.oversight_schemas import (
    DocumentsPage,
    OpenDocumentOut,
    RankedAgencyOut,
    RollupOut,
    RootOut,
    TrendPointOut,
)
from api.routing import ThreadedRoute
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.oversight.access import agency_tree, oversight_roots
from docmgmt.oversight.export import documents_csv, rollup_csv
from docmgmt.oversight.queries import (
    MAX_LIMIT,
    all_documents,
    open_documents,
    period_of,
    ranking,
    rollup,
    trends,
)
from docmgmt.oversight.report import render_report

router = APIRouter(prefix="/oversight", tags=["oversight"], route_class=ThreadedRoute)

From = Annotated[date | None, Query(alias="from",
                                    description="First day (default: the 1st of this month)")]
To = Annotated[date | None, Query(alias="to", description="Last day (default: today)")]
UnitFilter = Annotated[UUID | None, Query(
    description="A unit of the agency (its people); the nil UUID for \"no unit\"")]
DueSoon = Annotated[int, Query(ge=0, le=30, description="Due soon: within this many days")]
CSV = "text/csv; charset=utf-8"


def _now() -> datetime:
    return datetime.now(VIETNAM_TZ)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/roots")
async def roots(who: CurrentUser, c: ContainerDep) -> list[RootOut]:
    """Cơ quan được giám sát / The agencies you hold an oversight mandate for (each with
    every agency below it): where to start."""
    ids = await oversight_roots(c.pool, who.user_id, _now())
    tree = await agency_tree(c.pool) if ids else None
    return [RootOut(id=a, code=tree.nodes[a].code, name=tree.nodes[a].name)
            for a in ids if tree is not None and a in tree.nodes]


@router.get("/agencies/{agency_id}")
async def agency_rollup(
    agency_id: UUID, who: CurrentUser, c: ContainerDep, start: From = None, end: To = None,
    unit_id: UnitFilter = None, due_soon_days: DueSoon = 2,
) -> RollupOut:
    """Tổng hợp / The roll-up: each child agency (its whole subtree) and the agency's own
    units, or with ``unit_id`` the unit's people; flows over the period, what is open and
    late now, and the way back up."""
    now = _now()
    r = await rollup(c.pool, who, agency_id, unit_id=unit_id, period=period_of(start, end, now),
                     now=now, due_soon=timedelta(days=due_soon_days))
    return RollupOut.of(r)


@router.get("/agencies/{agency_id}/documents")
async def agency_documents(
    agency_id: UUID, who: CurrentUser, c: ContainerDep, unit_id: UnitFilter = None,
    person_id: Annotated[UUID | None, Query(
        description="A person of the agency; the nil UUID for \"no person\"")] = None,
    late: Annotated[bool, Query(description="Only the late ones")] = False,
    subtree: Annotated[bool, Query(description="With every agency below")] = True,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: str | None = None,
) -> DocumentsPage:
    """Văn bản đang mở / Open documents, most overdue first: where each waits, who holds it
    since when, and its due (recipients that have not registered a dispatched document
    included)."""
    items, more = await open_documents(
        c.pool, who, agency_id, unit_id=unit_id, person_id=person_id, subtree=subtree,
        late_only=late, now=_now(), limit=limit, cursor=cursor)
    return DocumentsPage(items=[OpenDocumentOut.of(d) for d in items], next_cursor=more)


@router.get("/agencies/{agency_id}/trends")
async def agency_trends(
    agency_id: UUID, who: CurrentUser, c: ContainerDep, start: From = None, end: To = None,
    by: Literal["week", "month"] = "week",
) -> list[TrendPointOut]:
    """Xu hướng / Flows of the whole subtree per week (from Monday) or month."""
    now = _now()
    points = await trends(c.pool, who, agency_id, period=period_of(start, end, now), by=by,
                          now=now)
    return [TrendPointOut.of(p) for p in points]


@router.get("/agencies/{agency_id}/ranking")
async def agency_ranking(
    agency_id: UUID, who: CurrentUser, c: ContainerDep, start: From = None, end: To = None,
) -> list[RankedAgencyOut]:
    """Xếp hạng / Every agency of the subtree by its own late rate, highest first."""
    now = _now()
    ranked = await ranking(c.pool, who, agency_id, period=period_of(start, end, now), now=now)
    return [RankedAgencyOut.of(a) for a in ranked]


@router.get("/agencies/{agency_id}/report.csv",
            responses={200: {"content": {"text/csv": {}}}}, response_class=Response)
async def agency_report_csv(
    agency_id: UUID, who: CurrentUser, c: ContainerDep, start: From = None, end: To = None,
    unit_id: UnitFilter = None,
    part: Annotated[Literal["rollup", "late"], Query(
        description="rollup: the lines and the total; late: the late documents")] = "rollup",
) -> Response:
    """Xuất CSV / The roll-up, or its late documents with their holders, for Excel."""
    now = _now()
    period = period_of(start, end, now)
    if part == "late":
        docs = await all_documents(c.pool, who, agency_id, now=now, late_only=True,
                                   unit_id=unit_id)
        return Response(documents_csv(docs, now), media_type=CSV,
                        headers=_attachment(f"van-ban-tre-han-{now:%Y%m%d}.csv"))
    r = await rollup(c.pool, who, agency_id, unit_id=unit_id, period=period, now=now)
    return Response(rollup_csv(r), media_type=CSV,
                    headers=_attachment(f"giam-sat-{period.start}-{period.end}.csv"))


@router.get("/agencies/{agency_id}/report.pdf",
            responses={200: {"content": {"application/pdf": {}}}}, response_class=Response)
async def agency_report_pdf(
    agency_id: UUID, who: CurrentUser, c: ContainerDep, start: From = None, end: To = None,
    unit_id: UnitFilter = None,
) -> Response:
    """Báo cáo PDF / A printable report: the totals, the lines, the ranking and the late
    documents with their holders."""
    now = _now()
    period = period_of(start, end, now)
    r = await rollup(c.pool, who, agency_id, unit_id=unit_id, period=period, now=now)
    ranked = (await ranking(c.pool, who, agency_id, period=period, now=now)
              if unit_id is None else [])
    docs = await all_documents(c.pool, who, agency_id, now=now, late_only=True,
                               unit_id=unit_id, cap=1000)
    out = io.BytesIO()
    await asyncio.to_thread(render_report, r, ranked, docs, out)
    return Response(out.getvalue(), media_type="application/pdf",
                    headers=_attachment(f"giam-sat-{period.start}-{period.end}.pdf"))
