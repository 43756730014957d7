"""Signing in and out, and the choice of language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from api.auth import issue_token
from api.deps import ContainerDep, IdentityDep
from api.web.forms import FormErrors, errors_from, see_other
from api.web.i18n import LANGUAGES, N_, _
from api.web.render import render
from api.web.session import (
    CSRF_FIELD,
    Session,
    check_any_csrf,
    check_login_csrf,
    end_session,
    login_csrf,
    remember_language,
    safe_next,
    set_login_csrf,
    set_session,
)
from docmgmt.identity.login import InvalidCredentialsError, TooManyAttemptsError, log_in

router = APIRouter(prefix="/app", include_in_schema=False)
FILL_IN = N_("Fill in this field.")


def _login_page(request: Request, next_path: str, username: str = "",
                errors: FormErrors | None = None) -> Response:
    token = login_csrf(request)
    errors = errors or FormErrors()
    response = render(request, "login.html", {
        "next": next_path, "username": username, "errors": errors, "login_token": token},
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
    except (InvalidCredentialsError, TooManyAttemptsError) as exc:
        response = _login_page(request, next_path, username,
                               errors_from(exc, default="password"))
        if isinstance(exc, TooManyAttemptsError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token, ttl = issue_token(c.settings, user, generation)
    response = see_other(next_path)
    set_session(response, request, token, ttl)
    return response


@router.post("/logout")
async def logout(request: Request, session: Session) -> Response:
    """Đăng xuất / Sign out of this browser."""
    response = see_other("/app/login")
    end_session(response, request)
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
