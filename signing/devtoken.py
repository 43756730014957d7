"""A development SoftHSM2 token holding a leader's development key, for ``docmgmt agent``.

The embedded default signs with the development PKI; this puts a leader's development key
(non-extractable, imported over PKCS#11), its certificate and the development CA certificate
on a SoftHSM2 token in a SoftHSM2 configuration of its own, so that the local agent can be
tried on one machine with no hardware. Development only, like the keys it copies.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from docmgmt.domain.errors import InvalidInputError
from signing.devpki import DevPki, load_dev_pki

__all__ = ["DevToken", "DevTokenError", "find_softhsm_module", "make_dev_token", "softhsm_tools",
           "user_certificate"]

SOFTHSM_MODULES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/local/lib/softhsm/libsofthsm2.so"),
    Path("/opt/homebrew/lib/softhsm/libsofthsm2.so"),
)
KEY_ID = b"\x01"
CA_ID = b"\x02"
CA_LABEL = "development root CA"
UTIL_TIMEOUT = 60


class DevTokenError(InvalidInputError):
    """The development token could not be made; the text says what to do."""

    code = "dev_token_refused"


@dataclass(frozen=True)
class DevToken:
    """The token made: its SoftHSM2 configuration, module, label and certificate."""

    conf: Path
    module: Path
    label: str
    key_id: str           # hex CKA_ID of the key and its certificate (the agent's id)
    fingerprint: str      # SHA-256 of the leader's certificate (hex)
    certificate: bytes    # DER
    chain: tuple[bytes, ...]


def find_softhsm_module() -> Path:
    """The SoftHSM2 PKCS#11 module installed on this machine."""
    for candidate in SOFTHSM_MODULES:
        if candidate.exists():
            return candidate
    raise DevTokenError("the SoftHSM2 module (libsofthsm2.so) is not installed: "
                        "apt-get install softhsm2")


def softhsm_tools() -> tuple[str, Path]:
    """``softhsm2-util`` and the SoftHSM2 module, or a DevTokenError saying what to install."""
    util = shutil.which("softhsm2-util")
    if util is None:
        raise DevTokenError("softhsm2-util is not on the PATH: apt-get install softhsm2")
    return util, find_softhsm_module()


def write_conf(directory: Path) -> Path:
    """A SoftHSM2 configuration keeping its tokens under ``directory`` (kept if present)."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = directory / "softhsm2.conf"
    if not conf.exists():
        conf.write_text(f"directories.tokendir = {tokens}\n"
                        "objectstore.backend = file\nlog.level = ERROR\n", encoding="utf-8")
    return conf


def _util(util: str, conf: Path, *args: str) -> str:
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    done = subprocess.run([util, *args], env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=UTIL_TIMEOUT, check=False)
    if done.returncode != 0:
        raise DevTokenError(f"softhsm2-util {args[0]} failed: "
                            f"{(done.stderr or done.stdout).strip()}")
    return done.stdout


def _labels(util: str, conf: Path) -> set[str]:
    """Labels of the initialised tokens of this configuration."""
    out = _util(util, conf, "--show-slots")
    return {line.split(":", 1)[1].strip() for line in out.splitlines()
            if line.strip().startswith("Label:") and line.split(":", 1)[1].strip()}


def _user_key(pki: DevPki, username: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    path = pki.user_p12_path(username)
    if not path.exists():
        raise DevTokenError(f"{username} has no development key yet", username=username)
    key, cert, _chain = pkcs12.load_key_and_certificates(path.read_bytes(),
                                                         pki.password_for(path))
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert is None:
        raise DevTokenError(f"{path} does not hold an EC key and its certificate")
    return key, cert.public_bytes(serialization.Encoding.DER)


def user_certificate(pki_dir: Path, username: str) -> tuple[bytes, tuple[bytes, ...]]:
    """The user's development certificate (DER) and its chain (the development root)."""
    pki = load_dev_pki(pki_dir)
    return _user_key(pki, username)[1], (pki.root_cert.dump(),)


def make_dev_token(pki_dir: Path, username: str, *, softhsm_dir: Path, label: str, pin: str,
                   so_pin: str | None = None, replace: bool = False) -> DevToken:
    """Make a SoftHSM2 token ``label`` holding ``username``'s development key (issued
    beforehand with ``issue_user_cert``) and certificate, and the development root."""
    import pkcs11
    from pkcs11.util.ec import decode_ec_private_key
    from pkcs11.util.x509 import decode_x509_certificate

    if not 4 <= len(pin) <= 255:
        raise DevTokenError("the PIN must have 4 to 255 characters")
    if not label or len(label) > 32:
        raise DevTokenError("the token label must have 1 to 32 characters")
    util, module = softhsm_tools()
    pki = load_dev_pki(pki_dir)
    key, cert_der = _user_key(pki, username)
    conf = write_conf(softhsm_dir)
    if label in _labels(util, conf):
        if not replace:
            raise DevTokenError(f"a token labelled {label!r} already exists in {conf}: "
                                "choose another label, or replace it", label=label)
        _util(util, conf, "--delete-token", "--token", label)
    _util(util, conf, "--init-token", "--free", "--label", label, "--pin", pin,
          "--so-pin", so_pin or secrets.token_hex(8))
    # SoftHSM reads SOFTHSM2_CONF when the module is initialised: set it before loading.
    os.environ["SOFTHSM2_CONF"] = str(conf)
    lib = pkcs11.lib(str(module))
    lib.reinitialize()  # a module loaded earlier in this process scanned before init-token
    key_der = key.private_bytes(serialization.Encoding.DER,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    with lib.get_token(token_label=label).open(rw=True, user_pin=pin) as session:
        session.create_object({
            **decode_ec_private_key(key_der),
            pkcs11.Attribute.TOKEN: True,
            pkcs11.Attribute.PRIVATE: True,
            pkcs11.Attribute.SENSITIVE: True,
            pkcs11.Attribute.EXTRACTABLE: False,
            pkcs11.Attribute.SIGN: True,
            pkcs11.Attribute.LABEL: username,
            pkcs11.Attribute.ID: KEY_ID,
        })
        for der, cert_label, cert_id in ((cert_der, username, KEY_ID),
                                         (pki.root_cert.dump(), CA_LABEL, CA_ID)):
            session.create_object({
                **decode_x509_certificate(der),
                pkcs11.Attribute.TOKEN: True,
                pkcs11.Attribute.LABEL: cert_label,
                pkcs11.Attribute.ID: cert_id,
            })
    return DevToken(conf=conf, module=module, label=label, key_id=KEY_ID.hex(),
                    fingerprint=hashlib.sha256(cert_der).hexdigest(), certificate=cert_der,
                    chain=(pki.root_cert.dump(),))
