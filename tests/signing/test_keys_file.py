"""The keys file is parsed once into frozen typed configuration; bad fields are named."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from docmgmt.domain.errors import InvalidInputError
from signing import keysfile
from signing.errors import KeyBackendError
from signing.keysfile import (
    AgencyKeys,
    ConfirmSigningSpec,
    CscSigningSpec,
    KeysFileError,
    OAuthSpec,
    Pkcs11KeySpec,
    Pkcs12KeySpec,
    ServerSigningSpec,
    UserKeys,
    load_keys_file,
    parse_keys,
)
from signing.pades import PadesLevel
from signing.registry import ConfiguredKeyRegistry, open_key


def _documented_example() -> dict[str, Any]:
    """The example in signing.keysfile's docstring (so the documentation stays valid)."""
    text = (keysfile.__doc__ or "").split("Example::")[1].split("\n\n")[1]
    example: dict[str, Any] = json.loads(text)
    return example


EXAMPLE = _documented_example()


def test_the_example_file_reads_as_typed_configuration() -> None:
    config = parse_keys(EXAMPLE)
    assert config.trust_roots == (Path("/etc/docmgmt/roots/rootca-gov.pem"),)
    assert config.tsa_url == "http://tsa.example.gov.vn/tsa"
    assert config.fetch_revocation is True
    assert config.agencies["STTTT"] == AgencyKeys(
        seal=Pkcs11KeySpec("/usr/lib/libhsm.so", "STTTT", "seal", "STTTT_SEAL_PIN"),
        seal_image=Path("/etc/docmgmt/seals/STTTT.png"), pades_level=PadesLevel.B_LTA,
        signing=CscSigningSpec("https://csc.example.vn/csc/v1", "STTTT", OAuthSpec(
            "https://csc.example.vn/token", "docmgmt", "CSC_SECRET")))
    assert config.agencies["UBQ1"].signing == ConfirmSigningSpec(
        "https://smartca.example.vn", "docmgmt-ubq1", "SMARTCA_SECRET")
    assert config.signature_request_minutes == 10
    bare = parse_keys(_with(["agencies", "SOA"], {}))
    assert bare.agencies["SOA"] == AgencyKeys(seal=None, seal_image=None, pades_level=None)
    assert config.users["an.nguyen"] == UserKeys(
        Pkcs12KeySpec(Path("/etc/docmgmt/keys/an.p12"), "AN_P12_PASSWORD"),
        Path("/etc/docmgmt/sig/an.png"))
    assert config.system == Pkcs12KeySpec(Path("/etc/docmgmt/keys/ledger.p12"),
                                          "LEDGER_P12_PASSWORD")


def test_defaults_of_an_empty_file() -> None:
    config = parse_keys({})
    assert (config.trust_roots, config.tsa_url, config.fetch_revocation, config.system) == (
        (), None, True, None)
    assert config.signature_request_minutes == 10
    assert dict(config.agencies) == dict(config.users) == {}


def test_the_configuration_cannot_be_changed() -> None:
    config = parse_keys(EXAMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.tsa_url = "http://elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.users["mallory"] = config.users["an.nguyen"]  # type: ignore[index]


def _with(path: list[str], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(EXAMPLE))
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(("path", "value", "message"), [
    (["users", "an.nguyen", "path"], KeyError, r"^users\.an\.nguyen\.path: expected a non-empty"),
    (["users", "an.nguyen", "type"], "pkcs13",
     r"^users\.an\.nguyen\.type: unknown key type 'pkcs13' \(pkcs12 or pkcs11\)$"),
    (["agencies", "STTTT", "seal", "pin_env"], 7, r"^agencies\.STTTT\.seal\.pin_env: "),
    (["agencies", "STTTT", "pades_level"], "B-X",
     r"^agencies\.STTTT\.pades_level: 'B-X' is not one of B-B, B-T, B-LT, B-LTA$"),
    (["agencies", "SOA"], [], r"^agencies\.SOA: expected an object$"),
    (["fetch_revocation"], "yes", r"^fetch_revocation: expected true or false$"),
    (["trust_roots"], "/etc/root.pem", r"^trust_roots: expected a list of file names$"),
    (["system", "password_env"], "", r"^system\.password_env: expected a non-empty string$"),
    (["agencies", "STTTT", "signing", "type"], "pkcs12",
     r"^agencies\.STTTT\.signing\.type: unknown signing type 'pkcs12' "
     r"\(csc, confirm or server\)$"),
    (["agencies", "STTTT", "signing", "url"], KeyError,
     r"^agencies\.STTTT\.signing\.url: expected a non-empty string$"),
    (["agencies", "STTTT", "signing", "url"], "ftp://csc.example.vn",
     r"^agencies\.STTTT\.signing\.url: expected an http or https URL$"),
    (["agencies", "STTTT", "signing", "oauth", "client_secret_env"], None,
     r"^agencies\.STTTT\.signing\.oauth\.client_secret_env: expected a non-empty string$"),
    (["agencies", "STTTT", "signing", "oauth"], "token",
     r"^agencies\.STTTT\.signing\.oauth: expected an object$"),
    (["agencies", "UBQ1", "signing", "secret_env"], KeyError,
     r"^agencies\.UBQ1\.signing\.secret_env: expected a non-empty string$"),
    (["agencies", "UBQ1", "signing", "callback_url"], "callback",
     r"^agencies\.UBQ1\.signing\.callback_url: expected an http or https URL$"),
    (["agencies", "UBQ1", "signing"], "csc", r"^agencies\.UBQ1\.signing: expected an object$"),
    (["signature_request_minutes"], 0,
     r"^signature_request_minutes: expected a whole number from 1 to 1440$"),
    (["signature_request_minutes"], 1441, r"^signature_request_minutes: "),
    (["signature_request_minutes"], "10", r"^signature_request_minutes: "),
    (["signature_request_minutes"], True, r"^signature_request_minutes: "),
])
def test_a_bad_field_is_named(path: list[str], value: Any, message: str) -> None:
    with pytest.raises(KeysFileError, match=message) as caught:
        parse_keys(_with(path, value))
    assert isinstance(caught.value, KeyBackendError)


def test_the_signing_entries_of_every_type() -> None:
    config = parse_keys(_with(["agencies", "UBQ1", "signing"], {
        "type": "confirm", "url": "https://smartca.example.vn", "client_id": "x",
        "secret_env": "S", "callback_url": "https://docmgmt.example.vn/signing/callback/UBQ1"}))
    assert config.agencies["UBQ1"].signing == ConfirmSigningSpec(
        "https://smartca.example.vn", "x", "S",
        "https://docmgmt.example.vn/signing/callback/UBQ1")
    bare = parse_keys(_with(["agencies", "STTTT", "signing"], {
        "type": "csc", "url": "http://127.0.0.1:8080/csc/v1"}))
    assert bare.agencies["STTTT"].signing == CscSigningSpec("http://127.0.0.1:8080/csc/v1")
    server = parse_keys({"agencies": {"X": {"signing": {"type": "server"}}},
                         "signature_request_minutes": 1440})
    assert server.agencies["X"].signing == ServerSigningSpec()
    assert server.signature_request_minutes == 1440


def test_a_file_that_is_not_json_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(KeysFileError, match=r"^keys\.json is not valid JSON"):
        load_keys_file(path)


def test_a_file_without_trust_roots_is_refused_as_before(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"users": EXAMPLE["users"]}), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="names no trust_roots"):
        ConfiguredKeyRegistry(path)


def test_a_missing_secret_is_named_when_the_key_is_opened(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AN_P12_PASSWORD", raising=False)
    spec = parse_keys(EXAMPLE).users["an.nguyen"].key
    with pytest.raises(KeyBackendError,
                       match=r"the environment variable 'AN_P12_PASSWORD' \(password_env\)"):
        open_key(spec)
