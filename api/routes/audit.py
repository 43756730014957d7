"""Audit: replay a document as of any moment; auditors read, read-only, the trails of the
agencies they hold an audit mandate for (granted by an admin, routes at the end).

Every auditor read is itself recorded: a document's trail or replay in its access log, a
query across the store as an AuditLog entry, before any result leaves the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import ContainerDep, StoreDep
from api.routing import ThreadedRoute
from api.schemas import Created
from docmgmt.audit.export import to_csv
from docmgmt.audit.mandates import grant_audit_mandate as grant
from docmgmt.audit.mandates import revoke_audit_mandate as revoke
from docmgmt.audit.replay import replay as replay_document
from docmgmt.audit.trails import (
    MAX_LIMIT,
    AuditQueries,
    EventFilter,
    record_query,
    record_trail_read,
)
from docmgmt.domain.common import Role
from docmgmt.domain.errors import PermissionDeniedError
from docmgmt.kernel.store import CommandResult

router = APIRouter(tags=["audit"], route_class=ThreadedRoute)
# Granting mandates is an admin's task: listed with the administration routes.
mandates_router = APIRouter(tags=["administration"], route_class=ThreadedRoute)

Format = Literal["json", "csv"]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most {MAX_LIMIT}")]
Offset = Annotated[int, Query(ge=0)]
TypeFilter = Annotated[str | None, Query(
    alias="type", description="event type, e.g. \"Signed\" or \"AccessLog.Viewed\"")]


class EventPage(BaseModel):
    """One page of events; ``next_offset`` is null on the last page."""

    items: list[dict[str, Any]]
    limit: int
    offset: int
    next_offset: int | None


def _respond(items: list[dict[str, Any]], limit: int, offset: int, fmt: Format,
             name: str) -> Response | EventPage:
    if fmt == "csv":
        return Response(
            content=to_csv(items).encode("utf-8"), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    more = offset + len(items) if len(items) == limit else None
    return EventPage(items=items, limit=limit, offset=offset, next_offset=more)


@router.get("/documents/{document_id}/replay")
def replay(
    document_id: UUID,
    who: CurrentUser,
    store: StoreDep,
    version: Annotated[int | None, Query(ge=1, description="the version to rebuild")] = None,
    at: Annotated[datetime | None, Query(
        description="a moment with its time zone (ISO 8601): the last event at or before it"
    )] = None,
) -> dict[str, Any]:
    """Tái hiện văn bản / The document rebuilt from its events as of a version or a moment
    (give exactly one): status, metadata, the exact PDF revision and signed files then,
    each recipient's state, and every step with who took it, when, from where and what
    they said. An incoming copy (văn bản đến) replays too, for those who may read it.
    Readers of the document's agency, and auditors with a mandate in force for it (whose
    replay of an outgoing document is recorded)."""
    return replay_document(store, who, document_id, version=version, at=at)


@router.get("/audit/documents/{document_id}/trail", response_model=None)
async def document_trail(
    document_id: UUID,
    who: CurrentUser,
    c: ContainerDep,
    store: StoreDep,
    type_: TypeFilter = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    format: Format = "json",
) -> Response | EventPage:
    """Nhật ký văn bản / Every event of a document and of its access log (views and
    downloads), oldest first; auditors with a mandate in force for the document's agency
    only (otherwise not found). The read itself is recorded first."""
    who.require(Role.AUDITOR)
    await run_in_threadpool(record_trail_read, store, who, document_id, "audit:trail")
    f = EventFilter(type=type_, limit=limit, offset=offset)
    items = await AuditQueries(c.pool).document_trail(document_id, f)
    return _respond(items, limit, offset, format, f"trail-{document_id}")


@router.get("/audit/events", response_model=None)
async def find_events(
    who: CurrentUser,
    c: ContainerDep,
    store: StoreDep,
    response: Response,
    agency_id: UUID | None = None,
    user_id: Annotated[UUID | None, Query(description="the acting user")] = None,
    start: Annotated[datetime | None, Query(alias="from", description="inclusive")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="exclusive")] = None,
    type_: TypeFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
    format: Format = "json",
) -> Response | EventPage:
    """Tra cứu sự kiện / Events across the store, oldest first, filtered by agency, acting
    user, period [from, to) and type; views and downloads included; JSON or CSV. Auditors
    only, and only the agencies they hold a mandate in force for (plus their own recorded
    queries); an agency_id outside those mandates is refused (403). Each query is recorded
    in the audit log (its id in the X-Audit-Record header)."""
    who.require(Role.AUDITOR)
    f = EventFilter(agency_id=agency_id, user_id=user_id, start=start, end=end, type=type_,
                    limit=limit, offset=offset)
    items = await AuditQueries(c.pool).find_events(who.user_id, f)
    record = await run_in_threadpool(
        record_query, store, who, "events", f.as_query() | {"format": format}, len(items))
    result = _respond(items, limit, offset, format, "audit-events")
    target = result if isinstance(result, Response) else response
    target.headers["X-Audit-Record"] = str(record)
    return result


def _done(c: ContainerDep, result: CommandResult) -> Created:
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


class MandateIn(BaseModel):
    """An audit mandate: the agency, its term (from now, open-ended by default), and why."""

    agency_id: UUID
    valid_from: datetime | None = Field(default=None, examples=["2026-01-01T00:00:00+07:00"])
    valid_to: datetime | None = None
    legal_basis: str = Field(examples=["Quyết định thanh tra số 12/QĐ-TTr"])


class RevocationIn(BaseModel):
    """Why an audit mandate is withdrawn."""

    reason: str


@mandates_router.post("/users/{user_id}/audit-mandates", status_code=status.HTTP_201_CREATED)
def grant_audit_mandate(
    user_id: UUID, body: MandateIn, who: CurrentUser, c: ContainerDep, store: StoreDep
) -> Created:
    """Giao quyền kiểm tra / Give an auditor authority to read one agency's records for a
    term (admin). The user must be an active auditor (422 otherwise); a revoked or expired
    mandate is granted again with the new terms, one still current is refused (409)."""
    return _done(c, grant(store, who, user_id, body.agency_id, valid_from=body.valid_from,
                          valid_to=body.valid_to, legal_basis=body.legal_basis))


@mandates_router.delete("/users/{user_id}/audit-mandates/{agency_id}")
def revoke_audit_mandate(
    user_id: UUID, agency_id: UUID, body: RevocationIn, who: CurrentUser, c: ContainerDep,
    store: StoreDep,
) -> Created:
    """Thu hồi quyền kiểm tra / Withdraw an auditor's authority to read an agency (admin);
    it takes effect at once."""
    return _done(c, revoke(store, who, user_id, agency_id, body.reason))


@mandates_router.get("/users/{user_id}/audit-mandates")
async def list_audit_mandates(
    user_id: UUID, who: CurrentUser, c: ContainerDep
) -> list[dict[str, Any]]:
    """Phạm vi kiểm tra / The agencies an auditor holds mandates for, their terms and
    whether each is in force now (admins, and the auditor themself)."""
    if Role.ADMIN not in who.roles and who.user_id != user_id:
        raise PermissionDeniedError("only an admin may see another user's audit mandates")
    return await AuditQueries(c.pool).list_mandates(user_id)
