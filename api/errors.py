"""The one place that knows HTTP status codes for errors; no stack trace reaches a client."""

from __future__ import annotations

import logging

import asyncpg
import psycopg
from eventsourcing.persistence import InterfaceError as ESInterfaceError
from eventsourcing.persistence import OperationalError as ESOperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from docmgmt.domain.errors import (
    ConflictError,
    DocumentWithdrawnError,
    DomainError,
    FileTooLargeError,
    InvalidInputError,
    NotAPdfError,
    NotFoundError,
    PermissionDeniedError,
)
from docmgmt.identity.login import InvalidCredentialsError, TooManyAttemptsError
from signing.errors import (
    KeyBackendError,
    RevocationInfoUnavailableError,
    SigningError,
    TimestampError,
)
from storage import (
    BlobCorruptedError,
    BlobNotFoundError,
    BlobTooLargeError,
    StorageError,
    StorageUnavailableError,
)

log = logging.getLogger("docmgmt.api")

# Most specific first: the first matching class decides the status.
STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (InvalidCredentialsError, 401),
    (TooManyAttemptsError, 429),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (DocumentWithdrawnError, 410),
    (ConflictError, 409),
    (FileTooLargeError, 413),
    (BlobTooLargeError, 413),
    (NotAPdfError, 415),
    (InvalidInputError, 422),
    (KeyBackendError, 503),
    (TimestampError, 503),
    (RevocationInfoUnavailableError, 503),
    (SigningError, 422),
    (StorageUnavailableError, 503),
    (BlobCorruptedError, 500),
    (BlobNotFoundError, 500),
    (StorageError, 500),
    (DomainError, 400),
]

DATABASE_DOWN = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ESOperationalError,
    ESInterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def error_body(code: str, detail: object) -> dict[str, object]:
    """The JSON body of every error response."""
    return {"error": code, "detail": detail}


def status_for(exc: Exception) -> int:
    """HTTP status for a known error class."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


# What a client is told when the server or a service behind it fails. The exception's own
# text may name a server path, a host or a library's words: it goes to the log, never out.
PUBLIC_DETAIL: dict[str, str] = {
    "storage_unavailable": "the file store cannot be reached; try again later",
    "blob_not_found": "a stored file is missing; the operators have been told",
    "blob_corrupted": "a stored file failed its integrity check; the operators have been told",
    "key_unavailable": "the signing key is not available now; try again later",
    "signing_provider_unavailable": "the signing service did not answer; try again later",
    "timestamp_unavailable": "the time-stamping authority did not answer; try again later",
    "revocation_unavailable": (
        "the revocation status of the signer's certificate cannot be obtained; try again later"
    ),
}
SERVER_FAILED = "the server could not complete the request; the operators have been told"


def public_detail(exc: Exception, status: int) -> str:
    """The detail a client may read: the domain's own message below 500, a fixed one above."""
    if status >= 500:
        return PUBLIC_DETAIL.get(str(getattr(exc, "code", "")), SERVER_FAILED)
    if isinstance(exc, DomainError):
        return exc.detail
    return str(exc)


async def _known(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    code = getattr(exc, "code", "error")
    if status >= 500:
        log.error("request %s %s failed: %s: %s", request.method, request.url.path, code, exc)
    elif exc.__cause__ is not None:
        # The library's own words on why, which the client's detail leaves out.
        log.info("request %s %s refused: %s: %s (%s: %s)", request.method, request.url.path,
                 code, exc, type(exc.__cause__).__name__, exc.__cause__)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyAttemptsError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(error_body(code, public_detail(exc, status)), status_code=status,
                        headers=headers)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable during %s %s: %r", request.method, request.url.path, exc)
    return JSONResponse(
        error_body("database_unavailable", "the database is not reachable; try again later"),
        status_code=503, headers={"Retry-After": "5"},
    )


# SQLSTATE classes that mean "the database cannot serve now": connection exceptions,
# insufficient resources, operator intervention, and 55000 (e.g. not accepting connections).
UNAVAILABLE_SQLSTATES = ("08", "53", "57")


async def _asyncpg_error(request: Request, exc: Exception) -> JSONResponse:
    state = str(getattr(exc, "sqlstate", "") or "")
    if state.startswith(UNAVAILABLE_SQLSTATES) or state == "55000":
        return await _database_down(request, exc)
    return await _unexpected(request, exc)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for it
        raise exc
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse(error_body("invalid_request", detail), status_code=422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover - registered for it
        raise exc
    codes = {401: "not_authenticated", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 413: "file_too_large"}
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode: for clients, one more invalid request.
        return JSONResponse(error_body("invalid_request", "the request body cannot be read"),
                            status_code=422)
    code = codes.get(exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":  # Starlette's words for no route
        detail = "nothing is served at this address"
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
    return JSONResponse(error_body(code, detail), status_code=exc.status_code,
                        headers=headers or None)


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette names only the first).

    Asked of the router by trying each method, since included routers nest their routes.
    """
    return [
        method for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
               for route in request.app.router.routes)
    ]


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal_error", "an unexpected error occurred"),
                        status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to a JSON body with a precise status."""
    app.add_exception_handler(DomainError, _known)
    app.add_exception_handler(StorageError, _known)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for cls in DATABASE_DOWN:
        app.add_exception_handler(cls, _database_down)
    app.add_exception_handler(asyncpg.PostgresError, _asyncpg_error)
    app.add_exception_handler(Exception, _unexpected)
