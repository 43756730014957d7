"""Keeping the catalogs whole: which msgids the pages use that a language does not translate.

``python -m api.web.catalogs`` prints the missing Vietnamese entries as .po text, ready to
translate and add to the area's file under ``api/web/locale/vi/LC_MESSAGES/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir

from api.web.i18n import catalog

WEB = Path(__file__).parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                                 "lstrip_blocks": "true"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def used_messages() -> dict[str | tuple[str, str], list[str]]:
    """Every msgid the pages use, with where (file:line)."""
    found: dict[str | tuple[str, str], list[str]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
            WEB, METHODS, keywords=KEYWORDS, options_map=OPTIONS):
        if "node_modules" in filename:
            continue
        key = message if isinstance(message, str) else (message[0], message[1])
        found.setdefault(key, []).append(f"{filename}:{line}")
    return found


def missing(language: str) -> dict[str | tuple[str, str], list[str]]:
    """The msgids used by the pages and not translated into ``language``."""
    known = catalog(language)
    out: dict[str | tuple[str, str], list[str]] = {}
    for key, where in used_messages().items():
        if isinstance(key, tuple):
            if key[0] not in known._plurals:
                out[key] = where
        elif key not in known._messages:
            out[key] = where
    return out


def _po_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main() -> int:
    """Print the Vietnamese entries still to write."""
    gaps = missing("vi")
    for key, where in sorted(gaps.items(), key=lambda kv: kv[1][0]):
        print("#: " + " ".join(where))
        if isinstance(key, tuple):
            print(f"msgid {_po_string(key[0])}\nmsgid_plural {_po_string(key[1])}")
            print('msgstr[0] ""\n')
        else:
            print(f'msgid {_po_string(key)}\nmsgstr ""\n')
    print(f"# {len(gaps)} missing", file=sys.stderr)
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
