"""The agent's confirm page: what is being signed, for which site, and the PIN field.

Strings are English msgids translated through ``locale/<lang>/LC_MESSAGES/agent.po``
(Vietnamese first), read with Babel when first needed as the web pages' catalogs are.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, select_autoescape

from signing.agent.jobs import Job

HERE = Path(__file__).parent
LANGUAGES = ("vi", "en")  # the first is the default
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
STYLESHEET = HERE / "static" / "confirm.css"


@cache
def messages(language: str) -> dict[str, str]:
    """The translated messages of one language (read once per process)."""
    with (HERE / "locale" / language / "LC_MESSAGES" / "agent.po").open("rb") as f:
        po = read_po(f, locale=language)
    return {str(m.id): str(m.string) for m in po
            if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
            and not m.fuzzy}


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def language_of(value: str | None) -> str:
    """The page's language: the one asked for if known, else Vietnamese."""
    return value if value in LANGUAGES else LANGUAGES[0]


def render(language: str, job: Job | None, *, certificate: str = "", error: str | None = None
           ) -> str:
    """The confirm page of ``job`` (or the page saying it is unknown) in ``language``."""
    table = messages(language)

    def translate(message: str) -> str:
        return table.get(message, message)

    return _environment().get_template("confirm.html").render(
        _=translate, lang=language, job=job, certificate=certificate,
        error=error or (job.last_error if job else None))
