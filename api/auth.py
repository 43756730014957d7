"""Authentication: OAuth2 password flow issuing signed JWTs; each request re-checks the user."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from docmgmt.domain.user import User
from docmgmt.kernel.principal import Principal
from docmgmt.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
ALGORITHM = "HS256"


def _key(settings: Settings) -> str:
    if settings.jwt_secret is None:  # build_write_side always resolves one
        raise RuntimeError("no JWT secret: settings must pass through with_jwt_secret")
    return settings.jwt_secret.get_secret_value()


def issue_token(settings: Settings, user: User, generation: int) -> tuple[str, int]:
    """A signed access token for the user and its lifetime in seconds; ``generation`` is
    the account's session generation at login (a later change of it ends the token)."""
    now = datetime.now(UTC)
    ttl = settings.jwt_ttl_minutes * 60
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "name": user.username,
        "agency": str(user.agency_id),
        "iss": settings.jwt_issuer,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": uuid.uuid4().hex,
        "sgen": generation,
    }
    token = jwt.encode(claims, _key(settings), algorithm=ALGORITHM)
    return token, ttl


@lru_cache(maxsize=4096)
def _verified(token: str, key: str, issuer: str) -> tuple[UUID, object, float, float, float]:
    """The token's user, session generation and time claims, once its signature and
    claims check out (a refused token raises and is not kept)."""
    claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=issuer,
                        options={"require": ["exp", "sub", "iss", "sgen"]})
    return (UUID(claims["sub"]), claims["sgen"], float(claims["exp"]),
            float(claims.get("nbf", 0)), float(claims.get("iat", 0)))


def _claims(token: str, settings: Settings) -> tuple[UUID, object]:
    """The user id and session generation of a valid, current token.

    The signature is checked once per token (cached); the times are checked on every use,
    as jwt.decode does, so a token ends at its ``exp`` whether cached or not.
    """
    user_id, generation, exp, nbf, iat = _verified(token, _key(settings), settings.jwt_issuer)
    now = time.time()
    if exp <= now or nbf > now or iat > now:
        raise jwt.ExpiredSignatureError("the token is expired or not yet valid")
    return user_id, generation


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The authenticated, active user behind the request's bearer token."""
    if not token:
        raise _unauthorized("a bearer token is required; log in at /auth/token")
    return await authenticate(request, token)


async def authenticate(request: Request, token: str) -> Principal:
    """The active user a token (bearer or page session cookie) stands for; 401 otherwise."""
    container = request.app.state.container
    settings: Settings = container.settings
    try:
        user_id, generation = _claims(token, settings)
    except (jwt.PyJWTError, ValueError, KeyError):
        raise _unauthorized("the token is invalid or expired") from None
    # Read from the database on every request (one query for the user and the session
    # generation), so that every API process ends the token as soon as the password,
    # roles or status change is answered.
    user, current = await container.queries.get_user_and_session(user_id)
    if user is None or not user.active:
        raise _unauthorized("the account does not exist or is disabled")
    if type(generation) is not int or current is None or generation != current:
        raise _unauthorized("the session has ended (password, roles or status changed); "
                            "log in again")
    return Principal(
        user_id=user.id,
        username=user.username,
        agency_id=user.agency_id,
        unit_id=user.unit_id,
        roles=user.roles,
        client_ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
        request_id=request.state.request_id,
        full_name=user.full_name,
    )


CurrentUser = Annotated[Principal, Depends(current_principal)]
