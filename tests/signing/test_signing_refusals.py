"""Signing is refused with a precise error, and a refusal never leaves a file behind."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from certomancer.registry import ServiceLabel
from pyhanko.sign.timestamps import HTTPTimeStamper

from docmgmt.domain.errors import InvalidInputError, MalformedPdfError
from signing.errors import (
    KeyBackendError,
    RevocationInfoUnavailableError,
    SignerCertificateExpiredError,
    SignerCertificateRevokedError,
    SignerCertificateUntrustedError,
    SigningError,
    TimestampError,
)
from signing.keys import KeyBackend, Pkcs12KeyBackend
from signing.pades import PadesLevel, SigningContext, sign_pdf
from tests.signing.conftest import PkiFixture


def _attempt(src: Path, out: Path, key: KeyBackend, ctx: SigningContext,
             level: PadesLevel = PadesLevel.B_LT) -> None:
    sign_pdf(src, out, key=key, level=level, ctx=ctx, field_name="LanhDao")


def _nothing_written(out: Path) -> bool:
    return list(out.parent.iterdir()) == [out.parent / "draft.pdf"]


@pytest.mark.parametrize(("signer", "error", "code"), [
    ("revoked", SignerCertificateRevokedError, "signer_certificate_revoked"),
    ("expired", SignerCertificateExpiredError, "signer_certificate_expired"),
    ("untrusted", SignerCertificateUntrustedError, "signer_certificate_untrusted"),
])
def test_unusable_signer_certificate_is_refused(
    test_pki: PkiFixture, draft_pdf: Path, signer: str, error: type[SigningError], code: str
) -> None:
    out = draft_pdf.with_name("signed.pdf")
    with pytest.raises(error) as caught:
        _attempt(draft_pdf, out, getattr(test_pki, signer), test_pki.ctx)
    assert caught.value.code == code
    assert isinstance(caught.value, InvalidInputError)  # the API answers 422
    assert _nothing_written(out)


def test_revocation_is_found_offline_in_a_configured_crl(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    crl = test_pki.arch.service_registry.get_crl(ServiceLabel("interm"), test_pki.moment)
    offline = test_pki.context(fetch_revocation=False, crls=[crl])
    out = draft_pdf.with_name("signed.pdf")
    with pytest.raises(SignerCertificateRevokedError, match="revoked on 2025-01-01"):
        _attempt(draft_pdf, out, test_pki.revoked, offline, PadesLevel.B_T)
    assert _nothing_written(out)
    # The same offline context lets a good signer sign.
    _attempt(draft_pdf, out, test_pki.leader, offline, PadesLevel.B_T)
    assert out.exists()


def test_long_term_level_without_revocation_data_is_refused(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    offline = test_pki.context(fetch_revocation=False)
    out = draft_pdf.with_name("signed.pdf")
    with pytest.raises(RevocationInfoUnavailableError) as caught:
        _attempt(draft_pdf, out, test_pki.leader, offline, PadesLevel.B_LT)
    assert caught.value.code == "revocation_unavailable"
    assert _nothing_written(out)


def test_timestamped_level_needs_a_tsa(test_pki: PkiFixture, draft_pdf: Path) -> None:
    out = draft_pdf.with_name("signed.pdf")
    with pytest.raises(TimestampError) as caught:
        _attempt(draft_pdf, out, test_pki.leader, test_pki.context(timestamper=None),
                 PadesLevel.B_T)
    assert caught.value.code == "timestamp_unavailable"
    assert _nothing_written(out)


def test_unreachable_tsa_is_a_timestamp_error(test_pki: PkiFixture, draft_pdf: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = test_pki.context(timestamper=HTTPTimeStamper(f"http://127.0.0.1:{port}/tsa", timeout=2))
    out = draft_pdf.with_name("signed.pdf")
    with pytest.raises(TimestampError):
        _attempt(draft_pdf, out, test_pki.leader, dead, PadesLevel.B_T)
    assert _nothing_written(out)


def test_malformed_input_is_refused(test_pki: PkiFixture, draft_pdf: Path) -> None:
    draft_pdf.write_bytes(b"%PDF-1.7\nthis is not really a PDF\n%%EOF\n")
    out = draft_pdf.with_name("signed.pdf")
    with pytest.raises(MalformedPdfError):
        _attempt(draft_pdf, out, test_pki.leader, test_pki.ctx, PadesLevel.B_B)
    assert _nothing_written(out)


def test_signing_inside_a_running_event_loop_is_a_clear_error(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    async def inside_loop() -> None:
        _attempt(draft_pdf, draft_pdf.with_name("signed.pdf"), test_pki.leader, test_pki.ctx,
                 PadesLevel.B_B)

    with pytest.raises(RuntimeError, match="worker thread"):
        asyncio.run(inside_loop())


def test_wrong_pkcs12_password_reveals_nothing(test_pki: PkiFixture) -> None:
    with pytest.raises(KeyBackendError) as caught:
        Pkcs12KeyBackend(test_pki.p12("leader"), b"not-the-passphrase")
    assert caught.value.code == "key_unavailable"
    assert "not-the-passphrase" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_filled_field_and_late_certification_are_refused(
    test_pki: PkiFixture, draft_pdf: Path
) -> None:
    signed = draft_pdf.with_name("signed.pdf")
    _attempt(draft_pdf, signed, test_pki.leader, test_pki.ctx, PadesLevel.B_B)
    again = draft_pdf.with_name("again.pdf")
    # The field already holds the leader's signature.
    with pytest.raises(SigningError) as caught:
        _attempt(signed, again, test_pki.seal, test_pki.ctx, PadesLevel.B_B)
    assert caught.value.code == "signing_failed"
    # A certification signature must be the document's first.
    with pytest.raises(SigningError, match="first signature"):
        sign_pdf(signed, again, key=test_pki.leader, level=PadesLevel.B_B, ctx=test_pki.ctx,
                 field_name="Other", certify_fill_forms=True)
    assert not again.exists()
