"""The home page: what waits for me, counted and listed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.deps import ContainerDep
from api.routing import ThreadedRoute
from api.web.forms import notice_for
from api.web.i18n import N_
from api.web.render import render
from api.web.session import Session
from docmgmt.domain.common import Role
from docmgmt.outgoing.queries import WORK_COUNT_CAP

router = APIRouter(include_in_schema=False, route_class=ThreadedRoute)

# One tile per queue: (key, label, link, roles that work it). Counts come from the views.
TILES: tuple[tuple[str, str, str, frozenset[Role]], ...] = (
    ("to_approve", N_("To approve"), "/app/documents?status=submitted", frozenset({Role.LEADER})),
    ("to_sign", N_("To sign"), "/app/documents?status=approved", frozenset({Role.LEADER})),
    ("returned", N_("Returned to me"), "/app/documents?status=returned&mine=1",
     frozenset({Role.OFFICIAL, Role.LEADER})),
    ("drafts", N_("My drafts"), "/app/documents?status=draft&mine=1",
     frozenset({Role.OFFICIAL, Role.LEADER})),
    ("to_number", N_("To number"), "/app/documents?status=signed", frozenset({Role.CLERK})),
    ("to_seal", N_("To seal"), "/app/documents?status=numbered", frozenset({Role.CLERK})),
    ("to_dispatch", N_("To dispatch"), "/app/documents?status=sealed",
     frozenset({Role.CLERK})),
    ("to_register", N_("To register"), "/app/incoming?queue=received",
     frozenset({Role.CLERK})),
    ("withdrawals", N_("Withdrawals to confirm"), "/app/incoming?queue=withdrawn",
     frozenset({Role.CLERK})),
    ("to_assign", N_("To assign"), "/app/incoming?queue=registered",
     frozenset({Role.LEADER, Role.CLERK})),
    ("assigned_to_me", N_("Assigned to me"), "/app/incoming?queue=mine",
     frozenset({Role.OFFICIAL, Role.LEADER})),
    ("due_soon", N_("Due soon"), "/app/incoming?queue=mine&deadline=due_soon",
     frozenset({Role.OFFICIAL, Role.LEADER})),
    ("overdue", N_("Overdue"), "/app/incoming?queue=mine&deadline=overdue",
     frozenset({Role.OFFICIAL, Role.LEADER})),
)


@router.get("/", include_in_schema=False)
async def root() -> Response:
    """The web application lives under /app/."""
    return RedirectResponse("/app/", status_code=307)


@router.get("/app", include_in_schema=False)
async def app_root() -> Response:
    """The home page's address ends with a slash."""
    return RedirectResponse("/app/", status_code=307)


@router.get("/app/", include_in_schema=False)
async def home(request: Request, session: Session, c: ContainerDep,
               notice: str | None = None) -> Response:
    """Trang chủ / What waits for me: counts per queue, and my open incoming documents."""
    who = session.principal
    counts: dict[str, int] = {}
    mine: list[dict[str, object]] = []
    if who.roles & {Role.OFFICIAL, Role.LEADER, Role.CLERK}:
        counts |= await c.queries.work_counts(who.agency_id, who.user_id)
        counts |= await c.exchange_reads.work_counts(who.agency_id, who.user_id)
        page = await c.exchange_reads.inbox(who.agency_id, user_id=who.user_id,
                                            status=("assigned", "in_progress"), limit=10)
        mine = page.items
    tiles = [(key, label, link, counts.get(key, 0)) for key, label, link, roles in TILES
             if who.roles & roles]
    return render(request, "home.html", {"tiles": tiles, "mine": mine, "cap": WORK_COUNT_CAP,
                                         "notice": notice_for(notice)}, session=session)
