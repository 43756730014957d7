"""Errors on the pages: an HTML page in the reader's language, never a JSON body or a trace.

The API's handlers stay as they are; for a page address (``/app/...``) each is wrapped so
that the same status comes back as a page. A missing session sends the browser to sign in.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope, Send

from api.errors import DATABASE_DOWN, public_detail, status_for
from api.textguard import PAGES_PREFIX
from api.web.forms import message_for
from api.web.render import render
from api.web.session import CsrfRefused, LoginRequired
from docmgmt.domain.errors import DomainError, InvalidInputError
from storage import StorageError

log = logging.getLogger("docmgmt.web")

Handler = Callable[[Request, Exception], Awaitable[Response]]

HTTP_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found",
              405: "invalid_state", 413: "file_too_large", 422: "invalid_input"}


def is_page(request: Request) -> bool:
    """Whether the request is for a page (not the API)."""
    return request.url.path == "/app" or request.url.path.startswith(PAGES_PREFIX)


def error_page(request: Request, status: int, code: str, detail: str = "") -> Response:
    """The error page for a status and error code."""
    response = render(request, "error.html",
                      {"status": status, "code": code, "message": message_for(code),
                       "detail": detail})
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


async def _page_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequired):
        return RedirectResponse(exc.next_path, status_code=303)
    if isinstance(exc, CsrfRefused):
        return error_page(request, 403, "csrf")
    if isinstance(exc, DomainError | StorageError):
        status = status_for(exc)
        if status >= 500:
            log.error("page %s %s failed: %s: %s", request.method, request.url.path,
                      getattr(exc, "code", ""), exc)
        return error_page(request, status, str(getattr(exc, "code", "domain_error")),
                          public_detail(exc, status))
    if isinstance(exc, RequestValidationError):
        return error_page(request, 422, "invalid_input")
    if isinstance(exc, StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "domain_error")
        return error_page(request, exc.status_code if exc.status_code != 400 else 422, code)
    if isinstance(exc, DATABASE_DOWN):
        log.error("database unavailable during page %s %s: %r", request.method,
                  request.url.path, exc)
        return error_page(request, 503, "database_unavailable")
    log.exception("unexpected error in page %s %s", request.method, request.url.path)
    return error_page(request, 500, "internal_error")


def _for_pages(api_handler: Handler | None) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if is_page(request) or api_handler is None:
            return await _page_error(request, exc)
        return await api_handler(request, exc)

    return handler


def install_page_errors(app: FastAPI) -> None:
    """Answer errors on page addresses with pages; the API's answers stay JSON."""
    handlers: dict[Any, Any] = app.exception_handlers
    for cls in list(handlers):
        handlers[cls] = _for_pages(handlers[cls])
    handlers[LoginRequired] = _for_pages(None)
    handlers[CsrfRefused] = _for_pages(None)


async def text_refusal_page(scope: Scope, send: Send, error: InvalidInputError) -> None:
    """The text guard's answer to a page address whose path, query or headers it refuses."""
    request = Request(scope)
    response = error_page(request, 422, error.code, error.detail)
    await response(scope, _no_receive, send)


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}
