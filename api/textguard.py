"""Pure ASGI middleware applying docmgmt.domain.text's rule to every request, once.

It sees the path, the query string, the headers and the body before any route runs, so a
refused request records nothing (not even an auditor's read). JSON and urlencoded bodies
are small and read whole; multipart bodies are parsed as they stream past, so a file
part is never held in memory and a text field is checked before the route gets the end
of the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body, status_for
from docmgmt.domain.errors import InvalidInputError
from docmgmt.domain.text import (
    MAX_BODY_TEXT,
    MAX_HEADER_TEXT,
    MAX_JSON_BYTES,
    MAX_QUERY_TEXT,
    TextTooLongError,
    check_integer,
    check_integer_text,
    check_text,
    max_length,
)
from docmgmt.domain.text import InvalidTextError as InvalidText

# Headers that end up in events (the actor) or are echoed back.
RECORDED_HEADERS = (b"user-agent", b"x-request-id")


class _Refused(BaseException):
    # BaseException: FastAPI's form parsing turns any Exception into a 400.
    def __init__(self, error: InvalidInputError) -> None:
        super().__init__(str(error))
        self.error = error


def check_path(path: str) -> None:
    """Every path segment follows the text rule; numeric ones fit in 64 bits."""
    check_text("path", path, limit=MAX_QUERY_TEXT * 4)
    for segment in path.split("/"):
        check_integer_text("path", segment)


def check_query(query_string: bytes) -> None:
    """Every query parameter name and value follows the rule."""
    if not query_string:
        return
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        field = f"query.{name}"
        check_text("query parameter name", name, limit=MAX_QUERY_TEXT)
        check_text(field, value, limit=max_length(name, MAX_QUERY_TEXT))
        check_integer_text(field, value)


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Header values follow the rule (as latin-1, as HTTP defines them)."""
    for name, raw in headers:
        field = f"header.{name.decode('latin-1')}"
        limit = max_length(field, MAX_HEADER_TEXT) if name in RECORDED_HEADERS else 16_384
        check_text(field, raw.decode("latin-1"), limit=limit, header=True)


def check_json(value: Any, field: str = "body") -> None:
    """Every key and string in a JSON document follows the rule; integers fit 64 bits."""
    if isinstance(value, str):
        check_text(field, value, limit=max_length(field, MAX_BODY_TEXT))
    elif isinstance(value, bool | float) or value is None:
        return
    elif isinstance(value, int):
        check_integer(field, value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, f"{field}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(f"{field} key", key, limit=MAX_QUERY_TEXT)
            check_json(item, f"{field}.{key}")


def check_urlencoded(body: bytes) -> None:
    """Every field of a urlencoded form follows the rule."""
    for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        check_text("body field name", name, limit=MAX_QUERY_TEXT)
        check_text(f"body.{name}", value, limit=max_length(name, MAX_BODY_TEXT))


def _decoded(raw: bytes, field: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidText(f"{field} is not valid UTF-8", field=field) from None


class MultipartFields:
    """Checks a multipart body's text fields (and file names) as its chunks arrive."""

    def __init__(self, boundary: bytes) -> None:
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: str | None = None  # the text field being read, None for a file
        self._data = bytearray()
        self.error: Exception | None = None
        callbacks: dict[str, Callable[..., None]] = {
            "on_part_begin": self._begin, "on_part_data": self._part_data,
            "on_part_end": self._end, "on_header_field": self._header_field,
            "on_header_value": self._header_value_data, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }
        self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def feed(self, chunk: bytes) -> None:
        """Parse one chunk; raises the first broken field's error."""
        if self.error is None and chunk:
            try:
                self._parser.write(chunk)
            except InvalidInputError:
                raise
            except Exception as exc:
                # A malformed body is the form parser's to refuse, with its own answer.
                self.error = exc

    def _begin(self) -> None:
        self._disposition, self._field, self._data = b"", None, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = _decoded(options.get(b"name", b""), "a form field name")
        check_text("form field name", name, limit=MAX_QUERY_TEXT)
        if b"filename" in options:
            field = f"body.{name}.filename"
            check_text(field, _decoded(options[b"filename"], field), limit=MAX_QUERY_TEXT)
            self._field = None
        else:
            self._field = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is None:
            return
        self._data += data[start:end]
        limit = max_length(self._field, MAX_BODY_TEXT)
        # Four bytes per character at most: stop holding a field far past its limit.
        if len(self._data) > 4 * limit:
            raise TextTooLongError(f"body.{self._field} is longer than {limit} characters",
                                   field=f"body.{self._field}")

    def _end(self) -> None:
        if self._field is not None:
            field = f"body.{self._field}"
            check_text(field, _decoded(bytes(self._data), field),
                       limit=max_length(self._field, MAX_BODY_TEXT))
        self._field = None


# Pages (under this prefix) show a refused field next to it in the form they re-render, so
# a broken form body is recorded in the request's state for the page instead of answered.
PAGES_PREFIX = "/app/"
PAGE_REFUSAL = "text_refused"


class TextGuard:
    """ASGI middleware: refuses a request whose text breaks the rule with a JSON 422.

    ``page_refusal`` answers a page's refused path, query or headers (HTML, not JSON).
    """

    def __init__(self, app: ASGIApp,
                 page_refusal: Callable[[Scope, Send, InvalidInputError], Any] | None = None,
                 ) -> None:
        self.app = app
        self.page_refusal = page_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request head, then the body as the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        page = self.page_refusal is not None and scope.get("path", "").startswith(PAGES_PREFIX)
        try:
            check_path(scope.get("path", ""))
            check_query(scope.get("query_string", b""))
            check_headers(headers)
        except InvalidInputError as exc:
            if page and self.page_refusal is not None:
                await self.page_refusal(scope, send, exc)
            else:
                await _refuse(send, exc)
            return
        try:
            receive = await self._checked_body(dict(headers), receive,
                                               scope if page else None)
        except InvalidInputError as exc:
            await _refuse(send, exc)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except _Refused as refused:
            if started:
                raise
            await _refuse(send, refused.error)

    async def _checked_body(self, headers: dict[bytes, bytes], receive: Receive,
                            page: Scope | None) -> Receive:
        kind, options = parse_options_header(headers.get(b"content-type", b""))
        kind = kind.lower()
        if page is not None and kind == b"application/x-www-form-urlencoded":
            body = await _read_all(receive, MAX_JSON_BYTES)
            try:
                check_urlencoded(body)
            except InvalidInputError as exc:
                page.setdefault("state", {})[PAGE_REFUSAL] = exc
            return _replay(body, receive)
        if page is not None and kind == b"multipart/form-data" and options.get(b"boundary"):
            fields = MultipartFields(options[b"boundary"])

            async def recording_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request" and PAGE_REFUSAL not in page.get(
                        "state", {}):
                    try:
                        fields.feed(message.get("body", b""))
                    except InvalidInputError as exc:
                        page.setdefault("state", {})[PAGE_REFUSAL] = exc
                return message

            return recording_receive
        if kind == b"application/json" or kind.endswith(b"+json"):
            body = await _read_all(receive, MAX_JSON_BYTES)
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                document = None  # malformed JSON is FastAPI's to refuse
            check_json(document)
            return _replay(body, receive)
        if kind == b"application/x-www-form-urlencoded":
            body = await _read_all(receive, MAX_JSON_BYTES)
            check_urlencoded(body)
            return _replay(body, receive)
        if kind == b"multipart/form-data" and options.get(b"boundary"):
            fields = MultipartFields(options[b"boundary"])

            async def checking_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    try:
                        fields.feed(message.get("body", b""))
                    except InvalidInputError as exc:
                        raise _Refused(exc) from None
                return message

            return checking_receive
        return receive


async def _read_all(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TextTooLongError(f"the request body is longer than {limit} bytes",
                                   field="body")
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # Later calls wait for the client to go away, as the server's own would.
        return await then()

    return receive


async def _refuse(send: Send, error: InvalidInputError) -> None:
    body = json.dumps(error_body(error.code, str(error)),
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status_for(error),
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
