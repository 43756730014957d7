"""The catalogs are whole: every string the pages show has its Vietnamese, and the two
languages' files agree on which msgids exist."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from api.web.catalogs import missing, used_messages
from api.web.i18n import LOCALE_DIR, catalog


def _ids(language: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as f:
            found[path.name] = {m.id if isinstance(m.id, str) else m.id[0]
                                for m in read_po(f) if m.id}
    return found


def test_every_message_the_pages_show_is_in_vietnamese() -> None:
    gaps = missing("vi")
    assert not gaps, "untranslated (python -m api.web.catalogs):\n" + "\n".join(
        f"{key!r} at {where[0]}" for key, where in gaps.items())


def test_both_languages_have_the_same_files_and_msgids() -> None:
    vi, en = _ids("vi"), _ids("en")
    assert vi.keys() == en.keys()
    for name in vi:
        assert vi[name] == en[name], name


def test_no_catalog_entry_is_left_over() -> None:
    used = {key if isinstance(key, str) else key[0] for key in used_messages()}
    stale = set().union(*_ids("vi").values()) - used
    assert not stale, f"msgids no page uses any more: {sorted(stale)}"


def test_catalogs_load_and_translate() -> None:
    assert catalog("vi").gettext("Sign in") == "Đăng nhập"
    assert catalog("en").gettext("Sign in") == "Sign in"
    assert catalog("vi").gettext("a message nobody wrote") == "a message nobody wrote"
    assert Path(LOCALE_DIR).is_dir()
