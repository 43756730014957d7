"""The clerk's and leader's desk: the registers (view, PDF, CSV), the unit dashboard with its
chart, search without diacritics, and my notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from api.deps import ContainerDep
from api.routes import incoming as api_incoming
from api.routing import ThreadedRoute
from api.web.charts import stacked_bars
from api.web.forms import FormErrors
from api.web.i18n import N_, _, ngettext
from api.web.labels import INCOMING_STATUSES, OUTGOING_STATUSES
from api.web.render import render
from api.web.session import Session
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.errors import DomainError
from docmgmt.domain.textsearch import tokens
from docmgmt.incoming import handling
from docmgmt.incoming.queries import Page
from docmgmt.kernel.cursor import decode_optional_cursor, encode_cursor

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

REGISTER_PAGE = 50
SEARCH_PAGE = 50
NOTIFICATION_PAGE = 40
NOTIFICATION_WINDOW = timedelta(days=30)
MAX_QUERY = 200  # as the API's /search

KINDS = {"incoming": N_("Incoming register"), "outgoing": N_("Outgoing register")}
SERIES = {"": N_("All series"), "general": N_("Administrative documents"),
          "legal": N_("Legal normative documents")}
# What happened to one of my records, as the notifications page says it.
DRAFT_CHANGES = {
    "returned": N_("Your draft was returned for revision"),
    "approved": N_("Your draft was approved"),
    "signed": N_("Your draft was signed"),
    "numbered": N_("Your document was numbered"),
    "sealed": N_("Your document was sealed"),
    "dispatched": N_("Your document was dispatched"),
    "recalled": N_("Your document was recalled"),
    "draft": N_("Your draft was commented on"),
    "submitted": N_("Your draft was commented on"),
}
INCOMING_CHANGES = {
    "assigned": N_("Assigned to you"),
    "progress": N_("Progress was recorded"),
    "extension_requested": N_("Extension requested, awaiting a decision"),
    "extension_decided": N_("The extension request was decided"),
    "completed": N_("Handling completed"),
    "withdrawn": N_("The sender recalled this document"),
}


# --- registers --------------------------------------------------------------------------


def _this_year() -> int:
    return datetime.now(VIETNAM_TZ).year


def _outgoing_start(text: str | None) -> tuple[str, int] | None:
    """The outgoing register's page key, "series:number" (None for the first page)."""
    if not text:
        return None
    series, _sep, number = text.partition(":")
    if series not in ("general", "legal") or not number.isdigit():
        return None
    return series, int(number)


def _register_url(kind: str, year: int, series: str, start: str | None = None) -> str:
    url = f"/app/registers?kind={kind}&year={year}"
    if series:
        url += f"&series={series}"
    return url + (f"&from={start}" if start else "")


@router.get("/registers")
async def registers(
    request: Request, session: Session, c: ContainerDep,
    kind: Annotated[str, Query(pattern="^(incoming|outgoing)$")] = "incoming",
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    series: Annotated[str, Query(pattern="^(|general|legal)$")] = "",
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
) -> Response:
    """Sổ đăng ký văn bản đến / đi: one page of a year's register, by number."""
    who = session.principal
    who.require(*api_incoming.READERS)
    y = year or _this_year()
    reads = c.exchange_reads
    if kind == "incoming":
        first = int(start) if start and start.isdigit() else None
        rows = await reads.incoming_register(who.agency_id, y, start=first,
                                             limit=REGISTER_PAGE + 1)
        next_key = str(rows[REGISTER_PAGE]["arrival_number"]) if len(rows) > REGISTER_PAGE \
            else None
    else:
        rows = await reads.outgoing_register(who.agency_id, y, series or None,
                                             start=_outgoing_start(start),
                                             limit=REGISTER_PAGE + 1)
        following = rows[REGISTER_PAGE] if len(rows) > REGISTER_PAGE else None
        next_key = None if following is None else \
            f"{following['series']}:{following['number']}"
    downloads = f"year={y}" + (f"&series={series}" if kind == "outgoing" and series else "")
    return render(request, "desk/registers.html", {
        "kind": kind, "kinds": KINDS, "year": y, "series": series, "all_series": SERIES,
        "rows": rows[:REGISTER_PAGE], "first_page": start is None,
        "next_url": None if next_key is None else _register_url(kind, y, series, next_key),
        "years": _years(y),
        "pdf_url": f"/app/registers/{kind}.pdf?{downloads}",
        "csv_url": f"/app/registers/{kind}.csv?{downloads}",
        "incoming_status": INCOMING_STATUSES, "outgoing_status": OUTGOING_STATUSES,
    }, session=session)


def _years(chosen: int) -> list[int]:
    """The year picker's choices: the last ten years, and the one shown."""
    recent = list(range(_this_year(), _this_year() - 10, -1))
    return recent if chosen in recent else sorted([*recent, chosen], reverse=True)


@router.get("/registers/{name}")
async def register_file(
    session: Session, c: ContainerDep,
    name: Annotated[str, Path(pattern=r"^(incoming|outgoing)\.(pdf|csv)$")],
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    series: Annotated[str, Query(pattern="^(|general|legal)$")] = "",
) -> Any:
    """The register of a year as PDF (printing, binding) or CSV (Excel): incoming.pdf,
    outgoing.csv, ... The API's own route renders it: the same rows, columns, file name
    and PDF layout as GET /registers/{kind}?format=."""
    kind, _dot, fmt = name.partition(".")
    return await api_incoming.register_book(kind, session.principal, c.exchange_reads,
                                            year, series or None, fmt)


# --- the dashboard ----------------------------------------------------------------------


def this_month(today: date) -> tuple[date, date]:
    """The first and last day of ``today``'s month."""
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def handling_time(hours: float | None) -> str:
    """An average handling time in words: "2 days 5 hours" (to the nearest hour)."""
    if hours is None:
        return "—"
    whole = round(hours)
    if whole < 1:
        return _("under an hour")
    days, rest = divmod(whole, 24)
    parts = []
    if days:
        parts.append(ngettext("%(n)s day", "%(n)s days", days) % {"n": days})
    if rest:
        parts.append(ngettext("%(n)s hour", "%(n)s hours", rest) % {"n": rest})
    return " ".join(parts)


# The chart's segments, left to right: (label, fill, text fill).
SEGMENTS = (
    (N_("On time"), "#1a7f37", "#ffffff"),
    (N_("Due soon"), "#f2cc60", "#1b1f24"),
    (N_("Overdue"), "#b42318", "#ffffff"),
    (N_("Completed late"), "#57606a", "#ffffff"),
)


@dataclass(frozen=True)
class ChartRow:
    """One unit's bar: its name and the four counts, in SEGMENTS order."""

    name: str
    counts: tuple[int, int, int, int]


def chart_rows(units: list[dict[str, Any]]) -> list[ChartRow]:
    """The bars of the dashboard: on time (completed or open), due soon, overdue, late."""
    return [ChartRow(
        unit_name(u),
        (u["completed_on_time"] + u["open_on_time"], u["open_due_soon"], u["open_overdue"],
         u["completed_late"])) for u in units]


def unit_name(unit: dict[str, Any]) -> str:
    """A unit as the dashboard names it (documents led by a person of no unit: "No unit")."""
    if unit["unit_id"] is None:
        return _("No unit")
    return f"{unit['unit_code']} — {unit['unit_name']}"


def chart_svg(rows: list[ChartRow]) -> Markup:
    """The dashboard's chart: one horizontal stacked bar per unit (api.web.charts), the
    legend in two rows of two so that it fits a phone."""
    return stacked_bars("chart", _("Incoming documents per unit by deadline"), SEGMENTS,
                        [(r.name, r.counts) for r in rows], legend_columns=2,
                        empty=_("nothing assigned"))


def _day_param(text: str | None, default: date) -> date | None:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@router.get("/dashboard")
async def dashboard(
    request: Request, session: Session, c: ContainerDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    """Theo dõi hạn xử lý: per unit, for a period (this month unless chosen), with a chart."""
    who = session.principal
    who.require(*api_incoming.READERS)
    first, last = this_month(datetime.now(VIETNAM_TZ).date())
    begin, finish = _day_param(start, first), _day_param(end, last)
    errors = FormErrors()
    units: list[dict[str, Any]] = []
    if begin is not None and finish is not None:
        try:
            body = await api_incoming.dashboard(who, c.exchange_reads, begin, finish)
            units = body["units"]
        except DomainError:  # the API's one refusal here: the period ends before it starts
            errors.messages["to"] = N_("The period ends before it starts.")
    # Worded in the reader's language: the request speaks it (api.web.session).
    if begin is None:
        errors.messages["from"] = N_("Enter a date as dd/mm/yyyy.")
    if finish is None:
        errors.messages["to"] = N_("Enter a date as dd/mm/yyyy.")
    errors.messages = {k: _(v) for k, v in errors.messages.items()}
    for u in units:
        u["name"] = unit_name(u)
        u["handling"] = handling_time(u["avg_handling_hours"])
    chart = chart_svg(chart_rows(units)) if units else ""
    return render(request, "desk/dashboard.html", {
        "units": units, "chart": chart,
        "from_value": start or first.isoformat(), "to_value": end or last.isoformat(),
        "begin": begin, "finish": finish, "errors": errors,
    }, session=session, status_code=errors.status if errors else 200)


# --- search -----------------------------------------------------------------------------


@router.get("/search")
async def search(request: Request, session: Session, c: ContainerDep,
                 q: Annotated[str, Query(max_length=1000)] = "",
                 cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """Tìm kiếm: the agency's documents the reader may read, with or without diacritics, a
    page at a time."""
    who = session.principal
    scope = handling.reading_scope(who)
    errors = FormErrors()
    page = Page([], None)
    text = q.strip()
    if len(text) > MAX_QUERY:
        errors.messages["q"] = _("Search for at most %(n)s characters.") % {"n": MAX_QUERY}
    elif text:
        page = await c.exchange_reads.search(who.agency_id, text, SEARCH_PAGE,
                                             cursor=decode_optional_cursor(cursor),
                                             handler=scope)
    token = encode_cursor(page.next_cursor)
    following = None if token is None else urlencode({"q": q, "cursor": token})
    return render(request, "desk/search.html", {
        "q": q, "hits": page.items, "searched": bool(text) and not errors,
        "has_words": bool(tokens(text)), "errors": errors, "first_page": not cursor,
        "next_url": None if following is None else f"/app/search?{following}",
        "incoming_status": INCOMING_STATUSES, "outgoing_status": OUTGOING_STATUSES,
    }, session=session, status_code=errors.status if errors else 200)


# --- my notifications -------------------------------------------------------------------


@router.get("/notifications")
async def notifications(request: Request, session: Session, c: ContainerDep) -> Response:
    """What changed for me in the last 30 days, newest first, read off the views."""
    who = session.principal
    since = datetime.now(VIETNAM_TZ) - NOTIFICATION_WINDOW
    drafts = await c.queries.list_recent_for_drafter(who.agency_id, who.user_id, since,
                                                     NOTIFICATION_PAGE)
    led = await c.exchange_reads.list_recent_for_lead(who.agency_id, who.user_id, since,
                                                      NOTIFICATION_PAGE)
    items = [{"at": d["updated_at"], "link": f"/app/documents/{d['id']}",
              "kind": "outgoing", "what": DRAFT_CHANGES.get(d["status"], ""),
              "summary": d["summary"], "label": d["number_label"],
              "comments": d["comment_count"], "deadline": None} for d in drafts]
    items += [{"at": i["updated_at"], "link": f"/app/incoming/{i['id']}",
               "kind": "incoming", "what": INCOMING_CHANGES.get(i["change"], ""),
               "summary": i["summary"], "label": i["number_label"], "comments": 0,
               "deadline": i["deadline"] if i["change"] in ("assigned", "extension_decided")
               else None} for i in led]
    items.sort(key=lambda n: (n["at"], n["link"]), reverse=True)
    return render(request, "desk/notifications.html", {
        "items": items[:NOTIFICATION_PAGE], "days": NOTIFICATION_WINDOW.days,
    }, session=session)
