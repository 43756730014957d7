"""Rendering a page: the Jinja2 templates, translated, with the pages' security policy."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.oidc import provider_of
from api.web import i18n
from api.web.i18n import N_, _, ngettext, speaking
from api.web.session import CSRF_FIELD, PageSession, language_of
from docmgmt.domain.common import Role
from docmgmt.incoming import handling

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
VENDOR = Path(__file__).parent / "node_modules"

# Scripts and styles from this server only, no inline code of any kind, no frames, no
# plug-ins; images from here or data: URLs (the dashboard's charts are inline SVG).
# The one other address a page may reach is the leader's local signing agent.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'{agent}; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def agent_source(agent_url: str) -> str:
    """The CSP source (`` scheme://host:port``) of the signing agent, or none if the setting
    is not a plain http(s) address."""
    parts = urlsplit(agent_url)
    if parts.scheme in ("http", "https") and parts.netloc and \
            not set(parts.netloc) & set(" ;,'\""):
        return f" {parts.scheme}://{parts.netloc}"
    return ""

# Who may search the agency's documents (the API's /search allows the same roles, each
# within what they may read).
SEARCHERS = frozenset(handling.READERS)

# Third-party front-end files the pages load, from node_modules (installed by ./dev from
# package-lock.json), by the name they are served under.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}


@cache
def asset_version(path: Path) -> str:
    """A short digest of a served file, so that its URL changes when it does."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of one of the pages' own files (cache-busted)."""
    return f"/app/static/{name}?v={asset_version(STATIC / name)}"


def vendor_url(name: str) -> str:
    """The URL of a third-party file from node_modules (cache-busted)."""
    return f"/app/vendor/{name}?v={asset_version(VENDOR / VENDOR_FILES[name])}"


@cache
def environment() -> Environment:
    """The templates' environment (built once)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(i18n.jinja_globals())
    env.globals.update(static_url=static_url, vendor_url=vendor_url, CSRF_FIELD=CSRF_FIELD,
                       Role=Role)
    env.filters["day"] = i18n.format_day
    env.filters["moment"] = i18n.format_moment
    env.filters["common_name"] = common_name
    return env


def common_name(subject: str) -> str:
    """A certificate subject's CN (a person's or agency's name), else the whole subject."""
    for part in subject.split(","):
        key, _sep, value = part.strip().partition("=")
        if key.upper() in ("CN", "COMMONNAME") and value:
            return value
    return subject


def navigation(session: PageSession | None) -> list[tuple[str, str]]:
    """The menu: (path, label msgid) for what the reader's roles may open."""
    if session is None:
        return []
    roles = session.principal.roles
    items: list[tuple[str, str]] = [("/app/", N_("Home"))]
    if roles & {Role.OFFICIAL, Role.LEADER, Role.CLERK}:
        items.append(("/app/documents", N_("Outgoing")))
        items.append(("/app/incoming", N_("Incoming")))
    if roles & {Role.LEADER, Role.CLERK}:
        items.append(("/app/dashboard", N_("Dashboard")))
    if Role.LEADER in roles:
        items.append(("/app/certificates", N_("My certificates")))
    if Role.CLERK in roles:
        items.append(("/app/registers", N_("Registers")))
    if Role.AUDITOR in roles:
        items.append(("/app/audit", N_("Audit")))
    if session.overseer:
        items.append(("/app/oversight", N_("Oversight")))
    if Role.ADMIN in roles:
        items.append(("/app/admin", N_("Administration")))
    return items


def page_csp(request: Request) -> str:
    """The pages' CSP: the script may reach the signing agent; with single sign-on, the
    sign-out form may end at the provider."""
    csp = PAGE_CSP.format(agent=agent_source(_agent_url(request)))
    provider = provider_of(request)
    if provider is None:
        return csp
    origins = " ".join(sorted(provider.cached_origins()))
    return csp.replace("form-action 'self'", f"form-action 'self' {origins}")


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           session: PageSession | None = None, status_code: int = 200) -> HTMLResponse:
    """A page in the reader's language, with the pages' CSP."""
    language = session.language if session else language_of(request)
    values = {
        "request": request, "session": session, "lang": language,
        "user": session.principal if session else None,
        "csrf_token": session.csrf if session else (context or {}).get("login_token", ""),
        "notice": "",
        "nav": navigation(session), "path": request.url.path,
        "can_search": bool(session and session.principal.roles & SEARCHERS),
    } | (context or {})
    with speaking(language):
        html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["content-security-policy"] = page_csp(request)
    response.headers["content-language"] = language
    return response


def _agent_url(request: Request) -> str:
    container = getattr(request.app.state, "container", None)
    return str(getattr(getattr(container, "settings", None), "agent_url", ""))
