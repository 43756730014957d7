"""Diacritics-insensitive Vietnamese text folding for search ("quyet dinh" finds "Quyết định").

Standard library only. The same ``fold`` must be applied to the stored search column
(``search_key``) and to the query, so both sides compare in one form:

* Unicode NFKD, then every combining mark dropped: tones and vowel marks go
  ("Quyết" → "Quyet"), and compatibility forms (full-width digits, ligatures) become
  plain characters, which NFD alone would keep;
* đ/Đ → d (Đ is a letter with a stroke, not a letter plus a combining mark, so NFD
  leaves it alone); the look-alike African D (Ɖ/ɖ), sometimes typed for Đ, too;
* ``casefold`` (lower case, also for non-Vietnamese letters), and whitespace collapsed.

Matching (``matches``): a text matches when every query token is a prefix of some text
token (order-free, so "dinh quyet" and "quyet d" both find "Quyết định"), or when the
whole folded query is a substring of the folded text (so a typed code fragment such as
"tb-ub" still finds "12/TB-UBND"). An empty query matches everything: no filter.
"""

from __future__ import annotations

import re
import unicodedata

_LETTER_MAP = str.maketrans({"đ": "d", "Đ": "D", "ɖ": "d", "Ɖ": "D"})
_TOKEN = re.compile(r"[^\W_]+")
# fold() never produces a newline, so a query can never match across two fields.
_FIELD_SEPARATOR = "\n"


def fold(text: str) -> str:
    """The search form of ``text``: no diacritics, đ → d, case-folded, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTER_MAP))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def tokens(text: str) -> list[str]:
    """The folded words and numbers of ``text``; punctuation separates ("12/TB-UBND")."""
    return _TOKEN.findall(fold(text))


def matches(query: str, text: str) -> bool:
    """Whether ``text`` answers ``query``, ignoring diacritics and case (see module doc)."""
    wanted = tokens(query)
    if not wanted:
        return True
    # Folded line by line so that a search_key keeps its field boundaries (fold is idempotent).
    folded_text = _FIELD_SEPARATOR.join(fold(line) for line in text.split(_FIELD_SEPARATOR))
    if fold(query) in folded_text:
        return True
    have = _TOKEN.findall(folded_text)
    return all(any(word.startswith(part) for word in have) for part in wanted)


def search_key(*fields: str | None) -> str:
    """One folded search column from several fields (number, code, summary, parties)."""
    return _FIELD_SEPARATOR.join(fold(f) for f in fields if f and f.strip())
