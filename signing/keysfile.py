"""The keys file (``DOCMGMT_KEYS_FILE``) parsed once into frozen, typed configuration.

The file holds no secret itself: PINs and passwords are named by the environment variables
that carry them, read only when a key is opened. Example::

    {
      "trust_roots": ["/etc/docmgmt/roots/rootca-gov.pem"],
      "tsa_url": "http://tsa.example.gov.vn/tsa",
      "fetch_revocation": true,
      "agencies": {"STTTT": {"pades_level": "B-LTA",
                             "seal": {"type": "pkcs11", "module": "/usr/lib/libhsm.so",
                                      "token_label": "STTTT", "key_label": "seal",
                                      "pin_env": "STTTT_SEAL_PIN"},
                             "seal_image": "/etc/docmgmt/seals/STTTT.png",
                             "signing": {"type": "csc", "url": "https://csc.example.vn/csc/v1",
                                         "client_data": "STTTT",
                                         "oauth": {"token_url": "https://csc.example.vn/token",
                                                   "client_id": "docmgmt",
                                                   "client_secret_env": "CSC_SECRET"}}},
                   "UBQ1": {"signing": {"type": "confirm", "url": "https://smartca.example.vn",
                                        "client_id": "docmgmt-ubq1",
                                        "secret_env": "SMARTCA_SECRET"}}},
      "users": {"an.nguyen": {"type": "pkcs12", "path": "/etc/docmgmt/keys/an.p12",
                              "password_env": "AN_P12_PASSWORD",
                              "signature_image": "/etc/docmgmt/sig/an.png"}},
      "system": {"type": "pkcs12", "path": "/etc/docmgmt/keys/ledger.p12",
                 "password_env": "LEDGER_P12_PASSWORD"},
      "signature_request_minutes": 10
    }

Every error names the field it is about (``users.an.nguyen.path``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from signing.errors import KeyBackendError
from signing.pades import PadesLevel


@dataclass(frozen=True)
class Pkcs12KeySpec:
    """A key and its chain in a PKCS#12 file, opened with the password in ``password_env``."""

    path: Path
    password_env: str


@dataclass(frozen=True)
class Pkcs11KeySpec:
    """A key on a PKCS#11 token, logged into with the PIN in ``pin_env``."""

    module: str
    token_label: str
    key_label: str
    pin_env: str
    cert_label: str | None = None


KeySpec = Pkcs12KeySpec | Pkcs11KeySpec


@dataclass(frozen=True)
class OAuthSpec:
    """OAuth2 client credentials for a CSC service; the secret is in ``client_secret_env``."""

    token_url: str
    client_id: str
    client_secret_env: str


@dataclass(frozen=True)
class CscSigningSpec:
    """Leaders sign through a CSC API v1 service at ``url`` (ending with ``/csc/v1``)."""

    url: str
    client_data: str | None = None
    oauth: OAuthSpec | None = None


@dataclass(frozen=True)
class ConfirmSigningSpec:
    """Leaders confirm each signature in a remote service's app (SmartCA / MySign style)."""

    url: str
    client_id: str
    secret_env: str
    callback_url: str | None = None


@dataclass(frozen=True)
class ServerSigningSpec:
    """Leaders sign with the keys the server holds under "users" (the old way)."""


SigningSpec = CscSigningSpec | ConfirmSigningSpec | ServerSigningSpec


@dataclass(frozen=True)
class UserKeys:
    """A signer's key and the image printed in the signature block."""

    key: KeySpec
    signature_image: Path | None


@dataclass(frozen=True)
class AgencyKeys:
    """An agency's seal key, seal image and PAdES level (each optional in the file)."""

    seal: KeySpec | None
    seal_image: Path | None
    pades_level: PadesLevel | None
    signing: SigningSpec | None = None


@dataclass(frozen=True)
class KeysConfig:
    """The whole keys file."""

    trust_roots: tuple[Path, ...]
    tsa_url: str | None
    fetch_revocation: bool
    agencies: Mapping[str, AgencyKeys]
    users: Mapping[str, UserKeys]
    system: KeySpec | None
    signature_request_minutes: int = 10


class KeysFileError(KeyBackendError):
    """The keys file is not valid JSON or a field of it is missing or malformed."""


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KeysFileError(f"{where}: expected an object")
    return value


def _required(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise KeysFileError(f"{where}.{name}: expected a non-empty string")
    return value


def _optional(entry: dict[str, Any], name: str, where: str) -> str | None:
    # An empty value meant "none" in the dict-based reader; it still does.
    return _required(entry, name, where) if entry.get(name) else None


def _optional_path(entry: dict[str, Any], name: str, where: str) -> Path | None:
    value = _optional(entry, name, where)
    return None if value is None else Path(value)


def key_spec(value: Any, where: str) -> KeySpec:
    """One key entry (``pkcs12`` or ``pkcs11``)."""
    entry = _object(value, where)
    kind = entry.get("type")
    if kind == "pkcs12":
        return Pkcs12KeySpec(Path(_required(entry, "path", where)),
                             _required(entry, "password_env", where))
    if kind == "pkcs11":
        return Pkcs11KeySpec(_required(entry, "module", where),
                             _required(entry, "token_label", where),
                             _required(entry, "key_label", where),
                             _required(entry, "pin_env", where),
                             _optional(entry, "cert_label", where))
    raise KeysFileError(f"{where}.type: unknown key type {kind!r} (pkcs12 or pkcs11)")


def _url(entry: dict[str, Any], name: str, where: str) -> str:
    value = _required(entry, name, where)
    if not value.startswith(("https://", "http://")):
        raise KeysFileError(f"{where}.{name}: expected an http or https URL")
    return value


def signing_spec(value: Any, where: str) -> SigningSpec:
    """An agency's ``signing`` entry (``csc``, ``confirm`` or ``server``)."""
    entry = _object(value, where)
    kind = entry.get("type")
    if kind == "csc":
        oauth = entry.get("oauth")
        spec = None
        if oauth is not None:
            auth = _object(oauth, f"{where}.oauth")
            spec = OAuthSpec(_url(auth, "token_url", f"{where}.oauth"),
                             _required(auth, "client_id", f"{where}.oauth"),
                             _required(auth, "client_secret_env", f"{where}.oauth"))
        return CscSigningSpec(_url(entry, "url", where), _optional(entry, "client_data", where),
                              spec)
    if kind == "confirm":
        callback = _url(entry, "callback_url", where) if entry.get("callback_url") else None
        return ConfirmSigningSpec(_url(entry, "url", where), _required(entry, "client_id", where),
                                  _required(entry, "secret_env", where), callback)
    if kind == "server":
        return ServerSigningSpec()
    raise KeysFileError(
        f"{where}.type: unknown signing type {kind!r} (csc, confirm or server)")


def _minutes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
        raise KeysFileError("signature_request_minutes: expected a whole number from 1 to 1440")
    return value


def _agency(value: Any, where: str) -> AgencyKeys:
    entry = _object(value, where)
    seal = entry.get("seal")
    level = entry.get("pades_level")
    try:
        pades_level = PadesLevel(level) if level else None
    except ValueError:
        choices = ", ".join(v.value for v in PadesLevel)
        raise KeysFileError(f"{where}.pades_level: {level!r} is not one of {choices}") from None
    signing = entry.get("signing")
    return AgencyKeys(seal=None if seal is None else key_spec(seal, f"{where}.seal"),
                      seal_image=_optional_path(entry, "seal_image", where),
                      pades_level=pades_level,
                      signing=None if signing is None else signing_spec(
                          signing, f"{where}.signing"))


def _user(value: Any, where: str) -> UserKeys:
    entry = _object(value, where)
    return UserKeys(key_spec(entry, where),
                    _optional_path(entry, "signature_image", where))


def parse_keys(data: Any) -> KeysConfig:
    """Check every field of a decoded keys file and return it as typed configuration."""
    top = _object(data, "the keys file")
    roots = top.get("trust_roots", [])
    if not isinstance(roots, list) or not all(isinstance(r, str) and r for r in roots):
        raise KeysFileError("trust_roots: expected a list of file names")
    url = top.get("tsa_url")
    if url is not None and not isinstance(url, str):
        raise KeysFileError("tsa_url: expected a string")
    fetch = top.get("fetch_revocation", True)
    if not isinstance(fetch, bool):
        raise KeysFileError("fetch_revocation: expected true or false")
    agencies = _object(top.get("agencies", {}), "agencies")
    users = _object(top.get("users", {}), "users")
    system = top.get("system")
    return KeysConfig(
        trust_roots=tuple(Path(r) for r in roots),
        tsa_url=url or None,
        fetch_revocation=fetch,
        agencies=MappingProxyType({code: _agency(entry, f"agencies.{code}")
                                   for code, entry in agencies.items()}),
        users=MappingProxyType({name: _user(entry, f"users.{name}")
                                for name, entry in users.items()}),
        system=None if system is None else key_spec(system, "system"),
        signature_request_minutes=_minutes(top.get("signature_request_minutes", 10)),
    )


def load_keys_file(path: Path) -> KeysConfig:
    """Read and check the keys file at ``path``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KeysFileError(f"{Path(path).name} is not valid JSON: {exc}") from None
    return parse_keys(data)
