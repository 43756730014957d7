"""A browser-less client for the pages: signs in through the form, sends forms with their
CSRF token, and reads what a page shows."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

CSRF_FIELD = "csrf_token"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def text_of(html: str) -> str:
    """What a reader sees of a page: its text, spaces folded."""
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


class Pages:
    """An httpx client that behaves like a browser on the pages (cookies, forms)."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a page (redirects are not followed: tests look at them)."""
        return self.http.get(path, **kwargs)

    def sign_in(self, username: str, password: str) -> httpx.Response:
        """Sign in through the form; returns the answer to the POST."""
        page = self.http.get("/app/login")
        r = self.http.post("/app/login", data={
            "username": username, "password": password, "next": "/app/",
            CSRF_FIELD: csrf_token(page.text)})
        if r.status_code == 303:
            self.token = csrf_token(self.http.get("/app/").text)
        return r

    def post(self, path: str, data: dict[str, Any] | None = None,
             files: dict[str, Any] | None = None, token: str | None = None) -> httpx.Response:
        """Send a form as the page would, with the session's CSRF token."""
        fields = dict(data or {})
        fields.setdefault(CSRF_FIELD, self.token if token is None else token)
        return self.http.post(path, data=fields, files=files)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
