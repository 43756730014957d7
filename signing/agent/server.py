"""The agent's HTTP server on 127.0.0.1: the JSON API for one docmgmt origin, the confirm page.

The standard library's ThreadingHTTPServer serves it: the agent ships to leaders' PCs, answers
a handful of requests per signature, and needs exact control of every header (Origin, Host,
CORS, CSP) more than a framework's conveniences.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any
from urllib.parse import parse_qs, urlsplit

from signing.agent import page
from signing.agent.jobs import Item, Job, JobStatus, JobStore, TooManyJobsError
from signing.agent.token import Token, TokenAbsentError, TokenError

log = logging.getLogger("docmgmt.agent")

HOST = "127.0.0.1"
DEFAULT_PORT = 47300
MAX_JSON_BYTES = 256 * 1024
MAX_FORM_BYTES = 4 * 1024
MAX_ITEMS = 200
MAX_TEXT = 500
MAX_PIN = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_JOB_PATH = re.compile(r"^/v1/sign/([A-Za-z0-9_-]{1,64})$")
_CONFIRM_PATH = re.compile(r"^/confirm/([A-Za-z0-9_-]{1,64})$")


class RequestRefusedError(Exception):
    """A request answered with a 4xx JSON error ``{"error": code, "detail": ...}``."""

    def __init__(self, status: HTTPStatus, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def normalise_origin(value: str) -> str:
    """The origin as a browser sends it (``https://host[:port]``); ValueError if not one."""
    parts = urlsplit(value.strip())
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ValueError(f"not an origin (scheme://host[:port]): {value!r}")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _version() -> str:
    try:
        return metadata.version("docmgmt")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class AgentConfig:
    """What one agent serves: the one docmgmt origin it obeys and the token it signs with."""

    origin: str
    token: Token
    jobs: JobStore = field(default_factory=JobStore)


class AgentServer(ThreadingHTTPServer):
    """The agent bound to 127.0.0.1 (port 0 picks a free one, as the tests do)."""

    daemon_threads = True

    def __init__(self, config: AgentConfig, port: int = DEFAULT_PORT) -> None:
        self.config = config
        super().__init__((HOST, port), _Handler)

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self.server_address[1])

    @property
    def own_origins(self) -> tuple[str, str]:
        """The agent's own origins (its confirm page), by address and by name."""
        return f"http://{HOST}:{self.port}", f"http://localhost:{self.port}"


def _text(value: Any, name: str, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value) or len(value) > MAX_TEXT:
        raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request",
                                  f"{name} must be a string of 1 to {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request",
                                  f"{name} must not contain control characters")
    return value


def parse_sign_request(body: Any) -> tuple[str, list[Item]]:
    """The certificate id and the items of a ``POST /v1/sign`` body (422 if malformed)."""
    if not isinstance(body, dict):
        raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request",
                                  "the body must be a JSON object")
    certificate_id = _text(body.get("certificate_id"), "certificate_id")
    raw = body.get("items")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ITEMS:
        raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request",
                                  f"items must be a list of 1 to {MAX_ITEMS} objects")
    items: list[Item] = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request",
                                      f"items[{n}] must be an object")
        try:
            digest = base64.b64decode(_text(entry.get("digest"), f"items[{n}].digest"),
                                      validate=True)
        except binascii.Error:
            digest = b""
        if len(digest) != 32:
            raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_digest",
                                      f"items[{n}].digest must be a SHA-256 digest in base64")
        items.append(Item(id=_text(entry.get("id"), f"items[{n}].id"), digest=digest,
                          label=_text(entry.get("label"), f"items[{n}].label")))
    if len({i.id for i in items}) != len(items):
        raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request",
                                  "item ids must be unique")
    return certificate_id, items


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    server_version = "docmgmt-agent"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        # The request line and status only: bodies (the PIN) are never logged.
        log.info("%s %s", self.address_string(), format % args)

    # --- the checks every request passes ---------------------------------------------------

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        return host in (f"{HOST}:{self.server.port}", f"localhost:{self.server.port}")

    def _origin(self) -> str | None:
        return self.headers.get("Origin")

    def _api_origin_ok(self) -> bool:
        return self._origin() == self.server.config.origin

    # --- answers -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: dict[str, Any], *, cors: bool = True) -> None:
        headers = ({"Access-Control-Allow-Origin": self.server.config.origin, "Vary": "Origin"}
                   if cors else {"Vary": "Origin"})
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _error(self, status: int, code: str, detail: str, *, cors: bool = True) -> None:
        self._json(status, {"error": code, "detail": detail}, cors=cors)

    def _html(self, status: int, text: str) -> None:
        # same-origin, not no-referrer: under no-referrer a browser posts the confirm form
        # with "Origin: null", which _confirm refuses (seen in tests/browser/test_signing.py).
        self._send(status, text.encode(), "text/html; charset=utf-8", {
            "Content-Security-Policy": page.CSP, "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin"})

    # --- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            if not self._host_ok():
                # DNS rebinding: a page served under another name that resolves to us.
                self._error(403, "host_refused", "the Host header must be 127.0.0.1 or "
                            "localhost with the agent's port", cors=False)
                return
            path = urlsplit(self.path).path
            if path.startswith("/v1/"):
                self._api(path)
            else:
                self._own_page(path)
        except RequestRefusedError as exc:
            self._error(exc.status, exc.code, exc.detail,
                        cors=self.path.startswith("/v1/") and self._api_origin_ok())
        except Exception:
            log.exception("the agent failed on %s %s", self.command, urlsplit(self.path).path)
            self._error(500, "internal_error", "the agent failed; see its log", cors=False)

    def _body(self, limit: int) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise RequestRefusedError(HTTPStatus.LENGTH_REQUIRED, "length_required",
                                      "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise RequestRefusedError(HTTPStatus.LENGTH_REQUIRED, "length_required",
                                      "send the body with a Content-Length") from None
        if length < 0 or length > limit:
            raise RequestRefusedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large",
                                      f"the body is limited to {limit} bytes")
        return self.rfile.read(length)

    # --- the JSON API, for the configured docmgmt origin only --------------------------------

    def _api(self, path: str) -> None:
        if not self._api_origin_ok():
            self._error(403, "origin_refused", "this agent serves one docmgmt site only",
                        cors=False)
            return
        job_match = _JOB_PATH.match(path)
        allowed = {"/v1/status": "GET", "/v1/certificates": "GET", "/v1/sign": "POST"}.get(
            path, "GET" if job_match else None)
        if allowed is None:
            self._error(404, "not_found", "no such address")
            return
        if self.command == "OPTIONS":
            self._preflight(allowed)
            return
        if self.command != allowed:
            self._error(405, "method_not_allowed", f"use {allowed}")
            return
        config = self.server.config
        if path == "/v1/status":
            self._json(200, {"version": _version(), "token_label": config.token.label,
                             "token_present": config.token.present()})
        elif path == "/v1/certificates":
            try:
                found = config.token.certificates()
            except TokenAbsentError as exc:
                self._error(503, exc.code, "the token is not plugged in")
                return
            self._json(200, {"certificates": [c.as_json() for c in found]})
        elif path == "/v1/sign":
            self._new_job()
        elif job_match:
            job = config.jobs.get(job_match.group(1))
            if job is None:
                self._error(404, "job_not_found", "no such signing job (or it was forgotten)")
                return
            self._json(200, job.as_json())

    def _preflight(self, allowed: str) -> None:
        method = self.headers.get("Access-Control-Request-Method", "")
        if method != allowed:
            self._error(405, "method_not_allowed", f"use {allowed}", cors=False)
            return
        self.send_response(204)
        for name, value in {
            "Access-Control-Allow-Origin": self.server.config.origin,
            "Access-Control-Allow-Methods": allowed,
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Allow-Private-Network": "true",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
            "Content-Length": "0",
        }.items():
            self.send_header(name, value)
        self.end_headers()

    def _new_job(self) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RequestRefusedError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                                      "send the body as application/json")
        try:
            body = json.loads(self._body(MAX_JSON_BYTES).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RequestRefusedError(HTTPStatus.BAD_REQUEST, "invalid_json",
                                      "the body is not valid JSON") from None
        certificate_id, items = parse_sign_request(body)
        config = self.server.config
        try:
            known = {c.id for c in config.token.certificates()}
        except TokenError as exc:
            raise RequestRefusedError(HTTPStatus.SERVICE_UNAVAILABLE, exc.code,
                                      "the token cannot be read") from None
        if certificate_id not in known:
            raise RequestRefusedError(HTTPStatus.UNPROCESSABLE_ENTITY, "certificate_not_found",
                                      "no certificate with that id on the token")
        try:
            job = config.jobs.create(config.origin, certificate_id, items)
        except TooManyJobsError as exc:
            raise RequestRefusedError(HTTPStatus.TOO_MANY_REQUESTS, "too_many_jobs",
                                      str(exc)) from None
        self._json(202, {"job_id": job.id,
                         "confirm_url": f"{self.server.own_origins[0]}/confirm/{job.id}"})

    # --- the agent's own pages (navigated to directly; no docmgmt origin involved) ----------

    def _own_page(self, path: str) -> None:
        if path == "/static/confirm.css" and self.command == "GET":
            self._send(200, page.STYLESHEET.read_bytes(), "text/css; charset=utf-8")
            return
        match = _CONFIRM_PATH.match(path)
        if match is None:
            self._error(404, "not_found", "no such address", cors=False)
            return
        if self.command == "GET":
            language = page.language_of(
                parse_qs(urlsplit(self.path).query).get("lang", [""])[0])
            job = self.server.config.jobs.get(match.group(1))
            self._html(200 if job else 404, self._render(language, job))
        elif self.command == "POST":
            self._confirm(match.group(1))
        else:
            self._error(405, "method_not_allowed", "use GET or POST", cors=False)

    def _render(self, language: str, job: Job | None, error: str | None = None) -> str:
        label = ""
        if job is not None:
            try:
                label = next((c.certificate.subject.human_friendly
                              for c in self.server.config.token.certificates()
                              if c.id == job.certificate_id), "")
            except TokenError:
                label = ""
        return page.render(language, job, certificate=label, error=error)

    def _confirm(self, job_id: str) -> None:
        origin = self._origin()
        if origin is not None and origin not in self.server.own_origins:
            # Only the confirm page itself posts this form: never the docmgmt page.
            self._error(403, "origin_refused", "the confirm form comes from the agent's page",
                        cors=False)
            return
        try:
            form = parse_qs(self._body(MAX_FORM_BYTES).decode("utf-8", "replace"),
                            max_num_fields=8)
        except ValueError:
            raise RequestRefusedError(HTTPStatus.BAD_REQUEST, "invalid_form",
                                      "the confirm form has too many fields") from None
        language = page.language_of(form.get("lang", [""])[0])
        jobs = self.server.config.jobs
        job = jobs.get(job_id)
        if job is None:
            self._html(404, self._render(language, None))
            return
        if not job.csrf_matches(form.get("csrf", [""])[0]):
            self._html(403, self._render(language, job, "csrf"))
            return
        action = form.get("action", [""])[0]
        if action == "refuse":
            jobs.refuse(job)
        elif action == "sign":
            pin = form.get("pin", [""])[0]
            if not pin or len(pin) > MAX_PIN:
                self._html(422, self._render(language, job, "pin_missing"))
                return
            jobs.sign(job, self.server.config.token, pin)
        else:
            raise RequestRefusedError(HTTPStatus.BAD_REQUEST, "invalid_action",
                                      "the action is sign or refuse")
        retry = job.status is JobStatus.PENDING and job.last_error is not None
        self._html(422 if retry else 200, self._render(language, job))


def serve(origin: str, module: str, token_label: str, port: int = DEFAULT_PORT,
          job_minutes: float = 5.0) -> AgentServer:
    """The agent ready to ``serve_forever`` (bound to 127.0.0.1:port)."""
    config = AgentConfig(origin=normalise_origin(origin), token=Token(module, token_label),
                         jobs=JobStore(lifetime=timedelta(minutes=job_minutes)))
    return AgentServer(config, port)
