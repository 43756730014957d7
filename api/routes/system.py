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


HEALTH_DEADLINE = 2.5
"""Seconds /health waits for the database and the object store: it answers within 3 s."""


async def _probe(check: Any) -> str:
    task = asyncio.ensure_future(check)
    done, _ = await asyncio.wait({task}, timeout=HEALTH_DEADLINE)
    if not done:
        # Not awaited: a frozen database may not even acknowledge the cancellation.
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return f"unavailable: no answer within {HEALTH_DEADLINE} s"
    exc = task.exception()
    return "ok" if exc is None else f"unavailable: {type(exc).__name__}"


@router.get("/health", tags=["system"])
async def health(c: ContainerDep) -> JSONResponse:
    """Kiểm tra hệ thống / System health: the database, the object store and every
    projection answer (503 naming the part that does not, within 3 s)."""
    database, store = await asyncio.gather(
        _probe(c.queries.ping()),
        _probe(asyncio.to_thread(c.blobs.check)),  # type: ignore[attr-defined]
    )
    checks: dict[str, Any] = {"database": database, "object_store": store}
    workers = {"read_model": c.supervisor, "ledger": c.ledger, "dispatch": c.dispatch,
               "webhooks": c.webhooks, "exchange": c.exchange}
    states = {name: _worker_state(worker) for name, worker in workers.items()
              if worker is not None}
    healthy = all(v == "ok" for v in (*checks.values(), *states.values()))
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", **checks}
    if "read_model" in states:
        body["read_model"] = states.pop("read_model")
    if c.supervisor is not None:
        body["read_model_restarts"] = c.supervisor.restarts
    body.update(states)
    failures = [w.failure.as_json() for w in workers.values()
                if w is not None and w.failure is not None]
    if failures:
        body["failures"] = failures
    return JSONResponse(body, status_code=200 if healthy else 503)


def _worker_state(worker: Any) -> str:
    if worker.failure is not None:
        return f"failed at event {worker.failure.position}: {worker.failure.error}"
    return "ok" if worker.running else f"restarting: {worker.last_error or 'stopped'}"


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
