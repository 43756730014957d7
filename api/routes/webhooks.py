"""Webhooks: an agency's HTTP endpoints told when its documents are received, returned,
assigned, due soon, overdue or recalled; deliveries are signed with HMAC-SHA256."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import ContainerDep, IfMatch, pick_version
from api.routing import ThreadedRoute
from docmgmt.bootstrap import webhook_targets
from docmgmt.domain.webhook import WebhookNotFoundError
from docmgmt.webhooks import WebhookQueries, WebhookService
from docmgmt.webhooks.service import authorise

router = APIRouter(tags=["webhooks"], route_class=ThreadedRoute)

SIGNATURE_HELP = (
    "Each delivery is a POST with the JSON payload and the headers X-Docmgmt-Event (the "
    "kind), X-Docmgmt-Delivery (its id, the same on every retry), X-Docmgmt-Timestamp (Unix "
    "seconds) and X-Docmgmt-Signature: sha256=<hex HMAC-SHA256 keyed with the secret's 32 "
    "bytes (bytes.fromhex(secret)) over timestamp + '.' + body>. Answer 2xx within 5 "
    "seconds; anything else is retried with exponential backoff, then given up."
)


class WebhookIn(BaseModel):
    """A new webhook subscription."""

    url: str = Field(examples=["https://hooks.example.gov.vn/docmgmt"])
    kinds: list[str] = Field(
        examples=[["received", "returned", "assigned", "due_soon", "overdue", "recalled"]])


class WebhookChangeIn(BaseModel):
    """New URL and/or kinds of a subscription (the secret stays)."""

    url: str | None = None
    kinds: list[str] | None = None
    expected_version: int | None = None


class CancelIn(BaseModel):
    """Why a subscription is cancelled (optional)."""

    reason: str = ""


class WebhookCreated(BaseModel):
    """The new subscription and its signing secret, shown this once only."""

    id: UUID
    version: int
    agency_id: UUID
    url: str
    kinds: list[str]
    secret: str = Field(description="64 hex digits; store it now, it is never shown again")
    signature: str = SIGNATURE_HELP


class WebhookChanged(BaseModel):
    """The id and version of the subscription a command changed."""

    id: UUID
    version: int


class WebhookOut(BaseModel):
    """A subscription as listed (never with its secret)."""

    id: UUID
    agency_id: UUID
    url: str
    kinds: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int


class DeliveryOut(BaseModel):
    """One notification to one endpoint and how its delivery went."""

    id: UUID
    subscription_id: UUID
    kind: str
    event_id: UUID
    document_id: UUID | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None = Field(description=(
        "Why the last attempt failed, as a category: HTTP <status>, connection_refused, "
        "connection_failed, timeout, tls, dns_failure or address_refused"))
    delivered_at: datetime | None
    created_at: datetime


def _service(c: ContainerDep) -> WebhookService:
    return WebhookService(c.write.app, targets=webhook_targets(c.settings))


def _settle(c: ContainerDep, position: int | None) -> None:
    # Read-your-writes for the listing: wait (bounded) for the webhooks projection.
    c.wait_for_webhooks(position)


@router.post("/agencies/{agency_id}/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(agency_id: UUID, body: WebhookIn, who: CurrentUser,
                   c: ContainerDep) -> WebhookCreated:
    """Đăng ký webhook / Subscribe an http(s) endpoint of the agency to notifications
    (admin). Kinds: received, returned, assigned, due_soon, overdue, recalled. The response
    carries the signing secret once; it is never shown again. A URL leading to a loopback,
    private, link-local, multicast, shared or reserved address is refused (422
    webhook_target_<reason>) unless the operator's allow-list names it; every delivery
    checks the address again."""
    service = _service(c)
    new = service.subscribe(who, agency_id, body.url, body.kinds)
    _settle(c, new.result.position)
    return WebhookCreated(id=new.result.id, version=new.result.version, agency_id=agency_id,
                          url=new.subscription.url, kinds=list(new.subscription.kinds),
                          secret=new.secret)


@router.get("/agencies/{agency_id}/webhooks")
async def list_webhooks(agency_id: UUID, who: CurrentUser, c: ContainerDep,
                        include_cancelled: bool = False) -> list[WebhookOut]:
    """Danh sách webhook / The agency's webhook subscriptions, without secrets (admin)."""
    authorise(who, agency_id)
    rows = await WebhookQueries(c.pool).list_subscriptions(agency_id, include_cancelled)
    return [WebhookOut(**r) for r in rows]


@router.patch("/agencies/{agency_id}/webhooks/{webhook_id}")
def change_webhook(agency_id: UUID, webhook_id: UUID, body: WebhookChangeIn,
                   who: CurrentUser, c: ContainerDep, if_match: IfMatch) -> WebhookChanged:
    """Sửa webhook / Change a subscription's URL or kinds; the secret stays (admin)."""
    service = _service(c)
    version = pick_version(if_match, body.expected_version)
    result = service.change(who, agency_id, webhook_id, body.url, body.kinds, version)
    _settle(c, result.position)
    return WebhookChanged(id=result.id, version=result.version)


@router.delete("/agencies/{agency_id}/webhooks/{webhook_id}")
def cancel_webhook(agency_id: UUID, webhook_id: UUID, who: CurrentUser, c: ContainerDep,
                   body: CancelIn | None = None) -> WebhookChanged:
    """Hủy webhook / Cancel a subscription: pending deliveries stop and its secret is
    erased (admin)."""
    service = _service(c)
    result = service.cancel(who, agency_id, webhook_id, body.reason if body else "")
    _settle(c, result.position)
    return WebhookChanged(id=result.id, version=result.version)


@router.get("/agencies/{agency_id}/webhooks/{webhook_id}/deliveries")
async def list_deliveries(
    agency_id: UUID, webhook_id: UUID, who: CurrentUser, c: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    delivery_status: Annotated[
        Literal["pending", "delivered", "dead", "cancelled"] | None,
        Query(alias="status")] = None,
) -> list[DeliveryOut]:
    """Lịch sử gửi webhook / A subscription's recent deliveries, newest first, with their
    status, attempts, last HTTP status or error and next retry (admin)."""
    authorise(who, agency_id)
    queries = WebhookQueries(c.pool)
    if await queries.get_subscription(agency_id, webhook_id) is None:
        raise WebhookNotFoundError(f"webhook {webhook_id} not found for this agency",
                                   id=str(webhook_id))
    rows: list[dict[str, Any]] = await queries.list_deliveries(webhook_id, limit,
                                                               delivery_status)
    return [DeliveryOut(**r) for r in rows]
