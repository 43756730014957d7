"""Oversight (giám sát): mandates that let a city's or a department's leaders oversee an
agency and every agency below it (granted by an admin), and the figures they see."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import ContainerDep, StoreDep
from api.routes.incoming import vn_json
from api.routing import ThreadedRoute
from api.schemas import Created
from docmgmt.kernel.cursor import decode_optional_cursor, encode_cursor
from docmgmt.kernel.store import CommandResult
from docmgmt.oversight.mandate_list import MAX_PAGE, list_oversight_mandates
from docmgmt.oversight.mandates import grant_oversight_mandate, revoke_oversight_mandate

router = APIRouter(prefix="/oversight", tags=["oversight"], route_class=ThreadedRoute)


class OversightMandateIn(BaseModel):
    """An oversight mandate: whose, over which agency, its term (from now, open-ended by
    default), and its legal basis."""

    user_id: UUID
    agency_id: UUID
    valid_from: datetime | None = Field(default=None, examples=["2026-01-01T00:00:00+07:00"])
    valid_to: datetime | None = None
    legal_basis: str = Field(examples=["Quyết định số 15/QĐ-UBND phân công giám sát"])


class OversightRevocationIn(BaseModel):
    """Why an oversight mandate is withdrawn."""

    reason: str


def _done(c: ContainerDep, result: CommandResult) -> Created:
    # Read-your-writes: the listing shows the change as soon as the answer arrives.
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


@router.post("/mandates", status_code=status.HTTP_201_CREATED)
def grant_mandate(body: OversightMandateIn, who: CurrentUser, c: ContainerDep,
                  store: StoreDep) -> Created:
    """Giao quyền giám sát / Give an active user oversight of an agency and every agency
    below it for a term (admin). A revoked or expired mandate is granted again with the new
    terms; one still current (or starting later) is refused (409)."""
    return _done(c, grant_oversight_mandate(
        store, who, body.user_id, body.agency_id, valid_from=body.valid_from,
        valid_to=body.valid_to, legal_basis=body.legal_basis))


@router.post("/mandates/{user_id}/{agency_id}/revoke")
def revoke_mandate(user_id: UUID, agency_id: UUID, body: OversightRevocationIn,
                   who: CurrentUser, c: ContainerDep, store: StoreDep) -> Created:
    """Thu hồi quyền giám sát / Withdraw a user's oversight of an agency (admin); it takes
    effect at once."""
    return _done(c, revoke_oversight_mandate(store, who, user_id, agency_id, body.reason))


@router.get("/mandates")
async def list_mandates(
    who: CurrentUser, c: ContainerDep, user_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50, cursor: str | None = None,
) -> dict[str, Any]:
    """Quyền giám sát / Oversight mandates, newest grant first, each with whether it is in
    force now: an admin sees every one (or one user's), anyone else their own."""
    items, after = await list_oversight_mandates(
        c.pool, who, datetime.now(UTC), user_id=user_id, limit=limit,
        cursor=decode_optional_cursor(cursor))
    return {"items": vn_json([asdict(i) for i in items]), "next_cursor": encode_cursor(after)}
