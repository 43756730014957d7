"""Audit: replay a document as of any moment; auditors read, read-only, the trails of the
agencies they hold an audit mandate for (granted by an admin, see the admin routes).

Every auditor read is itself recorded: a document's trail or replay in its access log, a
query across the store as an AuditLog entry, before any result leaves the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import ContainerDep
from docmgmt.audit import MAX_LIMIT, AuditQueries, AuditService, EventFilter, to_csv

router = APIRouter(tags=["audit"])

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


def _service(c: ContainerDep) -> AuditService:
    return AuditService(c.write.app, c.write.outgoing)


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
    c: ContainerDep,
    version: Annotated[int | None, Query(ge=1, description="the version to rebuild")] = None,
    at: Annotated[datetime | None, Query(
        description="a moment with its time zone (ISO 8601): the last event at or before it"
    )] = None,
) -> dict[str, Any]:
    """Tái hiện văn bản / The document rebuilt from its events as of a version or a moment
    (give exactly one): status, metadata, the exact PDF revision and signed files then.
    Readers of the document's agency, and auditors with a mandate in force for it (whose
    replay is recorded)."""
    return _service(c).replay(who, document_id, version=version, at=at)


@router.get("/audit/documents/{document_id}/trail", response_model=None)
async def document_trail(
    document_id: UUID,
    who: CurrentUser,
    c: ContainerDep,
    type_: TypeFilter = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    format: Format = "json",
) -> Response | EventPage:
    """Nhật ký văn bản / Every event of a document and of its access log (views and
    downloads), oldest first; auditors with a mandate in force for the document's agency
    only (otherwise not found). The read itself is recorded first."""
    service = _service(c)
    service.require_auditor(who)
    await run_in_threadpool(service.record_trail_read, who, document_id, "audit:trail")
    f = EventFilter(type=type_, limit=limit, offset=offset)
    items = await AuditQueries(c.pool).document_trail(document_id, f)
    return _respond(items, limit, offset, format, f"trail-{document_id}")


@router.get("/audit/events", response_model=None)
async def find_events(
    who: CurrentUser,
    c: ContainerDep,
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
    service = _service(c)
    service.require_auditor(who)
    f = EventFilter(agency_id=agency_id, user_id=user_id, start=start, end=end, type=type_,
                    limit=limit, offset=offset)
    items = await AuditQueries(c.pool).find_events(who.user_id, f)
    record = await run_in_threadpool(
        service.record_query, who, "events", f.as_query() | {"format": format}, len(items))
    result = _respond(items, limit, offset, format, "audit-events")
    target = result if isinstance(result, Response) else response
    target.headers["X-Audit-Record"] = str(record)
    return result
