"""Pure ASGI middleware: the security headers that every answer carries."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# JSON and files need nothing from a browser: no scripts, styles, frames or forms.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# Only over TLS: on plain HTTP a browser ignores it, and a proxy that terminates TLS tells
# uvicorn so through X-Forwarded-Proto, which uvicorn trusts only from --forwarded-allow-ips
# and turns into the scope's scheme.
HSTS = "max-age=31536000; includeSubDomains"

DEFAULTS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("content-security-policy", STRICT_CSP),
    ("referrer-policy", "no-referrer"),
    # Documents, files, tokens and every authenticated answer: nothing is worth caching.
    ("cache-control", "no-store"),
    ("cross-origin-resource-policy", "same-origin"),
)


_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def csp_for_page(page: str) -> str:
    """The strict CSP, letting through only the page's own <style> blocks, by their hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
        for css in _STYLE_BLOCK.findall(page)
    )
    return STRICT_CSP + (f"; style-src {hashes}" if hashes else "")


class SecurityHeaders:
    """Adds the security headers to every HTTP answer; a route may set a looser CSP itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on and stamp the headers on the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        over_tls = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULTS:
                    headers.setdefault(name, value)
                if over_tls:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, with_headers)
