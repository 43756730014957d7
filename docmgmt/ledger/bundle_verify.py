"""Offline check of an evidence bundle: no database, no network, no docmgmt imports.

Only the standard library, ``cryptography`` and ``asn1crypto`` are used, so this one file
can be copied to an auditor's machine and run as ``python bundle_verify.py bundle.zip``.
The leaf layout and the RFC 9162 verifier are written out again here on purpose: an
independent re-implementation cannot share a misunderstanding with the code that built
the bundle. The trust-anchor check lives here too (``docmgmt verify`` imports it), since
the copy inside a bundle is run alone, with ``python -I``.

With ``--trust-root ROOT.pem`` the checkpoint signer's certificate and the time-stamp
authority's certificate must each chain to one of the given roots and be valid at the
timestamp's time. Without it the report says plainly that the result only shows integrity
relative to the certificates the bundle itself carries.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import itertools
import json
import re
import struct
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MANIFEST = "manifest.json"
NOTE = "checkpoint/note.txt"
SIGNATURE = "checkpoint/signature"
CERTIFICATE = "checkpoint/signer.der"
TIMESTAMP = "checkpoint/timestamp.tst"
CHAIN = "checkpoint/chain.pem"  # optional: intermediate CA certificates of the signer
CRLS = "checkpoint/crls.pem"  # optional: CRLs fetched when the checkpoint was made
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


# --- what an event names, and its leaf (shared with the bundle builder) -----------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def named_files(state: Any) -> set[str]:
    """SHA-256 digests of the files an event names.

    A file is any object with both ``key`` and ``sha256`` (a stored-file reference, at any
    depth), plus the event's own top-level ``sha256`` (a view) and ``input_sha256``.
    """
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "key" in node and isinstance(node.get("sha256"), str):
                found.add(node["sha256"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(state)
    if isinstance(state, dict):
        found.update(v for k in ("sha256", "input_sha256")
                     if isinstance(v := state.get(k), str))
    return {d for d in found if HEX64.match(d)}


def leaf_hash_of(event: dict[str, Any]) -> bytes:
    """RFC 9162 leaf hash of the version-1 canonical leaf of a stored event."""
    topic = str(event["topic"]).encode("utf-8")
    state = base64.b64decode(event["state_base64"], validate=True)
    leaf = b"".join((
        struct.pack(">6sBq16sq", b"DMLEAF", 1, int(event["notification_id"]),
                    UUID(str(event["originator_id"])).bytes,
                    int(event["originator_version"])),
        struct.pack(">I", len(topic)), topic, struct.pack(">Q", len(state)), state))
    return hashlib.sha256(b"\x00" + leaf).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes],
                     root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- the report -----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One check, explained in English and Vietnamese."""

    name: str
    ok: bool
    en: str
    vi: str


@dataclass
class BundleReport:
    """Every check made on a bundle; ``ok`` only if all of them passed."""

    path: str
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    # False when no trust root was given: then the certificates are only the bundle's own.
    trust_checked: bool = False
    # Files carried as information only (validation reports): listed, never relied on.
    unverified: list[str] = field(default_factory=list)
    # True once the signed state tree proved every aggregate's events complete (format 2).
    complete: bool = False

    @property
    def ok(self) -> bool:
        """Whether every check passed (and there was at least one)."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    def add(self, name: str, ok: bool, en: str, vi: str) -> bool:
        """Record a check; returns ``ok``."""
        self.checks.append(Check(name, ok, en, vi))
        return ok

    def explain(self) -> str:
        """The whole report in plain words, both languages."""
        lines = [f"Evidence bundle / Hồ sơ chứng cứ: {self.path}"]
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        lines.append("")
        for c in self.checks:
            lines.append(f"[{'PASS' if c.ok else 'FAIL'}] {c.name}")
            lines.append(f"    EN: {c.en}")
            lines.append(f"    VI: {c.vi}")
        if not self.trust_checked:
            lines += ["[NOT CHECKED] trust anchor / chứng thư gốc tin cậy",
                      f"    EN: {NOT_CHECKED_EN}", f"    VI: {NOT_CHECKED_VI}"]
        if not self.complete:
            lines += ["[NOT PROVEN] latest events / các sự kiện mới nhất",
                      f"    EN: {LATEST_EN}", f"    VI: {LATEST_VI}"]
        lines += ["[INFORMATION ONLY] README.txt, verify/ / hướng dẫn và chương trình kiểm tra",
                  f"    EN: {GUIDE_EN}", f"    VI: {GUIDE_VI}"]
        if any(p.startswith("reports/") for p in self.unverified):
            lines += ["[UNVERIFIED INFORMATION] reports/ / báo cáo kiểm tra chữ ký",
                      f"    EN: {REPORTS_EN}", f"    VI: {REPORTS_VI}"]
        lines.append("")
        if self.ok and not self.trust_checked:
            lines.append(f"VERDICT: ALL {len(self.checks)} CHECKS PASSED, BUT ONLY RELATIVE TO "
                         "THE INCLUDED CERTIFICATES. The events and files match the ledger "
                         "signed with the certificate in this bundle"
                         + (COMPLETE_EN if self.complete else " (see NOT PROVEN above)") + "; "
                         "who holds that key was NOT checked against a trust anchor.")
            lines.append(f"KẾT LUẬN: ĐẠT TẤT CẢ {len(self.checks)} BƯỚC KIỂM TRA, NHƯNG CHỈ SO "
                         "VỚI CÁC CHỨNG THƯ KÈM THEO. Các sự kiện và tệp khớp với sổ cái được ký "
                         "bằng chứng thư trong hồ sơ" + (COMPLETE_VI if self.complete else "")
                         + "; CHƯA đối chiếu chứng thư đó với chứng thư gốc tin cậy.")
        elif self.ok:
            lines.append(f"VERDICT: ALL {len(self.checks)} CHECKS PASSED. The events and files "
                         "are exactly those recorded in the signed, timestamped ledger"
                         + (COMPLETE_EN if self.complete else " (see NOT PROVEN above)")
                         + ", and "
                         "the signer and the time-stamp authority chain to a trusted root.")
            lines.append(f"KẾT LUẬN: ĐẠT TẤT CẢ {len(self.checks)} BƯỚC KIỂM TRA. Các sự kiện "
                         "và tệp đúng như đã ghi trong sổ cái được ký số và gắn dấu thời gian"
                         + (COMPLETE_VI if self.complete else "") + "; "
                         "bên ký và tổ chức cấp dấu thời gian dẫn tới chứng thư gốc tin cậy.")
        else:
            names = ", ".join(c.name for c in self.failures) or "(no checks)"
            lines.append(f"VERDICT: FAILED ({len(self.failures)} of {len(self.checks)} "
                         f"checks): {names}. Do not rely on this bundle.")
            lines.append(f"KẾT LUẬN: KHÔNG ĐẠT ({len(self.failures)}/{len(self.checks)} "
                         f"bước): {names}. Không được dùng hồ sơ này làm chứng cứ.")
        return "\n".join(lines) + "\n"


COMPLETE_EN = (", PROVEN COMPLETE up to the checkpoint: for every aggregate of the document "
               "the bundle holds versions 1 to the last version the signed state tree records")
COMPLETE_VI = (", ĐÃ CHỨNG MINH ĐẦY ĐỦ tới mốc kiểm tra: với mỗi đối tượng của văn bản, hồ sơ "
               "có đủ các phiên bản từ 1 tới phiên bản cuối mà cây trạng thái đã ký ghi nhận")
LATEST_EN = ("the checkpoint does not commit to each aggregate's last version, so the "
             "checks above prove no event is missing between versions 1 and the last one in "
             "the bundle, but not that no later event was left out.")
LATEST_VI = ("mốc kiểm tra không cam kết phiên bản cuối của từng đối tượng: các bước trên "
             "chứng minh không thiếu sự kiện nào từ phiên bản 1 tới phiên bản cuối trong hồ "
             "sơ, nhưng chưa chứng minh không có sự kiện mới hơn bị bỏ ra.")
GUIDE_EN = ("README.txt and verify/bundle_verify.py are guidance, not evidence: nothing signed "
            "names them; run a checker from a trusted source.")
GUIDE_VI = ("README.txt và verify/bundle_verify.py chỉ là hướng dẫn, không phải chứng cứ: "
            "không có gì đã ký ghi nhận chúng; hãy dùng chương trình kiểm tra từ nguồn tin cậy.")
REPORTS_EN = ("reports/*.json are validation reports made when the bundle was exported; no "
              "signed event names their digest, so they are unverified information only.")
REPORTS_VI = ("reports/*.json là báo cáo kiểm tra chữ ký lập lúc xuất hồ sơ; không sự kiện "
              "đã ký nào ghi mã băm của chúng, nên chỉ là thông tin chưa được kiểm chứng.")


# --- trust anchors (also used by ``docmgmt verify``) ------------------------------------

SIGNER_TRUST = "checkpoint signer trust"
TSA_TRUST = "timestamp authority trust"
NOT_CHECKED_EN = (
    "the certificates of the checkpoint signer and of the time-stamp authority were NOT "
    "checked against a trust anchor (no --trust-root was given): the result proves integrity "
    "relative to the included certificates only, and anyone can re-sign a forged ledger with "
    "a key of their own; checkpoint/chain.pem and checkpoint/crls.pem are read only then. "
    "Re-run with --trust-root ROOT.pem to check who signed.")
NOT_CHECKED_VI = (
    "chứng thư của bên ký mốc kiểm tra và của tổ chức cấp dấu thời gian CHƯA được đối chiếu "
    "với chứng thư gốc tin cậy (không có --trust-root): kết quả chỉ chứng minh tính toàn vẹn "
    "so với các chứng thư kèm theo, và bất kỳ ai cũng có thể ký lại một sổ cái giả bằng khóa "
    "của mình; chain.pem và crls.pem chỉ được đọc khi có --trust-root. "
    "Hãy chạy lại với --trust-root GOC.pem để kiểm tra ai đã ký.")
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.S)


def load_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """Every CRL in PEM data (one or more blocks); ValueError if one is unreadable."""
    return [x509.load_pem_x509_crl(m.group(0)) for m in _PEM_CRL.finditer(data)]


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in PEM (one or more blocks) or DER data; ValueError if none."""
    if b"-----BEGIN" in data:
        certs = [x509.load_pem_x509_certificate(m.group(0)) for m in _PEM_CERT.finditer(data)]
        if not certs:
            raise ValueError("no CERTIFICATE block in the PEM data")
        return certs
    return [x509.load_der_x509_certificate(data)]


def load_certificate_files(paths: Iterable[Path | str]) -> list[x509.Certificate]:
    """Every certificate in the given PEM/DER files; ValueError names an unreadable one."""
    found: list[x509.Certificate] = []
    for path in paths:
        try:
            found.extend(load_certificates(Path(path).read_bytes()))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable PEM or DER certificate ({exc})") from None
    return found


@dataclass(frozen=True)
class TimestampSigner:
    """The certificates an RFC 3161 token carries, and the time it states."""

    tsa: x509.Certificate | None
    embedded: list[x509.Certificate]
    gen_time: datetime


def timestamp_signer(token: bytes) -> TimestampSigner:
    """The TSA certificate, every embedded certificate and genTime of a token."""
    signed = cms.ContentInfo.load(token)["content"]
    info = tsp.TSTInfo.load(signed["encap_content_info"]["content"].parsed.dump())
    tsa = token_signer_cert(signed, signed["signer_infos"][0])
    embedded = [x509.load_der_x509_certificate(c.chosen.dump())
                for c in signed["certificates"] or [] if c.name == "certificate"]
    return TimestampSigner(None if tsa is None else x509.load_der_x509_certificate(tsa.dump()),
                           embedded, info["gen_time"].native)


def token_signer_cert(signed: Any, info: Any) -> Any:
    """The certificate among a CMS SignedData's certificates that ``info`` names, or None."""
    sid = info["sid"].dump()
    for choice in signed["certificates"] or []:
        if choice.name == "certificate" and _names(sid, choice.chosen.dump()):
            return choice.chosen
    return None


# Parsing with asn1crypto is slow (about 0.5 ms a certificate here), and every checkpoint's
# token names the same TSA certificate: the two functions below depend on the bytes given
# and nothing else, so their answers are kept. (Only parsing is kept: trust and revocation
# are decided afresh each time.)
@functools.lru_cache(maxsize=64)
def _names(sid_der: bytes, cert_der: bytes) -> bool:
    """Whether the CMS SignerIdentifier ``sid_der`` names the certificate ``cert_der``."""
    sid = cms.SignerIdentifier.load(sid_der)
    c = asn1_x509.Certificate.load(cert_der)
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        # Byte-equal names are equal; only otherwise compare them as X.500 names (LDAP
        # string preparation, which is slow).
        return bool(c.serial_number == sid.chosen["serial_number"].native
                    and (c.issuer.dump() == issuer.dump() or c.issuer == issuer))
    return bool(c.key_identifier == sid.chosen.native)


@functools.lru_cache(maxsize=64)
def _signer_identity(cert_der: bytes) -> tuple[str, Any]:
    """A certificate's subject as people read it, and its public key."""
    name = str(asn1_x509.Certificate.load(cert_der).subject.human_friendly)
    return name, x509.load_der_x509_certificate(cert_der).public_key()


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _ca_basic_constraints(_: Any, __: x509.Certificate, ext: x509.BasicConstraints) -> None:
    if not ext.ca:
        raise ValueError("an issuing certificate is not a CA (basicConstraints cA is false)")


def _ca_key_usage(_: Any, __: x509.Certificate, ext: x509.KeyUsage | None) -> None:
    if ext is not None and not ext.key_cert_sign:
        raise ValueError("an issuing certificate's key usage does not allow keyCertSign")


def _purpose_problem(cert: x509.Certificate, tsa: bool) -> tuple[str, str] | None:
    """Why ``cert`` may not sign checkpoints (or timestamps), in both languages; else None."""
    try:
        usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(
            x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        return ("its key usage allows neither digitalSignature nor nonRepudiation",
                "mục đích sử dụng khóa không cho phép ký số")
    if not tsa:
        return None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or ExtendedKeyUsageOID.TIME_STAMPING not in eku:
        return ("it is not a time-stamping certificate (its extended key usage lacks "
                "id-kp-timeStamping)", "đây không phải chứng thư cấp dấu thời gian (mục đích "
                "sử dụng mở rộng không có id-kp-timeStamping)")
    return None


@dataclass(frozen=True)
class TrustVerdict:
    """Whether one certificate chains to a trust root; the reason in both languages."""

    name: str
    ok: bool
    en: str
    vi: str


def check_trust(
    name: str, cert: x509.Certificate, roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate], moment: datetime, *, tsa: bool = False,
    crls: Sequence[x509.CertificateRevocationList] | None = None,
) -> TrustVerdict:
    """Does ``cert`` chain to one of ``roots`` and was it valid (and fit for use) at ``moment``?

    ``untrusted`` may supply intermediates (from the bundle or the token); they are never
    anchors. ``crls``: the revocation lists stored with the checkpoint; every certificate
    of the chain below the root is looked up in its issuer's list valid at ``moment``. A
    certificate revoked at or before ``moment`` fails; one revoked later passes, since the
    timestamp proves the signature came first. Without ``crls`` revocation is not checked,
    and the report says so.
    """
    who = ("the time-stamp authority's certificate" if tsa
           else "the checkpoint signer's certificate")
    ai = "chứng thư của tổ chức cấp dấu thời gian" if tsa else "chứng thư của bên ký mốc"
    when = moment.astimezone(UTC).isoformat()
    reason = _purpose_problem(cert, tsa)
    if reason is None and not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        span = (f"{cert.not_valid_before_utc.isoformat()} – "
                f"{cert.not_valid_after_utc.isoformat()}")
        reason = (f"it was not valid at {when} (valid {span})",
                  f"chứng thư không có hiệu lực tại {when} (hiệu lực {span})")
    chain: list[x509.Certificate] = []
    try:  # here, not at the top: an auditor's older cryptography still runs the other checks
        from cryptography.x509 import verification
    except ImportError:
        reason = reason or ("this checker needs the cryptography package 45 or newer to "
                            "check certificate chains", "chương trình kiểm tra cần gói "
                            "cryptography phiên bản 45 trở lên để kiểm tra chuỗi chứng thư")
    if reason is None:
        ca_policy = (verification.ExtensionPolicy.permit_all()
                     .require_present(x509.BasicConstraints, verification.Criticality.AGNOSTIC,
                                      _ca_basic_constraints)
                     .may_be_present(x509.KeyUsage, verification.Criticality.AGNOSTIC,
                                     _ca_key_usage))
        verifier = (verification.PolicyBuilder().store(verification.Store(list(roots)))
                    .time(moment).extension_policies(
                        ca_policy=ca_policy,
                        ee_policy=verification.ExtensionPolicy.permit_all())
                    .build_client_verifier())
        try:
            chain = verifier.verify(cert, [c for c in untrusted if c != cert]).chain
        except verification.VerificationError as exc:
            reason = _chain_problem(cert, roots, untrusted, exc)
    if reason is not None:
        return TrustVerdict(
            name, False,
            f"{who} ({_subject(cert)}) is not trusted: {reason[0]}; trusted roots given: "
            + "; ".join(_subject(r) for r in roots),
            f"{ai} ({_subject(cert)}) không được tin cậy: {reason[1]}")
    path = " → ".join(_subject(c) for c in chain)
    if crls is None:
        status = ("revocation was not checked (offline)",
                  "chưa kiểm tra tình trạng thu hồi (ngoại tuyến)")
    else:
        revoked, status = _revocation(chain, crls, moment)
        if revoked:
            return TrustVerdict(
                name, False, f"{who} ({_subject(cert)}) chains to a trusted root ({path}) "
                f"but {status[0]}", f"{ai} ({_subject(cert)}) dẫn tới chứng thư gốc tin cậy "
                f"({path}) nhưng {status[1]}")
    return TrustVerdict(
        name, True,
        f"{who} chains to a trusted root ({path}) and was valid at {when}, the time in the "
        f"timestamp; {status[0]}",
        f"{ai} dẫn tới chứng thư gốc tin cậy ({path}) và còn hiệu lực tại {when}, thời điểm "
        f"ghi trong dấu thời gian; {status[1]}")


def _revocation(chain: Sequence[x509.Certificate],
                crls: Sequence[x509.CertificateRevocationList],
                moment: datetime) -> tuple[bool, tuple[str, str]]:
    """(revoked at ``moment``, what the CRLs say) for every certificate below the root."""
    found_en: list[str] = []
    found_vi: list[str] = []
    for cert, issuer in itertools.pairwise(chain):
        crl = next((c for c in crls if c.issuer == issuer.subject
                    and c.last_update_utc <= moment
                    and (c.next_update_utc is None or moment <= c.next_update_utc)
                    and c.is_signature_valid(issuer.public_key())), None)  # type: ignore[arg-type]
        subject = _subject(cert)
        if crl is None:
            found_en.append(f"the revocation of {subject} was not checked: no CRL of its "
                            f"issuer valid at that time was stored")
            found_vi.append(f"chưa kiểm tra tình trạng thu hồi của {subject}: không lưu danh "
                            "sách thu hồi nào của bên cấp còn hiệu lực tại thời điểm đó")
            continue
        issued = crl.last_update_utc.isoformat()
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None and entry.revocation_date_utc <= moment:
            day = entry.revocation_date_utc.isoformat()
            return True, (f"{subject} was revoked on {day}, at or before the time in the "
                          f"timestamp (CRL of {_subject(issuer)} issued {issued})",
                          f"{subject} đã bị thu hồi ngày {day}, trước thời điểm ghi trong dấu "
                          f"thời gian (danh sách thu hồi của {_subject(issuer)} ban hành "
                          f"{issued})")
        if entry is not None:
            day = entry.revocation_date_utc.isoformat()
            found_en.append(f"{subject} was revoked later, on {day}: the timestamp proves "
                            "the signature came first")
            found_vi.append(f"{subject} bị thu hồi sau đó, ngày {day}: dấu thời gian chứng "
                            "minh chữ ký có trước")
        else:
            found_en.append(f"{subject} is not revoked according to the CRL of "
                            f"{_subject(issuer)} issued {issued}")
            found_vi.append(f"{subject} không bị thu hồi theo danh sách thu hồi của "
                            f"{_subject(issuer)} ban hành {issued}")
    return False, ("; ".join(found_en), "; ".join(found_vi))


def _chain_problem(cert: x509.Certificate, roots: Sequence[x509.Certificate],
                   untrusted: Sequence[x509.Certificate], exc: Exception) -> tuple[str, str]:
    """Say in plain words where the chain breaks, following issuer names upwards."""
    trusted_names = {r.subject for r in roots}
    seen = [cert]
    current = cert
    while current.issuer not in trusted_names and len(seen) <= 8:
        up = next((c for c in untrusted if c.subject == current.issuer and c not in seen), None)
        if up is None:
            issuer = current.issuer.rfc4514_string()
            return (f"it was issued by {issuer}, which is none of the trusted roots, and no "
                    "certificate of that issuer was included to link it to one",
                    f"chứng thư do {issuer} cấp, không phải chứng thư gốc tin cậy nào, và "
                    "không kèm chứng thư trung gian nào nối nó tới gốc tin cậy")
        if up.subject == up.issuer:
            return (f"it chains to the root {_subject(up)} that came with the evidence, which "
                    "is not one of the trusted roots",
                    f"chứng thư dẫn tới chứng thư gốc {_subject(up)} đi kèm hồ sơ, không phải "
                    "chứng thư gốc tin cậy nào")
        seen.append(up)
        current = up
    return (f"its chain reaches the name of a trusted root but does not verify against that "
            f"root ({exc}): it was not issued with the trusted root's key, or it breaks a "
            "constraint",
            f"chuỗi chứng thư tới tên của một chứng thư gốc tin cậy nhưng không hợp lệ với "
            f"chứng thư gốc đó ({exc}): không do khóa của gốc tin cậy cấp, hoặc vi phạm "
            "ràng buộc")


# --- the checks -------------------------------------------------------------------------


def verify_bundle(
    zip_path: Path | str, trust_roots: Sequence[x509.Certificate] | None = None,
    intermediates: Sequence[x509.Certificate] = (),
) -> BundleReport:
    """Check a bundle offline; every problem is a failed check, never an exception.

    With ``trust_roots`` the signer's and the TSA's certificates must chain to one of them
    (``intermediates`` and the bundle's own ``checkpoint/chain.pem`` may link them).
    """
    report = BundleReport(str(zip_path), trust_checked=bool(trust_roots))
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.add("zip", False, f"the file is not a readable zip archive ({exc})",
                   f"tệp không phải là tệp nén zip đọc được ({exc})")
        return report
    with zf:
        files = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    _check_manifest(report, files)
    report.unverified = sorted(p for p in files if p.startswith("reports/"))
    root, size, state = _check_checkpoint(report, files, list(trust_roots or ()),
                                          list(intermediates))
    _check_summaries(report, files, root, size)
    _check_events(report, files, root, size)
    _check_sequence(report, files)
    _check_states(report, files, state)
    return report


def _check_summaries(report: BundleReport, files: dict[str, bytes], root: bytes,
                     size: int) -> None:
    """checkpoint/checkpoint.json and the manifest repeat the signed note; they must agree.

    The manifest's document_id must be an aggregate whose events the bundle holds; its
    created_at (the export time) is information only.
    """
    owners: set[str] = set()
    for _, path in _numbered(files, "events"):
        try:
            owners.add(str(json.loads(files[path])["originator_id"]))
        except (KeyError, ValueError, TypeError):
            continue  # reported by the event checks
    for arc, also in (("checkpoint/checkpoint.json", False), (MANIFEST, True)):
        if arc not in files:
            continue
        try:
            summary = json.loads(files[arc])
            ok = (int(summary["tree_size"]), str(summary["root_hash"])) == (size, root.hex())
            ok = ok and (not also or str(summary["document_id"]) in owners)
        except (KeyError, ValueError, TypeError):
            ok = False
        report.add(f"summary {arc}", ok,
                   f"{arc} names the signed note's tree size and root"
                   + (" and a document whose events the bundle holds" if also else "") if ok
                   else f"{arc} does not name the tree size and root of the signed note"
                   + (" or a document of the bundle" if also else "") + ": it was changed",
                   f"{arc} ghi đúng kích thước cây và gốc của mốc đã ký" if ok
                   else f"{arc} không khớp với mốc đã ký: tệp đã bị sửa")


def _check_sequence(report: BundleReport, files: dict[str, bytes]) -> None:
    """Events in log order, and each aggregate's versions 1..N with no gap."""
    positions: list[int] = []
    versions: dict[str, list[int]] = {}
    try:
        for _, path in _numbered(files, "events"):
            event = json.loads(files[path])
            positions.append(int(event["notification_id"]))
            versions.setdefault(str(event["originator_id"]), []).append(
                int(event["originator_version"]))
    except (KeyError, ValueError, TypeError):
        return  # already reported as a malformed event
    ordered = positions == sorted(set(positions))
    report.add("event order", ordered,
               "the events are numbered in the order of their log positions" if ordered else
               "the events are not numbered in the order of their log positions: the bundle "
               "was reordered", "các sự kiện được đánh số theo thứ tự trong sổ" if ordered
               else "các sự kiện không theo thứ tự trong sổ: hồ sơ đã bị sắp xếp lại")
    for aggregate, seen in sorted(versions.items()):
        gaps = sorted(set(range(1, max(seen) + 1)) - set(seen))
        ok = not gaps and sorted(seen) == list(range(1, len(seen) + 1))
        report.add(f"versions {aggregate}", ok,
                   f"versions 1..{len(seen)} of aggregate {aggregate} are all present, none "
                   "twice" if ok else f"aggregate {aggregate} lacks version(s) {gaps} or "
                   "repeats one: events were removed from the bundle",
                   f"đủ các phiên bản 1..{len(seen)} của đối tượng {aggregate}" if ok else
                   f"đối tượng {aggregate} thiếu phiên bản {gaps} hoặc bị lặp: sự kiện đã bị "
                   "bỏ khỏi hồ sơ")


def _check_manifest(report: BundleReport, files: dict[str, bytes]) -> None:
    try:
        listed = {e["path"]: e for e in json.loads(files[MANIFEST])["files"]}
    except (KeyError, ValueError, TypeError) as exc:
        report.add("manifest", False, f"manifest.json is missing or unreadable ({exc!r})",
                   f"thiếu manifest.json hoặc không đọc được ({exc!r})")
        return
    for path, entry in sorted(listed.items()):
        data = files.get(path)
        if data is None:
            report.add(f"manifest:{path}", False, f"{path} is listed but missing",
                       f"{path} có trong danh mục nhưng bị thiếu")
        elif (hashlib.sha256(data).hexdigest(), len(data)) != (entry["sha256"], entry["size"]):
            report.add(f"manifest:{path}", False,
                       f"{path} differs from the manifest: SHA-256 "
                       f"{hashlib.sha256(data).hexdigest()}, listed {entry['sha256']}",
                       f"{path} khác với danh mục: SHA-256 "
                       f"{hashlib.sha256(data).hexdigest()}, danh mục ghi {entry['sha256']}")
    extra = sorted(set(files) - set(listed) - {MANIFEST})
    for path in extra:
        report.add(f"manifest:{path}", False, f"{path} is in the zip but not in the manifest",
                   f"{path} có trong tệp nén nhưng không có trong danh mục")
    if not report.failures:
        report.add("manifest", True,
                   f"all {len(listed)} files have the SHA-256 and size the manifest lists "
                   "(the manifest itself is not signed; the checks below are what count)",
                   f"cả {len(listed)} tệp có SHA-256 và kích thước đúng như danh mục "
                   "(danh mục không được ký; các bước dưới đây mới là căn cứ)")


def _check_checkpoint(report: BundleReport, files: dict[str, bytes],
                      roots: list[x509.Certificate],
                      intermediates: list[x509.Certificate],
                      ) -> tuple[bytes, int, tuple[int, bytes] | None]:
    try:
        note = files[NOTE].decode("utf-8")
        body, sep, sig_line = note.partition("\n\n")
        origin, size_s, root_b64, time_line, *extension = body.split("\n")
        state = _state_line(extension)
        body += "\n"
        dash, _, signer_line = sig_line.rstrip("\n").partition(" ")
        name, _, sig_b64 = signer_line.rpartition(" ")
        if not sep or dash != "—" or not time_line.startswith("time "):
            raise ValueError("not a signed checkpoint note")
        root, size = base64.b64decode(root_b64, validate=True), int(size_s)
        kid_sig = base64.b64decode(sig_b64, validate=True)
        cert = x509.load_der_x509_certificate(files[CERTIFICATE])
        key = cert.public_key()
    except (KeyError, ValueError, UnicodeDecodeError, UnsupportedAlgorithm) as exc:
        report.add("checkpoint", False, f"the checkpoint note or certificate is missing or "
                   f"malformed ({exc!r})", f"thiếu hoặc sai định dạng bản ghi mốc kiểm tra "
                   f"hay chứng thư ký ({exc!r})")
        return b"", -1, None
    if state is not None:
        report.facts["state tree"] = f"{state[0]} aggregates, root {state[1].hex()}"
    report.facts.update({"checkpoint": f"{origin}, tree size {size}, root {root.hex()}",
                         "checkpoint time": time_line[5:],
                         "signer": cert.subject.rfc4514_string(),
                         "signer SHA-256 fingerprint": cert.fingerprint(hashes.SHA256()).hex()})
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    kid = hashlib.sha256(name.encode() + b"\n\xff" + spki).digest()[:4]
    signature = kid_sig[4:]
    ok = kid_sig[:4] == kid and files.get(SIGNATURE, signature) == signature \
        and verify_signature(key, signature, body.encode(), hashes.SHA256())
    report.add("checkpoint signature", ok,
               f"the note (tree size {size}, root {root.hex()[:16]}…) is signed by "
               f"'{name}' with the included certificate ({cert.subject.rfc4514_string()}); "
               + ("whether that certificate is trusted is checked below" if roots else
                  "compare its fingerprint with the published one") if ok else
               "the checkpoint note's signature does not verify with the included "
               "certificate: the note (tree size, root or time) was changed",
               f"mốc kiểm tra (kích thước cây {size}) được '{name}' ký số bằng chứng thư kèm "
               "theo; " + ("việc chứng thư đó có được tin cậy hay không được kiểm tra ở dưới"
                           if roots else "hãy đối chiếu dấu vân tay với dấu vân tay đã công bố")
               if ok else
               "chữ ký của bản ghi mốc kiểm tra không hợp lệ với chứng thư kèm theo: "
               "nội dung mốc (kích thước, gốc hoặc thời gian) đã bị sửa")
    stamp = _check_timestamp(report, files.get(TIMESTAMP),
                             hashlib.sha256(body.encode()).digest())
    if roots:
        _check_bundle_trust(report, files, cert, stamp, roots, intermediates)
    return root, size, state


def _state_line(extension: list[str]) -> tuple[int, bytes] | None:
    """Format 2's ``state <entries> <base64 root>`` line; None for a format-1 note."""
    if not extension:
        return None
    word, _, rest = extension[0].partition(" ")
    entries, _, root_b64 = rest.partition(" ")
    root = base64.b64decode(root_b64, validate=True)
    if len(extension) != 1 or word != "state" or len(root) != 32:
        raise ValueError(f"unknown checkpoint note extension {extension!r}")
    return int(entries), root


def _check_bundle_trust(report: BundleReport, files: dict[str, bytes], cert: x509.Certificate,
                        stamp: TimestampSigner | None, roots: list[x509.Certificate],
                        intermediates: list[x509.Certificate]) -> None:
    try:
        pool = [*intermediates, *(load_certificates(files[CHAIN]) if CHAIN in files else [])]
    except ValueError as exc:
        report.add(CHAIN, False, f"{CHAIN} is not readable ({exc})",
                   f"không đọc được {CHAIN} ({exc})")
        pool = list(intermediates)
    if stamp is None:
        for name in (SIGNER_TRUST, TSA_TRUST):
            report.add(name, False, "cannot be checked: the timestamp token is unreadable, so "
                       "there is no time at which to check the certificate",
                       "không kiểm tra được: không đọc được dấu thời gian nên không có thời "
                       "điểm để kiểm tra chứng thư")
        return
    pool += stamp.embedded
    crls: list[x509.CertificateRevocationList] | None = None
    if CRLS in files:
        try:
            crls = load_crls(files[CRLS])
        except ValueError as exc:
            report.add(CRLS, False, f"{CRLS} is not readable ({exc})",
                       f"không đọc được {CRLS} ({exc})")
    issuers = [*pool, *roots, cert]
    for crl in crls or ():
        # A CRL no known issuer signed was changed; ignoring it would hide a revocation.
        if not any(c.subject == crl.issuer and crl.is_signature_valid(
                c.public_key()) for c in issuers):  # type: ignore[arg-type]
            report.add(CRLS, False, f"the CRL of {crl.issuer.rfc4514_string()} in {CRLS} is "
                       "not signed by its issuer: it was changed",
                       f"danh sách thu hồi của {crl.issuer.rfc4514_string()} trong {CRLS} "
                       "không có chữ ký hợp lệ của bên cấp: tệp đã bị sửa")
    verdict = check_trust(SIGNER_TRUST, cert, roots, pool, stamp.gen_time, crls=crls)
    report.add(verdict.name, verdict.ok, verdict.en, verdict.vi)
    if stamp.tsa is None:
        report.add(TSA_TRUST, False, "the timestamp token carries no TSA certificate",
                   "dấu thời gian không kèm chứng thư của tổ chức cấp dấu thời gian")
        return
    verdict = check_trust(TSA_TRUST, stamp.tsa, roots, pool, stamp.gen_time, tsa=True,
                          crls=crls)
    report.add(verdict.name, verdict.ok, verdict.en, verdict.vi)


def _check_timestamp(report: BundleReport, token: bytes | None,
                     digest: bytes) -> TimestampSigner | None:
    try:
        if token is None:
            raise ValueError("no timestamp token")
        signed = cms.ContentInfo.load(token)["content"]
        content = signed["encap_content_info"]["content"].parsed.dump()
        info = tsp.TSTInfo.load(content)
        imprint = info["message_imprint"]["hashed_message"].native
        gen_time = info["gen_time"].native
        tsa_ok, tsa_name = tsa_signature_ok(signed, content)
        stamp = timestamp_signer(token)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        report.add("timestamp", False, f"the RFC 3161 timestamp token is missing or "
                   f"unreadable ({exc!r})", f"thiếu hoặc không đọc được dấu thời gian "
                   f"RFC 3161 ({exc!r})")
        return None
    report.facts["timestamp"] = f"{gen_time.isoformat()} by {tsa_name}"
    report.add("timestamp imprint", imprint == digest,
               f"the timestamp token ({gen_time.isoformat()}) covers SHA-256 of the note" if
               imprint == digest else "the timestamp token covers a different text than "
               "this checkpoint note: the note was changed after it was timestamped",
               f"dấu thời gian ({gen_time.isoformat()}) bao trùm SHA-256 của mốc kiểm tra" if
               imprint == digest else "dấu thời gian bao trùm một nội dung khác với mốc "
               "kiểm tra này: mốc đã bị sửa sau khi gắn dấu thời gian")
    report.add("timestamp signature", tsa_ok,
               f"the time-stamp authority's signature ({tsa_name}) over the token verifies"
               if tsa_ok else "the time-stamp authority's signature over the token does not "
               "verify", f"chữ ký của tổ chức cấp dấu thời gian ({tsa_name}) hợp lệ" if tsa_ok
               else "chữ ký của tổ chức cấp dấu thời gian không hợp lệ")
    return stamp


def tsa_signature_ok(signed: Any, content: bytes, cert: Any = None) -> tuple[bool, str]:
    """Whether the token's signer signed ``content`` (its TSTInfo): message digest, the
    signing-certificate attribute if present (ESS, RFC 5035), and the signature over the
    signed attributes with the embedded TSA certificate's key; and the TSA's name.

    ``cert``: the signer's certificate if the caller has looked it up already."""
    info = signed["signer_infos"][0]
    algo = info["digest_algorithm"]["algorithm"].native
    hash_alg = _HASHES.get(algo)
    if cert is None:
        cert = token_signer_cert(signed, info)
    if cert is None or hash_alg is None:
        return False, "(no TSA certificate in the token)"
    cert_der = cert.dump()
    name, key = _signer_identity(cert_der)
    attrs = info["signed_attrs"]
    digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    h = hashes.Hash(hash_alg)
    h.update(content)
    if digests != [h.finalize()] or not _ess_cert_id_matches(attrs, cert_der):
        return False, name
    data = b"\x31" + attrs.dump()[1:]  # signed over as a SET OF, not the [0] tag
    mech = info["signature_algorithm"].signature_algo
    if mech == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
        try:
            key.verify(info["signature"].native, data,
                       padding.PSS(padding.MGF1(hash_alg), padding.PSS.AUTO), hash_alg)
            return True, name
        except InvalidSignature:
            return False, name
    return verify_signature(key, info["signature"].native, data, hash_alg), name


def _ess_cert_id_matches(attrs: Any, cert_der: bytes) -> bool:
    """The first ESSCertID(v2) of a signing-certificate attribute hashes ``cert_der``."""
    for attr in attrs:
        kind = attr["type"].native
        if kind not in ("signing_certificate", "signing_certificate_v2"):
            continue
        cert_id = attr["values"][0]["certs"][0]
        if kind == "signing_certificate":
            return bytes(cert_id["cert_hash"].native) == hashlib.sha1(  # noqa: S324 - ESS v1
                cert_der).digest()
        algo = cert_id["hash_algorithm"]["algorithm"].native
        return bytes(cert_id["cert_hash"].native) == hashlib.new(algo, cert_der).digest()
    return True


def verify_signature(key: Any, signature: bytes, data: bytes,
                     hash_alg: hashes.HashAlgorithm) -> bool:
    """Whether ``signature`` over ``data`` verifies with an EC (ECDSA) or RSA (PKCS#1 v1.5)
    public key; False for any other kind of key."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _numbered(files: dict[str, bytes], folder: str) -> Iterator[tuple[str, str]]:
    for path in sorted(files):
        m = re.fullmatch(rf"{folder}/(\d+)\.json", path)
        if m:
            yield m.group(1), path


def _check_events(report: BundleReport, files: dict[str, bytes], root: bytes,
                  size: int) -> None:
    events = list(_numbered(files, "events"))
    report.facts["events"] = len(events)
    if not events:
        report.add("events", False, "the bundle holds no events", "hồ sơ không có sự kiện nào")
    wanted: dict[str, str] = {}
    for number, path in events:
        try:
            event = json.loads(files[path])
            state = base64.b64decode(event["state_base64"], validate=True)
            leaf = leaf_hash_of(event)
            view_ok = event.get("state_json") == json.loads(state)
            proof = json.loads(files[f"proofs/{number}.json"])
            path_ok = verify_inclusion(leaf, int(proof["leaf_index"]), size,
                                       [bytes.fromhex(p) for p in proof["inclusion_path"]],
                                       root) and int(proof["tree_size"]) == size
        except (KeyError, ValueError, TypeError) as exc:
            report.add(f"event {path}", False, f"{path} or its proof is missing or malformed "
                       f"({exc!r})", f"{path} hoặc bằng chứng của nó bị thiếu hay sai "
                       f"định dạng ({exc!r})")
            continue
        what = (f"{path} (position {event['notification_id']}, {event['topic'].split(':')[-1]}"
                f" v{event['originator_version']})")
        report.add(f"event {path}", path_ok and view_ok,
                   f"{what}: its leaf hash is in the signed tree (RFC 9162 inclusion proof "
                   f"proofs/{number}.json checks out against the checkpoint root)" if path_ok
                   and view_ok else f"{what}: " + (
                       "the human-readable view does not match the stored bytes" if path_ok
                       else f"the leaf recomputed from this event with proofs/{number}.json "
                       "does not lead to the signed root: the event or its proof was changed"),
                   f"{path}: mã băm lá nằm trong cây đã ký (bằng chứng bao hàm RFC 9162 "
                   f"proofs/{number}.json khớp với gốc của mốc kiểm tra)" if path_ok and view_ok
                   else f"{path}: " + (
                       "phần hiển thị cho người đọc không khớp với dữ liệu đã lưu" if path_ok
                       else f"mã băm lá tính lại từ sự kiện cùng proofs/{number}.json không "
                       "dẫn tới gốc đã ký: sự kiện hoặc bằng chứng đã bị sửa"))
        for digest in named_files(json.loads(state)):
            wanted.setdefault(digest, path)
    for digest, by in sorted(wanted.items()):
        data = files.get(f"files/{digest}.pdf")
        ok = data is not None and hashlib.sha256(data).hexdigest() == digest
        report.add(f"file files/{digest}.pdf", ok,
                   f"named by {by}; its SHA-256 matches" if ok else f"named by {by}: " + (
                       "missing from the bundle" if data is None else
                       "its content does not have the SHA-256 the event recorded: the file "
                       "was changed"),
                   f"được {by} nêu; SHA-256 khớp" if ok else f"được {by} nêu: " + (
                       "không có trong hồ sơ" if data is None else
                       "nội dung không có SHA-256 như sự kiện đã ghi: tệp đã bị sửa"))
    report.facts["files"] = len(wanted)


# --- completeness: the signed state tree (format-2 checkpoints) ------------------------

STATE_ENTRY = struct.Struct(">7sB16sQQ")  # b"DMSTATE", 1, aggregate id, last version, position


def state_entry(data: bytes) -> tuple[UUID, int, int]:
    """(aggregate id, last version, last position) of a version-1 40-byte state entry."""
    if len(data) != STATE_ENTRY.size:
        raise ValueError(f"a state entry is {STATE_ENTRY.size} bytes, not {len(data)}")
    tag, version, raw, last_version, last_position = STATE_ENTRY.unpack(data)
    if tag != b"DMSTATE" or version != 1:
        raise ValueError("not a version-1 state entry")
    return UUID(bytes=raw), last_version, last_position


def _proven_entry(proof: dict[str, Any], state: tuple[int, bytes]) -> tuple[UUID, int, int, int]:
    """A leaf proof's entry and index, once its inclusion under the signed root holds."""
    data = bytes.fromhex(str(proof["entry_hex"]))
    index, size = int(proof["leaf_index"]), int(proof["state_size"])
    path = [bytes.fromhex(p) for p in proof["inclusion_path"]]
    leaf = hashlib.sha256(b"\x00" + data).digest()
    if size != state[0] or not verify_inclusion(leaf, index, size, path, state[1]):
        raise ValueError("its inclusion proof does not lead to the signed state root")
    aggregate, last_version, last_position = state_entry(data)
    if (int(proof["last_version"]), int(proof["last_position"])) != (last_version,
                                                                     last_position):
        raise ValueError("its readable fields differ from the signed entry's bytes")
    return aggregate, last_version, last_position, index


def _absent(aggregate: UUID, proof: dict[str, Any], state: tuple[int, bytes]) -> None:
    """Raise unless adjacent proven neighbours sort on both sides of ``aggregate``."""
    found = [_proven_entry(n, state) for n in proof["neighbours"]]
    ids = [f[0].bytes for f in found]
    indices = [f[3] for f in found]
    inside = len(found) == 2 and indices[1] == indices[0] + 1 and ids[0] < aggregate.bytes < ids[1]
    first = len(found) == 1 and indices == [0] and aggregate.bytes < ids[0]
    last = len(found) == 1 and indices == [state[0] - 1] and ids[0] < aggregate.bytes
    if not (inside or first or last or (not found and state[0] == 0)):
        raise ValueError("its neighbours do not show that the state tree has no entry for it")


def _expected_aggregates(files: dict[str, bytes]) -> dict[UUID, list[tuple[int, int]]]:
    """Every aggregate the bundle must account for, with its events' (version, position):
    those with events, the manifest's document and that document's access log (an access
    log id is UUIDv5(document id, "access-log"))."""
    found: dict[UUID, list[tuple[int, int]]] = {}
    for _, path in _numbered(files, "events"):
        event = json.loads(files[path])
        found.setdefault(UUID(str(event["originator_id"])), []).append(
            (int(event["originator_version"]), int(event["notification_id"])))
    document = UUID(str(json.loads(files[MANIFEST])["document_id"]))
    for aggregate in (document, uuid5(document, "access-log")):
        found.setdefault(aggregate, [])
    return found


def _check_states(report: BundleReport, files: dict[str, bytes],
                  state: tuple[int, bytes] | None) -> None:
    """Each aggregate's events are exactly versions 1..last of its signed state entry."""
    carried = {p for p in files if p.startswith("state/")}
    if state is None:
        for path in sorted(carried):
            report.add(f"state {path}", False, f"{path} is carried but the checkpoint signs no "
                       "state root, so nothing can check it", f"{path} có trong hồ sơ nhưng "
                       "mốc kiểm tra không ký gốc cây trạng thái nên không thể kiểm tra")
        return
    try:
        expected = _expected_aggregates(files)
    except (KeyError, ValueError, TypeError):
        return  # the manifest and event checks have reported it
    for aggregate, events in sorted(expected.items(), key=lambda kv: str(kv[0])):
        path = f"state/{aggregate}.json"
        carried.discard(path)
        have = sorted(events)
        try:
            proof = json.loads(files[path])
            if UUID(str(proof["aggregate_id"])) != aggregate:
                raise ValueError(f"it is the proof of aggregate {proof['aggregate_id']}")
            if proof["present"] is not True:
                _absent(aggregate, proof, state)
                last = (0, 0)
                en = (f"the signed state tree has no entry for aggregate {aggregate} (its "
                      "neighbours' proofs show it), so it had no events")
                vi = f"cây trạng thái đã ký không có mục nào của đối tượng {aggregate}"
            else:
                entry_id, version, position, _ = _proven_entry(proof, state)
                if entry_id != aggregate:
                    raise ValueError(f"its signed entry is aggregate {entry_id}'s")
                last = (version, position)
                en = (f"the signed state tree records version {version} (log position "
                      f"{position}) as aggregate {aggregate}'s last; the bundle holds its "
                      f"versions 1..{version}")
                vi = (f"cây trạng thái đã ký ghi phiên bản {version} là phiên bản cuối của đối "
                      f"tượng {aggregate}; hồ sơ có đủ phiên bản 1..{version}")
        except KeyError as exc:
            report.add(f"state {aggregate}", False, f"{path} is missing ({exc!r}): the bundle "
                       f"does not prove aggregate {aggregate}'s events complete",
                       f"thiếu {path}: hồ sơ không chứng minh đủ sự kiện của đối tượng "
                       f"{aggregate}")
            continue
        except (ValueError, TypeError) as exc:
            report.add(f"state {aggregate}", False, f"{path} does not hold up ({exc}): it or "
                       "the signed note was changed", f"{path} không hợp lệ ({exc}): tệp "
                       "hoặc mốc kiểm tra đã bị sửa")
            continue
        ok = [v for v, _ in have] == list(range(1, last[0] + 1)) and (
            not have or have[-1][1] == last[1])
        report.add(f"state {aggregate}", ok, en if ok else
                   f"aggregate {aggregate}: the signed state tree records version {last[0]} "
                   f"at log position {last[1]} as its last, the bundle holds versions "
                   f"{[v for v, _ in have]}: events were removed from or added to the bundle",
                   vi if ok else f"đối tượng {aggregate}: cây trạng thái đã ký ghi phiên bản "
                   f"cuối {last[0]}, hồ sơ có các phiên bản {[v for v, _ in have]}: sự kiện đã "
                   "bị bỏ ra hoặc thêm vào hồ sơ")
    for path in sorted(carried):
        report.add(f"state {path}", False, f"{path} is not the proof of an aggregate of this "
                   "bundle", f"{path} không phải bằng chứng của đối tượng nào trong hồ sơ")
    report.complete = report.ok


# --- command line -----------------------------------------------------------------------


TRUST_HELP = (
    "a trusted root CA certificate (PEM or DER; repeatable): the checkpoint signer's and "
    "the time-stamp authority's certificates must chain to one of them and be valid at the "
    "timestamp's time, and not revoked by then according to the CRLs stored with the "
    "checkpoint (checked offline; a certificate without one is reported as not checked). "
    "Without it the report says the "
    "certificates were NOT checked against a trust anchor. Development: the root that signs "
    "checkpoints is DATA_DIR/pki/SYSTEM/root-ca.pem (default var/pki/SYSTEM/root-ca.pem); "
    "`docmgmt ledger dev-root` prints it and its path")
INTERMEDIATE_HELP = ("an intermediate CA certificate that links a certificate to a trusted "
                     "root (PEM or DER; repeatable; never trusted by itself)")


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """``--trust-root`` and ``--intermediate``, shared with ``docmgmt verify``."""
    parser.add_argument("--trust-root", action="append", type=Path, default=[],
                        metavar="ROOT.pem", help=TRUST_HELP)
    parser.add_argument("--intermediate", action="append", type=Path, default=[],
                        metavar="CA.pem", help=INTERMEDIATE_HELP)


def run_verify_bundle(args: argparse.Namespace, *_: Any) -> int:
    """Print the explanation; 0 if every check passed, 1 otherwise, 2 for unreadable roots."""
    try:
        roots = load_certificate_files(getattr(args, "trust_root", None) or [])
        intermediates = load_certificate_files(getattr(args, "intermediate", None) or [])
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    report = verify_bundle(args.file, roots, intermediates)
    sys.stdout.write(report.explain())
    return 0 if report.ok else 1


def add_bundle_commands(sub: Any) -> None:
    """Register ``verify-bundle FILE.zip`` on the top-level subparsers (no database)."""
    v = sub.add_parser(
        "verify-bundle", help="check an evidence bundle offline (no database, no network)",
        description="Check an evidence bundle offline and explain every check in English and "
                    "Vietnamese. Pass --trust-root to also check who signed; for the "
                    "development setup, get the root with `docmgmt ledger dev-root --out "
                    "dev-root.pem`, then run `docmgmt verify-bundle FILE.zip --trust-root "
                    "dev-root.pem`.")
    v.add_argument("file", type=Path, metavar="FILE.zip")
    add_trust_arguments(v)
    v.set_defaults(func=run_verify_bundle)


def main(argv: list[str] | None = None) -> int:
    """``python bundle_verify.py FILE.zip [--trust-root ROOT.pem ...]``."""
    parser = argparse.ArgumentParser(prog="bundle_verify", description=__doc__)
    sub = parser.add_subparsers(dest="cmd")
    add_bundle_commands(sub)
    args = parser.parse_args(["verify-bundle", *(sys.argv[1:] if argv is None else argv)])
    return run_verify_bundle(args)


if __name__ == "__main__":
    sys.exit(main())
