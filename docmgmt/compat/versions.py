"""The version check every override sits behind."""

from __future__ import annotations

from importlib import metadata


class LibraryVersionError(RuntimeError):
    """An override was written for another version of the library than the one installed."""


def require(distribution: str, written_for: str) -> None:
    """Refuse unless ``distribution`` is installed at exactly ``written_for``."""
    installed = metadata.version(distribution)
    if installed != written_for:
        raise LibraryVersionError(
            f"docmgmt.compat overrides internals of {distribution} {written_for}, but "
            f"{distribution} {installed} is installed: re-check each override in "
            f"docmgmt/compat against {installed} (and its equivalence test), then update "
            f"the version it was written for")
