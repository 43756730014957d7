"""The pages' languages: gettext catalogs (Vietnamese first, English), dates at +07:00.

Every string a person reads is an English msgid translated through the catalogs under
``locale/<lang>/LC_MESSAGES/*.po``; each area of the pages keeps its own .po file, and the
files of a language are merged (a msgid translated two ways is refused at load).
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from markupsafe import Markup

from docmgmt.domain.calendar import VIETNAM_TZ

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("vi", "en")  # the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


class Catalog(gettext.NullTranslations):
    """One language's messages, merged from its .po files."""

    def __init__(self, language: str, messages: dict[str, str],
                 plurals: dict[str, tuple[str, ...]]) -> None:
        super().__init__()
        self.language = language
        self._messages = messages
        self._plurals = plurals

    def gettext(self, message: str) -> str:
        """The translation of ``message``, or the message itself."""
        return self._messages.get(message) or message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        """The plural form for ``n`` (Vietnamese has one form)."""
        forms = self._plurals.get(msgid1)
        if forms:
            return forms[0] if len(forms) == 1 or n == 1 else forms[1]
        return msgid1 if n == 1 else msgid2


@cache
def catalog(language: str) -> Catalog:
    """The merged catalog of ``language`` (read once per process)."""
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for path in sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as f:
            po = read_po(f, locale=language)
        for m in po:
            if not m.id or m.fuzzy:
                continue
            if isinstance(m.id, tuple | list):
                forms = tuple(str(s) for s in (m.string or ()) if s)
                if forms:
                    plurals[str(m.id[0])] = forms
                continue
            text = m.string if isinstance(m.string, str) else ""
            if not text:
                continue
            if messages.get(m.id, text) != text:
                raise ValueError(f"{path.name}: {m.id!r} is translated two ways")
            messages[m.id] = text
    return Catalog(language, messages, plurals)


_current: ContextVar[Catalog | None] = ContextVar("docmgmt_web_catalog", default=None)


@contextmanager
def speaking(language: str) -> Iterator[Catalog]:
    """Translate into ``language`` for the duration of the block (one page's rendering)."""
    chosen = catalog(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def current() -> Catalog:
    """The catalog of the page being rendered (the default language outside one)."""
    return _current.get() or catalog(DEFAULT_LANGUAGE)


def _(message: str) -> str:
    """Translate ``message`` into the current page's language."""
    return current().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a count."""
    return current().ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark only"
    """Mark ``message`` for the catalogs; it is translated where it is shown."""
    return message


def pick_language(cookie: str | None) -> str:
    """The reader's language: the remembered choice, else Vietnamese.

    The browser's Accept-Language is deliberately not followed: officials share machines
    set up in English, and the agency's language is Vietnamese unless a person chooses.
    """
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


def _local(moment: datetime) -> datetime:
    return moment.astimezone(VIETNAM_TZ) if moment.tzinfo else moment.replace(tzinfo=VIETNAM_TZ)


def format_day(value: date | datetime | None) -> str:
    """A date as the reader writes it: 03/12/2026 in Vietnamese, 3 Dec 2026 in English."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    language = current().language
    return format_date(value, "dd/MM/yyyy" if language == "vi" else "d MMM yyyy",
                       locale=language)


def format_moment(value: datetime | None) -> str:
    """A moment in Vietnam time (+07:00): 16:05 03/12/2026, or 3 Dec 2026 16:05."""
    if value is None:
        return ""
    language = current().language
    pattern = "HH:mm dd/MM/yyyy" if language == "vi" else "d MMM yyyy HH:mm"
    return format_datetime(_local(value), pattern, tzinfo=VIETNAM_TZ, locale=language)


def iso_moment(value: datetime | None) -> str:
    """The moment for a <time datetime> attribute, at +07:00."""
    return "" if value is None else _local(value).isoformat(timespec="seconds")


def jinja_globals() -> dict[str, Any]:
    """What the templates call: translation and formatting."""
    return {"format_day": format_day, "format_moment": format_moment,
            "iso_moment": iso_moment, "LANGUAGE_NAMES": LANGUAGE_NAMES,
            "Markup": Markup}
