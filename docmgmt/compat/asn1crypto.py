"""``x509.Name.hashable`` remembered by the name's DER bytes (written for asn1crypto 1.5.1).

pyhanko-certvalidator files and finds certificates under this key and asks for it a few
hundred times per validation for the same handful of names; asn1crypto recomputes it (LDAP
string preparation of every attribute) each time. The same bytes always give the same key.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import x509 as asn1_x509

from docmgmt.compat.versions import require

DISTRIBUTION = "asn1crypto"
WRITTEN_FOR = "1.5.1"
ORIGINAL_NAME_HASHABLE: Any = asn1_x509.Name.hashable
_HASHABLES: dict[bytes, str] = {}
_HASHABLES_MAX = 4096


def name_hashable(self: Any) -> str:
    """asn1crypto's ``Name.hashable``, remembered by the name's DER bytes."""
    key = self.dump()
    found = _HASHABLES.get(key)
    if found is None:
        found = str(ORIGINAL_NAME_HASHABLE.fget(self))
        if len(_HASHABLES) < _HASHABLES_MAX:  # a bounded memo, not a leak
            _HASHABLES[key] = found
    return found


NAME_HASHABLE = property(name_hashable)


def check_version() -> None:
    """Refuse unless asn1crypto is the version this replacement was written for."""
    require(DISTRIBUTION, WRITTEN_FOR)


def install() -> None:
    """Make ``Name.hashable`` the remembering property (idempotent)."""
    check_version()
    asn1_x509.Name.hashable = NAME_HASHABLE
