"""CRLs for the certificates behind a checkpoint, fetched when the checkpoint is made.

Stored beside the checkpoint (PEM), they let ``verify`` and ``verify-bundle`` check,
offline and years later, that neither the system key nor the TSA had been revoked when
the checkpoint was timestamped.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

log = logging.getLogger("docmgmt.ledger")
MAX_CRL_BYTES = 20 * 2**20
TIMEOUT_SECONDS = 10.0


def as_pem(data: bytes) -> bytes:
    """A CRL given as DER or PEM, as PEM; ValueError if it is neither."""
    crl = (x509.load_pem_x509_crl(data) if b"-----BEGIN" in data
           else x509.load_der_x509_crl(data))
    return crl.public_bytes(Encoding.PEM)


def crl_files_pem(paths: Iterable[Path]) -> bytes:
    """The CRLs in these files (DER or PEM), as PEM; missing files are skipped."""
    return b"".join(as_pem(p.read_bytes()) for p in paths if p.exists())


def http_get(url: str) -> bytes:
    """The body at ``url`` (http or https only), at most :data:`MAX_CRL_BYTES`."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        body: bytes = response.read(MAX_CRL_BYTES + 1)
    if len(body) > MAX_CRL_BYTES:
        raise ValueError(f"the CRL at {url} is larger than {MAX_CRL_BYTES} bytes")
    return body


def fetch_crls(certificates: Sequence[x509.Certificate],
               get: Callable[[str], bytes] = http_get) -> bytes:
    """The CRLs named by the certificates' distribution points, as PEM, each URL once.

    A CRL that cannot be fetched is logged and left out: the checkpoint is still made,
    and verification then says that this certificate's revocation was not checked.
    """
    urls: list[str] = []
    for cert in certificates:
        try:
            points = cert.extensions.get_extension_for_class(
                x509.CRLDistributionPoints).value
        except x509.ExtensionNotFound:
            continue
        for point in points:
            for name in point.full_name or []:
                if isinstance(name, x509.UniformResourceIdentifier) and name.value not in urls:
                    urls.append(name.value)
    found = []
    for url in urls:
        try:
            found.append(as_pem(get(url)))
        except (OSError, ValueError) as exc:
            log.warning("the CRL at %s could not be fetched for a checkpoint: %s", url, exc)
    return b"".join(found)
