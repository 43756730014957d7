"""Health, login and the caller's own account."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.auth import CurrentUser, issue_token
from api.deps import ContainerDep
from docmgmt.domain.common import Role
from docmgmt.domain.errors import PermissionDeniedError
from docmgmt.sessions import list_failed_logins

router = APIRouter()


class Token(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


@router.get("/health", tags=["system"])
async def health(c: ContainerDep) -> JSONResponse:
    """Kiểm tra hệ thống / System health: the database and the object store answer."""
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(c.queries.ping(), timeout=5)
        checks["database"] = "ok"
    except Exception as exc:  # every failure is a "down" answer, never a crash
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        await asyncio.wait_for(asyncio.to_thread(c.blobs.check), timeout=10)  # type: ignore[attr-defined]
        checks["object_store"] = "ok"
    except Exception as exc:
        checks["object_store"] = f"unavailable: {type(exc).__name__}"
    if c.supervisor is not None:
        checks["read_model"] = "ok" if c.supervisor.running else (
            f"restarting: {c.supervisor.last_error or 'stopped'}")
    healthy = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", **checks}
    if c.supervisor is not None:
        body["read_model_restarts"] = c.supervisor.restarts
    for name, worker in (("ledger", c.ledger), ("dispatch", c.dispatch),
                         ("webhooks", c.webhooks), ("exchange", c.exchange)):
        if worker is not None:
            body[name] = "ok" if worker.running else (
                f"restarting: {worker.last_error or 'stopped'}")
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.post("/auth/token", response_model=Token, tags=["auth"], responses={
    429: {"description": "Too many failed logins for the account or from the address; "
                         "the Retry-After header says how many seconds to wait"}})
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, c: ContainerDep
) -> Token:
    """Đăng nhập / Log in with username and password; returns a bearer token. Too many
    failures for the account or from the address answer 429 with Retry-After."""
    # Fail fast when the database is down rather than wait out the write side's retries.
    c.ping_database()
    address = request.client.host if request.client else ""
    user, generation = c.write.identity.log_in(form.username, form.password, address)
    token, ttl = issue_token(c.settings, user, generation)
    return Token(access_token=token, expires_in=ttl)


@router.get("/auth/failed-logins", tags=["auth"])
async def failed_logins(
    who: CurrentUser, c: ContainerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Đăng nhập thất bại / The most recent failed logins (username as typed, client
    address, time), newest first (admins and auditors). Kept outside the event log,
    bounded in number and age."""
    if not who.roles & {Role.ADMIN, Role.AUDITOR}:
        raise PermissionDeniedError("only admins and auditors may read failed logins")
    return await list_failed_logins(c.pool, limit)


@router.get("/me", tags=["auth"])
async def me(who: CurrentUser, c: ContainerDep) -> dict[str, Any]:
    """Tài khoản của tôi / The logged-in user's account."""
    user = await c.queries.get_user(who.user_id)
    if user is None:  # deleted between authentication and now: treat as logged out
        raise HTTPException(401, "the account does not exist")
    return {
        "id": user.id, "username": user.username, "full_name": user.full_name,
        "title": user.title, "agency_id": user.agency_id, "unit_id": user.unit_id,
        "roles": sorted(r.value for r in user.roles), "version": user.version,
    }
