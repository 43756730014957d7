"""Development PKI: a root CA, a time-stamp authority, the agency seal and user keys.

Made on first start so that signing works with zero set-up; every certificate says
"DEVELOPMENT — NOT FOR PRODUCTION" in its subject. Keys live as PKCS#12 files under the
given directory (kept outside the repository), their random passwords in a 0600 file
beside them. Running :func:`init_dev_pki` again keeps every existing key and only
re-issues the CRL when it is close to expiry.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from docmgmt.domain.errors import InvalidInputError

__all__ = [
    "DEV_MARKER",
    "DevPki",
    "dev_timestamper",
    "init_dev_pki",
    "issue_user_cert",
    "load_dev_pki",
]

DEV_MARKER = "DEVELOPMENT — NOT FOR PRODUCTION"
CA_VALIDITY = timedelta(days=3652)
LEAF_VALIDITY = timedelta(days=730)
CRL_VALIDITY = timedelta(days=30)
CRL_RENEW_BEFORE = timedelta(days=7)
CLOCK_SKEW = timedelta(hours=1)
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

META_FILE = "pki.json"
SECRETS_FILE = "secrets.json"
ROOT = "root-ca"
TSA = "tsa"
SEAL = "seal"


@dataclass(frozen=True)
class DevPki:
    """Where the development PKI lives, with its passwords, root and current CRL."""

    directory: Path
    agency_code: str
    agency_name: str
    root_cert: asn1_x509.Certificate
    crl: asn1_crl.CertificateList

    @property
    def passwords(self) -> Mapping[str, str]:
        """PKCS#12 passwords by path relative to the directory (read afresh: users get added)."""
        return _read_secrets(self.directory)

    @property
    def root_cert_path(self) -> Path:
        """The root CA certificate (PEM), to trust when validating."""
        return self.directory / f"{ROOT}.pem"

    @property
    def root_p12_path(self) -> Path:
        """The root CA key (PKCS#12); only this module uses it."""
        return self.directory / f"{ROOT}.p12"

    @property
    def crl_der_path(self) -> Path:
        """The root CA's CRL (DER), to embed offline."""
        return self.directory / f"{ROOT}.crl"

    @property
    def crl_pem_path(self) -> Path:
        """The same CRL, PEM-armoured."""
        return self.directory / f"{ROOT}.crl.pem"

    @property
    def tsa_p12_path(self) -> Path:
        """The time-stamp authority's key and certificate (PKCS#12)."""
        return self.directory / f"{TSA}.p12"

    @property
    def seal_p12_path(self) -> Path:
        """The agency seal key and certificate (PKCS#12)."""
        return self.directory / f"{SEAL}.p12"

    @property
    def seal_cert_path(self) -> Path:
        """The agency seal certificate (PEM)."""
        return self.directory / f"{SEAL}.pem"

    def user_p12_path(self, username: str) -> Path:
        """Where a user's leader key is (or would be) kept."""
        return self.directory / "users" / f"{_checked_username(username)}.p12"

    def password_for(self, p12_path: Path) -> bytes:
        """The password of a PKCS#12 file of this PKI."""
        try:
            return self.passwords[_secret_key(self.directory, p12_path)].encode()
        except KeyError:
            raise InvalidInputError(f"no development key at {p12_path}") from None

    def signer(self, p12_path: Path) -> SimpleSigner:
        """A pyHanko signer for a key of this PKI, with the root in its chain."""
        signer: SimpleSigner = SimpleSigner.load_pkcs12_data(
            p12_path.read_bytes(), [self.root_cert], passphrase=self.password_for(p12_path)
        )
        return signer


def _checked_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidInputError(
            "a username for a development key may hold only letters, digits, '.', '_', '-'",
            username=username,
        )
    return username


def _secret_key(directory: Path, p12_path: Path) -> str:
    return p12_path.resolve().relative_to(directory.resolve()).as_posix()


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise writers of one PKI directory (several workers may start at once)."""
    with (directory / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write atomically, so a crash never leaves half a key behind."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _read_secrets(directory: Path) -> dict[str, str]:
    path = directory / SECRETS_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def _new_password(directory: Path, p12_path: Path) -> bytes:
    stored = _read_secrets(directory)
    password = secrets.token_urlsafe(24)
    stored[_secret_key(directory, p12_path)] = password
    _write(directory / SECRETS_FILE, json.dumps(stored, indent=2).encode(), mode=0o600)
    return password.encode()


def _name(common_name: str, organisation: str, username: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEV_MARKER),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if username is not None:
        attrs.append(x509.NameAttribute(NameOID.USER_ID, username))
    return x509.Name(attrs)


def _store_p12(
    directory: Path,
    stem: Path,
    key: PrivateKey,
    cert: x509.Certificate,
    chain: list[x509.Certificate],
) -> None:
    # Not with_suffix: a username such as "binh.le" already has a dot in its stem.
    p12_path = stem.parent / f"{stem.name}.p12"
    password = _new_password(directory, p12_path)
    data = pkcs12.serialize_key_and_certificates(
        cert.subject.rfc4514_string().encode(),
        key,
        cert,
        chain or None,
        serialization.BestAvailableEncryption(password),
    )
    _write(p12_path, data, mode=0o600)
    _write(stem.parent / f"{stem.name}.pem", cert.public_bytes(serialization.Encoding.PEM))


def _load_p12(directory: Path, p12_path: Path) -> tuple[PrivateKey, x509.Certificate]:
    password = _read_secrets(directory)[_secret_key(directory, p12_path)].encode()
    key, cert, _chain = pkcs12.load_key_and_certificates(p12_path.read_bytes(), password)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) or cert is None:
        raise InvalidInputError(f"{p12_path} does not hold a usable key and certificate")
    return key, cert


def _leaf(
    subject: x509.Name,
    key: PrivateKey,
    issuer_key: PrivateKey,
    issuer_cert: x509.Certificate,
    crl_url: str,
    *,
    timestamping: bool = False,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + LEAF_VALIDITY, issuer_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .add_extension(
            x509.CRLDistributionPoints([
                x509.DistributionPoint(
                    [x509.UniformResourceIdentifier(crl_url)], None, None, None
                )
            ]),
            critical=False,
        )
    )
    if timestamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _root(agency_code: str, agency_name: str) -> tuple[PrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"docmgmt Development Root CA {agency_code}", agency_name)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _crl_url(agency_code: str) -> str:
    # .invalid never resolves: the CRL is always supplied from the PKI directory.
    return f"http://dev-pki.invalid/{agency_code.lower()}/{ROOT}.crl"


def _issue_crl(directory: Path, key: PrivateKey, cert: x509.Certificate) -> None:
    number = 1
    der_path = directory / f"{ROOT}.crl"
    if der_path.exists():
        old = x509.load_der_x509_crl(der_path.read_bytes())
        number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    now = datetime.now(UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(cert.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False
        )
        .sign(key, hashes.SHA256())
    )
    _write(der_path, crl.public_bytes(serialization.Encoding.DER))
    _write(directory / f"{ROOT}.crl.pem", crl.public_bytes(serialization.Encoding.PEM))


def _crl_is_fresh(directory: Path) -> bool:
    path = directory / f"{ROOT}.crl"
    if not path.exists():
        return False
    next_update = x509.load_der_x509_crl(path.read_bytes()).next_update_utc
    return next_update is not None and next_update - datetime.now(UTC) > CRL_RENEW_BEFORE


def init_dev_pki(directory: Path, agency_code: str, agency_name: str) -> DevPki:
    """Create (or complete) the development PKI in ``directory``; existing keys are kept."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(directory):
        meta_path = directory / META_FILE
        if meta_path.exists():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta["agency_code"] != agency_code:
                raise InvalidInputError(
                    f"{directory} already holds the development PKI of {meta['agency_code']}"
                )
        else:
            meta = {"agency_code": agency_code, "agency_name": agency_name, "note": DEV_MARKER}
            _write(meta_path, json.dumps(meta, ensure_ascii=False, indent=2).encode())

        root_p12 = directory / f"{ROOT}.p12"
        if root_p12.exists():
            root_key, root_cert = _load_p12(directory, root_p12)
        else:
            root_key, root_cert = _root(agency_code, agency_name)
            _store_p12(directory, directory / ROOT, root_key, root_cert, [])

        crl_url = _crl_url(agency_code)
        if not (directory / f"{TSA}.p12").exists():
            tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
            tsa_name = _name(f"docmgmt Development TSA {agency_code}", agency_name)
            tsa_cert = _leaf(tsa_name, tsa_key, root_key, root_cert, crl_url, timestamping=True)
            _store_p12(directory, directory / TSA, tsa_key, tsa_cert, [root_cert])
        if not (directory / f"{SEAL}.p12").exists():
            seal_key = ec.generate_private_key(ec.SECP256R1())
            seal_cert = _leaf(
                _name(agency_name, agency_name), seal_key, root_key, root_cert, crl_url
            )
            _store_p12(directory, directory / SEAL, seal_key, seal_cert, [root_cert])
        if not _crl_is_fresh(directory):
            _issue_crl(directory, root_key, root_cert)
    return load_dev_pki(directory)


def issue_user_cert(pki_dir: Path, username: str, full_name: str) -> Path:
    """A leader's signing key for ``username`` (kept if it exists); returns the PKCS#12 path."""
    pki = load_dev_pki(pki_dir)
    p12_path = pki.user_p12_path(username)
    with _locked(pki_dir):
        if p12_path.exists():
            return p12_path
        p12_path.parent.mkdir(exist_ok=True, mode=0o700)
        root_key, root_cert = _load_p12(pki_dir, pki.root_p12_path)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(
            _name(full_name, pki.agency_name, username), key, root_key, root_cert,
            _crl_url(pki.agency_code),
        )
        _store_p12(pki_dir, p12_path.with_suffix(""), key, cert, [root_cert])
    return p12_path


def load_dev_pki(directory: Path) -> DevPki:
    """The development PKI previously created in ``directory``."""
    meta_path = directory / META_FILE
    if not meta_path.exists():
        raise InvalidInputError(f"no development PKI in {directory}; run init_dev_pki first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    root_pem = (directory / f"{ROOT}.pem").read_bytes()
    root = x509.load_pem_x509_certificate(root_pem).public_bytes(serialization.Encoding.DER)
    return DevPki(
        directory=directory,
        agency_code=str(meta["agency_code"]),
        agency_name=str(meta["agency_name"]),
        root_cert=asn1_x509.Certificate.load(root),
        crl=asn1_crl.CertificateList.load((directory / f"{ROOT}.crl").read_bytes()),
    )


class _LoadedKeyTimeStamper(DummyTimeStamper):
    """pyHanko's in-process TSA, but with its RSA key parsed once.

    DummyTimeStamper re-loads the key for every token, and loading a 3072-bit RSA key costs
    about 150 ms of CPU (cryptography checks it each time); this keeps the loaded key.
    """

    def __init__(self, key: rsa.RSAPrivateKey, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loaded_key = key
        self._lock = threading.Lock()

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """One token at a time: every token is built around asn1crypto objects all requests
        share (the TSA's certificate and names), which asn1crypto re-encodes lazily and not
        thread-safely; a seal and a signature stamped at once could fail (HTTP 500)."""
        with self._lock:
            return super().request_tsa_response(req)

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        attribute: Any = simple_cms_attribute  # pyHanko leaves it unannotated
        signed_attrs = cms.CMSAttributes([
            attribute("content_type", "tst_info"),
            attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
            attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
            attribute("message_digest", digest.finalize()),
        ])
        signature = self._loaded_key.sign(
            signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
        )
        return signature, signed_attrs


def dev_timestamper(pki: DevPki) -> TimeStamper:
    """An in-process RFC 3161 time-stamp authority backed by the development TSA key."""
    key, cert = _load_p12(pki.directory, pki.tsa_p12_path)
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tsa_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    # pyhanko-certvalidator leaves this constructor unannotated.
    embedded = SimpleCertificateStore.from_certs([tsa_cert, pki.root_cert])  # type: ignore[no-untyped-call]
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - made RSA by init_dev_pki
        raise InvalidInputError("the development TSA key must be RSA")
    return _LoadedKeyTimeStamper(
        key,
        tsa_cert=tsa_cert,
        tsa_key=asn1_keys.PrivateKeyInfo.load(key_der),
        certs_to_embed=embedded,
    )
