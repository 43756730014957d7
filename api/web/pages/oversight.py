"""Giám sát / Oversight: for a leader holding an oversight mandate, the figures of an agency
and every agency below it, drilled down by clicking (agency -> its roll-up, unit -> its
people, person -> their open documents), what is late and who holds it since when, trends,
the ranking, and the CSV and PDF exports.

The pages read the same queries as the API's /oversight routes; the queries authorise
(a mandate in force over the agency, else 404).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from api.deps import ContainerDep
from api.routes import oversight_figures
from api.routing import ThreadedRoute
from api.web.forms import FormErrors
from api.web.i18n import N_, _, current, ngettext
from api.web.pages.desk import handling_time
from api.web.pages.oversight_charts import Bar, rollup_svg, states, trend_svg
from api.web.render import render
from api.web.session import Session
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.errors import InvalidInputError
from docmgmt.oversight import access, queries
from docmgmt.oversight.model import (
    NIL_UUID,
    HolderKind,
    Level,
    Line,
    OpenDocument,
    Period,
    Rollup,
    Step,
)

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

LATE_PREVIEW = 10  # late documents shown under a roll-up (the list has them all)
DOCUMENTS_PAGE = 50
TREND_POINTS = 12  # weeks or months ending with the period

STEPS: dict[str, str] = {
    Step.REGISTRATION: N_("Registration"), Step.ASSIGNMENT: N_("Assignment"),
    Step.HANDLING: N_("Handling"), Step.EXTENSION: N_("Extension decision"),
    Step.DRAFTING: N_("Drafting"), Step.APPROVAL: N_("Approval"),
    Step.SIGNATURE: N_("Signature"), Step.NUMBER: N_("Numbering"), Step.SEAL: N_("Seal"),
    Step.DISPATCH: N_("Dispatch"), Step.ACKNOWLEDGEMENT: N_("Receipt by the recipient"),
}
ROLE_HOLDERS: dict[str, str] = {
    HolderKind.CLERKS: N_("The clerks"), HolderKind.LEADERS: N_("The leaders"),
}
NO_LINE: dict[str, str] = {Level.UNIT: N_("No unit"), Level.PERSON: N_("No person")}


# --- the period -------------------------------------------------------------------------


def month_to_date(today: date) -> Period:
    """The default period: the current month up to today (Vietnam time)."""
    return Period(today.replace(day=1), today)


def parse_period(start: str | None, end: str | None, now: datetime
                 ) -> tuple[Period | None, FormErrors]:
    """The period a form asked for (the queries' rule: from <= to, a year at most), or the
    messages to show next to its fields."""
    errors = FormErrors()
    days: dict[str, date | None] = {}
    for name, text in (("from", start), ("to", end)):
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            errors.messages[name] = _("Enter a date as dd/mm/yyyy.")
    if errors:
        return None, errors
    try:
        return queries.period_of(days["from"], days["to"], now), errors
    except InvalidInputError as exc:
        field = str(exc.context.get("field", "to"))
        errors.messages[field] = _("The period ends before it starts.") if field == "to" \
            else _("Choose a period of at most %(n)s days.") % {"n": queries.MAX_PERIOD_DAYS}
        return None, errors


def trend_period(period: Period, monthly: bool) -> Period:
    """The weeks or months a trend chart shows: the last TREND_POINTS ending with the
    period's last day (weeks start on Monday)."""
    end = period.end
    if monthly:
        month = end.year * 12 + end.month - 1 - (TREND_POINTS - 1)
        return Period(date(month // 12, month % 12 + 1, 1), end)
    monday = end - timedelta(days=end.weekday())
    return Period(monday - timedelta(weeks=TREND_POINTS - 1), end)


# --- wording ----------------------------------------------------------------------------


def number(n: float) -> str:
    """A count with the reader's separators (1.234 in Vietnamese, 1,234 in English)."""
    return format_decimal(n, locale=current().language)


def rate(value: float | None) -> str:
    """A late rate as a percentage, or a dash with nothing to count."""
    return "—" if value is None else format_percent(value, "#,##0.0%",
                                                    locale=current().language)


def lateness(due: datetime | None, now: datetime) -> str:
    """How late a document is, in words: "3 days late", "5 hours late"; "" if not late."""
    if due is None or due >= now:
        return ""
    hours = (now - due).total_seconds() / 3600
    if hours < 24:
        n = max(math.ceil(hours), 1)
        return ngettext("%(n)s hour late", "%(n)s hours late", n) % {"n": n}
    n = math.floor(hours / 24)
    return ngettext("%(n)s day late", "%(n)s days late", n) % {"n": n}


def holder(doc: OpenDocument) -> str:
    """Who holds a document, as a reader names them."""
    if doc.holder_kind in ROLE_HOLDERS:
        role = _(ROLE_HOLDERS[doc.holder_kind])
        return f"{role} — {doc.agency_name}"
    return doc.holder_name or _("Unknown")


def line_name(line: Line) -> str:
    """A roll-up line's name: "code — name", "name (title)", or "No unit" / "No person"."""
    if line.id is None:
        return _(NO_LINE.get(line.level, N_("Unknown")))
    if line.level is Level.PERSON:  # a person's code is their title
        return f"{line.name} ({line.code})" if line.code else line.name
    return f"{line.code} — {line.name}" if line.code else line.name


# --- links ------------------------------------------------------------------------------


def _query(**values: object) -> str:
    kept = {k: str(v) for k, v in values.items() if v not in (None, "")}
    return ("?" + urlencode(kept)) if kept else ""


def rollup_url(agency_id: UUID, period: Period | None = None, unit_id: UUID | None = None,
               **extra: object) -> str:
    """A roll-up page: an agency's, or (unit_id) a unit's people."""
    span = {} if period is None else {"from": period.start, "to": period.end}
    return f"/app/oversight/agencies/{agency_id}" + _query(unit_id=unit_id, **span, **extra)


def documents_url(agency_id: UUID, *, unit_id: UUID | None = None,
                  person_id: UUID | None = None, late: bool = False) -> str:
    """The open documents of an agency's subtree, a unit or a person."""
    return f"/app/oversight/agencies/{agency_id}/documents" + _query(
        unit_id=unit_id, person_id=person_id, late="1" if late else None)


def line_url(rollup: Rollup, line: Line) -> str | None:
    """Where clicking a line goes: an agency to its roll-up, a unit to its people, a person
    to their open documents."""
    if not line.drill:
        return None
    if line.level is Level.AGENCY and line.id is not None:
        return rollup_url(line.id, rollup.period)
    if line.level is Level.UNIT:
        return rollup_url(rollup.agency_id, rollup.period, line.id or NIL_UUID)
    return documents_url(rollup.agency_id, unit_id=rollup.unit_id,
                         person_id=line.id or NIL_UUID)


@dataclass(frozen=True)
class Crumb:
    """A step of the way back up."""

    name: str
    url: str


def crumbs(trail: list[tuple[Level, UUID, str]], period: Period | None) -> list[Crumb]:
    """The breadcrumbs as links: agencies to their roll-ups, a unit to its people."""
    out: list[Crumb] = []
    agency: UUID | None = None
    for level, ident, name in trail:
        if level is Level.AGENCY:
            agency = ident
            out.append(Crumb(name, rollup_url(ident, period)))
        elif agency is not None:
            out.append(Crumb(name, rollup_url(agency, period, ident)))
    return out


def document_rows(docs: list[OpenDocument], now: datetime) -> list[dict[str, Any]]:
    """What the documents table shows of each document."""
    return [{"doc": d, "step": _(STEPS.get(d.step, N_("Unknown"))), "holder": holder(d),
             "lateness": lateness(d.due, now)} for d in docs]


# --- the pages --------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/oversight")
async def oversight_home(request: Request, session: Session, c: ContainerDep) -> Response:
    """Giám sát: the agencies of my mandates; with one, straight to its figures."""
    who = session.principal
    now = _now()
    roots = await access.oversight_roots(c.pool, who.user_id, now)
    if len(roots) == 1:
        return RedirectResponse(rollup_url(roots[0]), status_code=303)
    tree = await access.agency_tree(c.pool)
    agencies = [tree.nodes[r] for r in roots if r in tree.nodes]
    return render(request, "oversight/home.html", {"agencies": agencies}, session=session)


@router.get("/oversight/agencies/{agency_id}")
async def agency_page(
    request: Request, session: Session, c: ContainerDep, agency_id: UUID,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    unit_id: UUID | None = None,
    by: Annotated[str, Query(pattern="^(week|month)$")] = "week",
) -> Response:
    """The roll-up of an agency's subtree (or a unit's people) for a period, with its chart,
    the late documents, the trends and the ranking."""
    who = session.principal
    now = _now()
    today = now.astimezone(VIETNAM_TZ).date()
    period, errors = parse_period(start, end, now)
    # A bad period still shows the page (the form with its message) for the default one.
    shown = period or month_to_date(today)
    rollup = await queries.rollup(c.pool, who, agency_id, unit_id=unit_id, period=shown,
                                  now=now)
    late, _cursor = await queries.open_documents(
        c.pool, who, agency_id, unit_id=unit_id, late_only=True, now=now,
        limit=LATE_PREVIEW)
    monthly = by == "month"
    # Trends and the ranking are of agencies: a unit's page leaves them to its agency's.
    trend, ranking = [], []
    if unit_id is None:
        trend = await queries.trends(c.pool, who, agency_id, by="month" if monthly else "week",
                                     period=trend_period(shown, monthly), now=now)
        ranking = await queries.ranking(c.pool, who, agency_id, period=shown, now=now)
    lines = [{"line": line, "name": line_name(line), "url": line_url(rollup, line),
              "states": states(line.figures)} for line in rollup.lines]
    chart = rollup_svg([Bar(line_name(line), states(line.figures)) for line in rollup.lines]
                       ) if lines else ""
    points = [(p.start, p.figures.late, p.figures.completed) for p in trend]
    # Weeks of nothing draw no chart: the page says so in words.
    trend_chart = trend_svg(points, monthly=monthly) \
        if any(late or done for _s, late, done in points) else ""
    exports = _query(**{"from": shown.start, "to": shown.end, "unit_id": unit_id})
    return render(request, "oversight/agency.html", {
        "rollup": rollup, "lines": lines, "chart": chart, "total_states": states(rollup.total),
        "crumbs": crumbs(rollup.breadcrumbs, shown), "unit_id": unit_id,
        "late": document_rows(late, now), "trend_chart": trend_chart, "by": by,
        "ranking": ranking, "errors": errors, "period": shown,
        "from_value": start or shown.start.isoformat(),
        "to_value": end or shown.end.isoformat(),
        "all_late_url": documents_url(agency_id, unit_id=unit_id, late=True),
        "all_open_url": documents_url(agency_id, unit_id=unit_id),
        "trend_urls": {k: rollup_url(agency_id, shown, unit_id, by=k)
                       for k in ("week", "month")},
        "csv_url": f"/app/oversight/agencies/{agency_id}/report.csv{exports}",
        "late_csv_url": f"/app/oversight/agencies/{agency_id}/report.csv{exports}"
                        f"{'&' if exports else '?'}part=late",
        "pdf_url": f"/app/oversight/agencies/{agency_id}/report.pdf{exports}",
        "number": number, "rate": rate, "handling_time": handling_time,
        "average": rollup.total.average_handling_hours,
    }, session=session, status_code=errors.status if errors else 200)


@router.get("/oversight/agencies/{agency_id}/documents")
async def documents_page(
    request: Request, session: Session, c: ContainerDep, agency_id: UUID,
    unit_id: UUID | None = None, person_id: UUID | None = None,
    late: Annotated[str, Query(pattern="^(|1)$")] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The open documents of an agency's subtree, a unit or a person, most overdue first:
    where each waits, who holds it since when, and how late it is."""
    who = session.principal
    now = _now()
    docs, following = await queries.open_documents(
        c.pool, who, agency_id, unit_id=unit_id, person_id=person_id,
        subtree=unit_id is None and person_id is None, late_only=bool(late), now=now,
        limit=DOCUMENTS_PAGE, cursor=cursor)
    trail = await access.authorise(c.pool, who, agency_id, now)
    heading = trail[-1][2] if trail else ""
    if unit_id is not None:
        # The unit's roll-up names the unit and its people (one query, no extra rule).
        people = await queries.rollup(c.pool, who, agency_id, unit_id=unit_id,
                                      period=month_to_date(now.astimezone(VIETNAM_TZ).date()),
                                      now=now)
        trail = people.breadcrumbs or trail
        named = next((line for line in people.lines if (line.id or NIL_UUID) == person_id), None)
        if named is not None:
            heading = line_name(named)
        elif person_id is None and people.breadcrumbs:
            heading = people.breadcrumbs[-1][2]
    base = documents_url(agency_id, unit_id=unit_id, person_id=person_id, late=bool(late))
    joiner = "&" if "?" in base else "?"
    return render(request, "oversight/documents.html", {
        "rows": document_rows(docs, now), "crumbs": crumbs(trail, None), "heading": heading,
        "late_only": bool(late), "first_page": cursor is None,
        "next_url": None if following is None else
        f"{base}{joiner}{urlencode({'cursor': following})}",
        "late_url": documents_url(agency_id, unit_id=unit_id, person_id=person_id, late=True),
        "open_url": documents_url(agency_id, unit_id=unit_id, person_id=person_id),
    }, session=session)


@router.get("/oversight/agencies/{agency_id}/{name}")
async def report_file(
    session: Session, c: ContainerDep, agency_id: UUID,
    name: Annotated[str, Path(pattern=r"^report\.(csv|pdf)$")],
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    unit_id: UUID | None = None,
    part: Annotated[str, Query(pattern="^(rollup|late)$")] = "rollup",
) -> Response:
    """The roll-up or its late documents as CSV (Excel), or the printable PDF report: the
    API's own routes render them, with the same checks."""
    first = _day(start, "from")
    last = _day(end, "to")
    if name.endswith(".pdf"):
        return await oversight_figures.agency_report_pdf(agency_id, session.principal, c,
                                                         first, last, unit_id)
    return await oversight_figures.agency_report_csv(
        agency_id, session.principal, c, first, last, unit_id,
        "late" if part == "late" else "rollup")


def _day(text: str | None, field: str) -> date | None:
    """A date of a download link (the form checked it; a hand-made link gets a 422)."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InvalidInputError("enter a date as yyyy-mm-dd", field=field) from None
