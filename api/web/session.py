"""Sign-in for the pages: a session cookie carrying the API's own signed token, and CSRF.

The cookie holds the same token the API issues (signed, with the account's session
generation), so a password, role or status change ends a page session exactly as it ends a
bearer token. It is HttpOnly, SameSite=Lax and, behind TLS, Secure. Every form carries a CSRF
token derived from the session (an HMAC under the server's secret), checked on every POST;
the sign-in form, which has no session yet, uses a random double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import authenticate
from api.web.i18n import LANGUAGES, pick_language, speaking
from docmgmt.kernel.principal import Principal
from docmgmt.oversight.access import oversight_roots
from docmgmt.settings import Settings

SESSION_COOKIE = "docmgmt_session"
LOGIN_CSRF_COOKIE = "docmgmt_login_csrf"
LANGUAGE_COOKIE = "docmgmt_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LANGUAGE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie


class LoginRequired(Exception):  # noqa: N818 - a signal, not a failure
    """The page needs a signed-in user; the handler sends the browser to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):  # noqa: N818 - named for what the reader is told
    """A form came without this session's CSRF token."""


def _secret(settings: Settings) -> bytes:
    if settings.jwt_secret is None:  # build_write_side always resolves one
        raise RuntimeError("no secret: settings must pass through with_jwt_secret")
    return settings.jwt_secret.get_secret_value().encode()


def csrf_for(settings: Settings, session_token: str) -> str:
    """The CSRF token of a page session (the same for the session's whole life)."""
    mac = hmac.new(_secret(settings), b"csrf\x00" + session_token.encode(), hashlib.sha256)
    return mac.hexdigest()


def over_tls(request: Request) -> bool:
    """Whether the browser reached us over TLS (directly or through a trusted proxy)."""
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str, ttl: int) -> None:
    """Start a page session with the API token ``token``."""
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, path="/", httponly=True,
                        samesite="lax", secure=over_tls(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/app")


def end_session(response: Response, request: Request) -> None:
    """Forget the page session in this browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=over_tls(request))


def login_csrf(request: Request) -> str:
    """The sign-in form's double-submit token (kept in this browser's cookie, else new)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def set_login_csrf(response: Response, request: Request, token: str) -> None:
    """Keep the sign-in form's token in a cookie (for the sign-in and language forms)."""
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/app",
                        httponly=True, samesite="strict", secure=over_tls(request))


def check_login_csrf(request: Request, submitted: str) -> None:
    """Refuse a sign-in whose form token does not match its cookie."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(expected, submitted):
        raise CsrfRefused


def check_any_csrf(request: Request, submitted: str) -> None:
    """A form that works signed in or not: the session's token, else the sign-in one."""
    token = request.cookies.get(SESSION_COOKIE)
    settings: Settings = request.app.state.container.settings
    if token and hmac.compare_digest(csrf_for(settings, token), submitted):
        return
    check_login_csrf(request, submitted)


def language_of(request: Request) -> str:
    """The reader's language (remembered in a cookie)."""
    return pick_language(request.cookies.get(LANGUAGE_COOKIE))


def remember_language(response: Response, request: Request, language: str) -> None:
    """Remember the reader's choice of language in this browser."""
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=LANGUAGE_MAX_AGE, path="/",
                            httponly=True, samesite="lax", secure=over_tls(request))


def safe_next(target: str | None) -> str:
    """A same-site path to go on to after sign-in (never another site)."""
    if not target or not target.startswith("/app") or target.startswith("//"):
        return "/app/"
    return target


def login_redirect_path(request: Request) -> str:
    """The sign-in page, asked to come back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/app/login?next=" + quote(safe_next(here), safe="/")


@dataclass(frozen=True)
class PageSession:
    """The signed-in reader of a page: who, in which language, and the form token."""

    principal: Principal
    language: str
    csrf: str
    token: str
    overseer: bool = False  # holds an oversight mandate in force (the menu offers it)


async def page_session(request: Request) -> PageSession:
    """The page's signed-in user; sends the browser to sign in otherwise.

    On a POST, also checks the CSRF token (form field or, for scripted requests, header).
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired(login_redirect_path(request))
    try:
        principal = await authenticate(request, token)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRequired(login_redirect_path(request)) from None
        raise
    settings: Settings = request.app.state.container.settings
    csrf = csrf_for(settings, token)
    if request.method not in ("GET", "HEAD"):
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else ""
        if not hmac.compare_digest(csrf, submitted):
            raise CsrfRefused
    container = request.app.state.container
    overseer = bool(await oversight_roots(container.pool, principal.user_id,
                                          datetime.now(UTC)))
    return PageSession(principal, language_of(request), csrf, token, overseer)


Session = Annotated[PageSession, Depends(page_session)]


class ReadersLanguage:
    """ASGI middleware: a page request speaks its reader's language from start to end.

    A handler words a step's refusal or a notice (``_()``) before the template renders, so
    the language must be chosen for the whole request, not only for the rendering.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/app"):
            await self.app(scope, receive, send)
            return
        with speaking(language_of(Request(scope))):
            await self.app(scope, receive, send)
