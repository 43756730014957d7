"""Signing in and out (password or single sign-on), and the choice of language."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Form, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import issue_token
from api.deps import ContainerDep, IdentityDep
from api.oidc import (
    Flow,
    OidcProvider,
    OidcUnavailableError,
    SsoCancelledError,
    SsoStateMismatchError,
    provider_of,
)
from api.routing import ThreadedRoute
from api.web.forms import FORM, FormErrors, errors_from, message_for, see_other
from api.web.i18n import LANGUAGES, N_, _
from api.web.render import render
from api.web.session import (
    CSRF_FIELD,
    Session,
    check_any_csrf,
    check_login_csrf,
    end_session,
    login_csrf,
    over_tls,
    remember_language,
    safe_next,
    set_login_csrf,
    set_session,
)
from docmgmt.bootstrap import Container
from docmgmt.identity.login import (
    InvalidCredentialsError,
    LocalPasswordsOffError,
    TooManyAttemptsError,
    log_in,
    log_in_federated,
    log_out,
)

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)
FILL_IN = N_("Fill in this field.")
SSO_FLOW_COOKIE = "docmgmt_sso_flow"
SSO_ID_COOKIE = "docmgmt_sso_id"
SSO_FLOW_SECONDS = 600
SSO_FLOW_AUDIENCE = "docmgmt-sso-flow"  # never accepted as a session, nor a session as this
CALLBACK = "/app/login/sso/callback"


def _login_page(request: Request, next_path: str, username: str = "",
                errors: FormErrors | None = None) -> Response:
    token = login_csrf(request)
    errors = errors or FormErrors()
    settings = request.app.state.container.settings
    response = render(request, "login.html", {
        "next": next_path, "username": username, "errors": errors, "login_token": token,
        "sso": settings.oidc_issuer is not None, "passwords": settings.local_passwords},
        status_code=errors.status if errors else 200)
    set_login_csrf(response, request, token)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/app/") -> Response:
    """Đăng nhập / The sign-in page."""
    return _login_page(request, safe_next(next))


@router.post("/login")
def login(
    request: Request, c: ContainerDep, ctx: IdentityDep,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/app/",
    login_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Sign in with user name and password; the session is a cookie."""
    next_path = safe_next(next)
    check_login_csrf(request, login_token)
    if not username.strip() or not password:
        field = "username" if not username.strip() else "password"
        return _login_page(request, next_path, username,
                           FormErrors({field: _(FILL_IN)}, status=422))
    c.ping_database()
    address = request.client.host if request.client else ""
    try:
        user, generation = log_in(ctx, username, password, address)
    except (InvalidCredentialsError, TooManyAttemptsError, LocalPasswordsOffError) as exc:
        # Passwords turned off: the form is not shown, so the message goes above it.
        field = FORM if isinstance(exc, LocalPasswordsOffError) else "password"
        response = _login_page(request, next_path, username, errors_from(exc, default=field))
        if isinstance(exc, TooManyAttemptsError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token, ttl = issue_token(c.settings, user, generation)
    response = see_other(next_path)
    set_session(response, request, token, ttl)
    return response


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _sso(request: Request) -> OidcProvider:
    provider = provider_of(request)
    if provider is None:
        raise HTTPException(404, "single sign-on is not configured")
    return provider


def _flow_secret(c: Container) -> str:
    secret = c.settings.jwt_secret
    if secret is None:  # build_write_side always resolves one
        raise RuntimeError("no secret: settings must pass through with_jwt_secret")
    return secret.get_secret_value()


def _refused(request: Request, next_path: str, exc: Exception) -> Response:
    """The sign-in page again, saying why single sign-on did not sign the reader in."""
    code = str(getattr(exc, "code", "sso_failed"))
    status = 503 if isinstance(exc, OidcUnavailableError) else 401
    response = _login_page(request, next_path, errors=FormErrors(
        {FORM: message_for(code)}, str(getattr(exc, "detail", "")), status))
    response.delete_cookie(SSO_FLOW_COOKIE, path="/app/login/sso")
    return response


@router.get("/login/sso")
def sso_start(request: Request, c: ContainerDep, next: str = "/app/") -> Response:
    """Đăng nhập một lần / Go to the single sign-on provider to sign in."""
    provider = _sso(request)
    next_path = safe_next(next)
    try:
        flow = provider.start(_base(request) + CALLBACK)
    except OidcUnavailableError as exc:
        return _refused(request, next_path, exc)
    # The flow's secrets wait in this browser, signed so that nobody can forge them; state
    # ties the provider's answer to this browser, nonce ties the ID token to this sign-in.
    now = datetime.now(UTC)
    kept = jwt.encode({"aud": SSO_FLOW_AUDIENCE, "exp": now + timedelta(
        seconds=SSO_FLOW_SECONDS), "state": flow.state, "nonce": flow.nonce,
        "verifier": flow.code_verifier, "next": next_path}, _flow_secret(c), algorithm="HS256")
    response = see_other(flow.url)
    # Lax: the provider sends the browser back with a top-level GET, which carries it.
    response.set_cookie(SSO_FLOW_COOKIE, kept, max_age=SSO_FLOW_SECONDS,
                        path="/app/login/sso", httponly=True, samesite="lax",
                        secure=over_tls(request))
    return response


def _kept_flow(request: Request, c: Container) -> tuple[Flow, str] | None:
    kept = request.cookies.get(SSO_FLOW_COOKIE)
    if not kept:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(kept, _flow_secret(c), algorithms=["HS256"],
                                            audience=SSO_FLOW_AUDIENCE)
        return Flow(str(claims["state"]), str(claims["nonce"]), str(claims["verifier"]),
                    ""), safe_next(str(claims["next"]))
    except (jwt.PyJWTError, KeyError):
        return None


@router.get("/login/sso/callback")
def sso_callback(request: Request, c: ContainerDep, ctx: IdentityDep, code: str = "",
                 state: str = "", error: str = "") -> Response:
    """Đăng nhập một lần / The provider sends the browser back here after sign-in."""
    provider = _sso(request)
    kept = _kept_flow(request, c)
    next_path = kept[1] if kept else "/app/"
    if error:
        return _refused(request, next_path, SsoCancelledError(
            f"the provider refused the sign-in: {error[:100]}"))
    if kept is None or not state or not hmac.compare_digest(kept[0].state, state):
        return _refused(request, next_path, SsoStateMismatchError(
            "the sign-in expired or was not started in this browser"))
    try:
        claims, id_token = provider.finish(kept[0], _base(request) + CALLBACK, code)
        c.ping_database()
        address = request.client.host if request.client else ""
        user, generation = log_in_federated(ctx, provider.username(claims), address)
    except (InvalidCredentialsError, OidcUnavailableError) as exc:
        return _refused(request, next_path, exc)
    token, ttl = issue_token(c.settings, user, generation)
    response = see_other(next_path)
    set_session(response, request, token, ttl)
    response.delete_cookie(SSO_FLOW_COOKIE, path="/app/login/sso")
    # Kept for the provider's logout (id_token_hint); sent to the sign-out address only.
    response.set_cookie(SSO_ID_COOKIE, id_token, max_age=ttl, path="/app/logout",
                        httponly=True, samesite="lax", secure=over_tls(request))
    return response


@router.post("/logout")
async def logout(request: Request, session: Session, ctx: IdentityDep) -> Response:
    """Đăng xuất / Sign out: ends the account's sessions on the server (the cookie is dead
    even if kept), then at the single sign-on provider when the reader came through it."""
    await run_in_threadpool(log_out, ctx, session.principal.user_id)
    target = "/app/login"
    provider = provider_of(request)
    id_token = request.cookies.get(SSO_ID_COOKIE)
    if provider is not None and id_token:
        url = await run_in_threadpool(provider.logout_url, id_token, _base(request) + target)
        target = url or target
    response = see_other(target)
    end_session(response, request)
    response.delete_cookie(SSO_ID_COOKIE, path="/app/logout", httponly=True,
                           samesite="lax", secure=over_tls(request))
    return response


@router.post("/language")
async def choose_language(
    request: Request, language: Annotated[str, Form()] = "vi",
    next: Annotated[str, Form()] = "/app/",
    token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Ngôn ngữ / Switch the pages' language; remembered in this browser (signed in or
    not: the sign-in page has the switch too)."""
    check_any_csrf(request, token)
    response = see_other(safe_next(next) if language in LANGUAGES else "/app/")
    remember_language(response, request, language)
    return response
