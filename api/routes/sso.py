"""Single sign-on for API clients: a token from the provider exchanged for a docmgmt token.

An exchange (RFC 8693), not the provider's token on every request: a token the provider
issued to another of its clients is refused (its audience is not docmgmt), docmgmt's own
token carries the session generation (signing out, a disabled account or a role change end
it at once, which a provider's token outliving them could not), and each request then costs
what a password-issued token costs, with no key set to hold or refresh on the request path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import issue_token
from api.deps import ContainerDep, IdentityDep
from api.errors import error_body
from api.oidc import OidcUnavailableError, provider_of
from api.routing import ThreadedRoute
from docmgmt.identity.login import log_in_federated

router = APIRouter(tags=["auth"], route_class=ThreadedRoute)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a name
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - a type name
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a type name
JWT = "urn:ietf:params:oauth:token-type:jwt"
DOCMGMT_TOKEN = ACCESS_TOKEN


class ExchangedToken(BaseModel):
    """A docmgmt bearer token, given for the provider's token (RFC 8693's answer)."""

    access_token: str
    issued_token_type: str = DOCMGMT_TOKEN
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


@router.post("/auth/oidc/token", response_model=ExchangedToken, responses={
    401: {"description": "The provider's token is refused (signature, issuer, audience, "
                         "expiry, the matching claim) or matches no active account; the "
                         "body's error and detail say which"},
    404: {"description": "Single sign-on is not configured"},
    503: {"description": "The single sign-on provider cannot be reached"}})
async def exchange(
    request: Request, c: ContainerDep, ctx: IdentityDep,
    grant_type: Annotated[str, Form(pattern=f"^{TOKEN_EXCHANGE}$")],
    subject_token: Annotated[str, Form(min_length=1, max_length=16_384)],
    subject_token_type: Annotated[str, Form(pattern=f"^({ID_TOKEN}|{ACCESS_TOKEN}|{JWT})$")]
    = ID_TOKEN,
) -> ExchangedToken | JSONResponse:
    """Đăng nhập một lần / Exchange an ID token (or a JWT access token) that the single
    sign-on provider issued to docmgmt's client for a docmgmt bearer token (RFC 8693 token
    exchange). The account is the one the configured claim names; roles stay docmgmt's."""
    provider = provider_of(request)
    if provider is None:
        raise HTTPException(404, "single sign-on is not configured")
    try:
        claims = await run_in_threadpool(provider.check, subject_token)
        username = provider.username(claims)
    except OidcUnavailableError as exc:
        return JSONResponse(error_body(exc.code, exc.detail), status_code=503,
                            headers={"Retry-After": "30"})
    await run_in_threadpool(c.ping_database)
    address = request.client.host if request.client else ""
    user, generation = await run_in_threadpool(log_in_federated, ctx, username, address)
    token, ttl = issue_token(c.settings, user, generation)
    return ExchangedToken(access_token=token, expires_in=ttl)
