"""The sender's side: dispatch, recall and links, each recipient's state, the outbox."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import ContainerDep, ExchangeReadsDep, IfMatch, StoreDep, pick_version
from api.routes.incoming import MAX_PAGE, READERS, ReasonIn, page_body, unit_scope
from api.routes.outgoing import done
from api.routing import ThreadedRoute
from api.schemas import Created
from docmgmt.domain.common import Role
from docmgmt.domain.outgoing import Relation
from docmgmt.kernel.cursor import decode_optional_cursor
from docmgmt.outgoing import sending

router = APIRouter(tags=["exchange"], route_class=ThreadedRoute)


class DispatchIn(BaseModel):
    """Nơi nhận / Where the sealed document goes."""

    recipients: list[str] = Field(default_factory=list,
                                  description="Codes of agencies in the system",
                                  examples=[["PBN", "PDK"]])
    external: list[str] = Field(default_factory=list,
                                description="Recipients outside the system, by name")
    note: str = ""
    expected_version: int | None = None


class LinkIn(BaseModel):
    """The issued document this draft replaces or corrects."""

    relation: Relation
    target_id: UUID
    expected_version: int | None = None


@router.post("/documents/{document_id}/dispatch")
def dispatch(document_id: UUID, body: DispatchIn, who: CurrentUser, c: ContainerDep,
             store: StoreDep, if_match: IfMatch) -> Created:
    """Phát hành / The clerk issues the sealed document to its recipients (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, sending.dispatch(store, who, document_id, body.recipients, body.external,
                                    body.note, version))


@router.post("/documents/{document_id}/recall")
def recall(document_id: UUID, body: ReasonIn, who: CurrentUser, c: ContainerDep,
           store: StoreDep, if_match: IfMatch) -> Created:
    """Thu hồi / Recall an issued document from every recipient (clerk)."""
    version = pick_version(if_match, body.expected_version)
    return done(c, sending.recall(store, who, document_id, body.reason, version))


@router.post("/documents/{document_id}/links")
def link(document_id: UUID, body: LinkIn, who: CurrentUser, c: ContainerDep,
         store: StoreDep, if_match: IfMatch) -> Created:
    """Thay thế / đính chính: the draft replaces or corrects an issued document."""
    version = pick_version(if_match, body.expected_version)
    return done(c, sending.link(store, who, document_id, body.relation, body.target_id,
                                version))


@router.get("/documents/{document_id}/recipients")
def recipients(document_id: UUID, who: CurrentUser, store: StoreDep,
               response: Response) -> dict[str, Any]:
    """Tình trạng gửi / Each recipient's copy: delivered, registered, returned, recalled;
    ETag carries the document's version."""
    document = sending.sent_document(store, who, document_id)
    response.headers["ETag"] = f'"{document.version}"'
    return {
        "status": document.status.value,
        "recipients": [dict(r) for r in document.recipients.values()],
        "external": list(document.external_recipients),
        "links": list(document.links),
        "recall_reason": document.recall_reason,
        "version": document.version,
    }


@router.get("/outbox")
async def outbox(
    who: CurrentUser, reads: ExchangeReadsDep, unit_id: UUID | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Văn bản đi / Outgoing documents of the agency (or a unit) with each recipient's
    state: delivered, registered, returned, recalled."""
    who.require(Role.OFFICIAL, *READERS)
    page = await reads.outbox(who.agency_id, unit_id=unit_scope(who, unit_id), status=status,
                              limit=limit, cursor=decode_optional_cursor(cursor))
    return page_body(page)
