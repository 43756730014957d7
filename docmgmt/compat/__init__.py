"""Every override of a library's internals, installed explicitly by the composition root.

``install()`` checks that each library is at the version its overrides were written for
and refuses to start otherwise; it is idempotent. Nothing here is installed on import, and
importing this package does not import pyHanko (the event-store entry points need not).
"""

from __future__ import annotations

from docmgmt.compat.versions import LibraryVersionError

__all__ = ["LibraryVersionError", "install"]


def install() -> None:
    """Check every library's version, then put every override in place (idempotent)."""
    from docmgmt.compat import asn1crypto, eventsourcing, pyhanko

    libraries = (pyhanko, asn1crypto, eventsourcing)
    for library in libraries:
        library.check_version()
    for library in libraries:
        library.install()
