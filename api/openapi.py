"""The OpenAPI document: every error answer described once, with the one error schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

ERROR_REF = "#/components/schemas/ErrorBody"

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

DESCRIPTIONS = {
    401: "Not logged in, or the token is invalid, expired or revoked",
    403: "The caller's role or agency does not allow this",
    404: "No such object within the caller's reach",
    409: "The request clashes with the current state or version",
    410: "The document was withdrawn by its sender",
    413: "The request body or file is larger than the limit",
    415: "The file is not of an accepted type",
    422: "The request is invalid: `detail` is a message or a list of the fields at fault",
    429: "Too many attempts; retry after the seconds in Retry-After",
    500: "An unexpected failure; the detail names no cause (the server log does)",
    503: "The database, the file store or a signing service does not answer; retry later",
}


class ValidationIssue(BaseModel):
    """One field at fault in an invalid request."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: a stable machine-readable code and a detail for people."""

    error: str
    detail: str | list[ValidationIssue]


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer, from what it takes and who may call it."""
    statuses = {422, 500, 503}
    if operation.get("security"):
        statuses |= {401, 403, 404}
        if method in WRITE_METHODS:
            statuses.add(409)
    if "{document_id}" in path or "{incoming_id}" in path:
        statuses.add(410)
    body = operation.get("requestBody")
    if body is not None:
        statuses.add(413)
        if "multipart/form-data" in body.get("content", {}):
            statuses.add(415)
    if path == "/auth/token":
        statuses |= {401, 429}
    return sorted(statuses)


# The health check answers 503 with its report (which part is down), not with an error body.
HEALTH_REPORT = {
    "description": "Some part does not answer: the report names it",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}},
        "additionalProperties": True,
    }}},
}


def _error_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {"description": description or DESCRIPTIONS.get(status, "An error"),
            "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with FastAPI's 422 schema replaced by the app's error body."""
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                         description=app.description, routes=app.routes)
    schemas: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            declared = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
            for status in sorted(declared | set(error_statuses(path, method, operation))):
                # A route's own words for a status stay; the body is always the one schema.
                own = responses.get(str(status), {}).get("description")
                responses[str(status)] = _error_response(status, own)
    schema["paths"]["/health"]["get"]["responses"]["503"] = HEALTH_REPORT
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the document built by build_openapi (once, then cached like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
