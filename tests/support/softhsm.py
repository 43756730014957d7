"""A SoftHSM2 token holding the test PKI's leader key and certificates, for every suite.

``softhsm_token`` is a session fixture; a conftest takes it (with ``test_pki``, which it
needs) by assignment, as tests/workflow/conftest.py does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

if TYPE_CHECKING:
    from tests.signing.conftest import PkiFixture

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
SOFTHSM_PIN = "1234"


@dataclass
class SoftHsmToken:
    """A SoftHSM2 token holding the leader's key and certificate (and the issuing CA)."""

    module: Path
    label: str
    pin: str
    key_label: str


@pytest.fixture(scope="session")
def softhsm_token(test_pki: PkiFixture, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[SoftHsmToken]:
    """Create a token in a private SoftHSM2 config and import the leader key over PKCS#11."""
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM_MODULE.exists():
        pytest.fail("SoftHSM2 is missing: apt-get install softhsm2", pytrace=False)
    import pkcs11
    from pkcs11.util.rsa import decode_rsa_private_key
    from pkcs11.util.x509 import decode_x509_certificate

    previous = os.environ.get("SOFTHSM2_CONF")
    if previous is None:
        base = tmp_path_factory.mktemp("softhsm")
        (base / "tokens").mkdir()
        conf = base / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {base / 'tokens'}\n"
                        "objectstore.backend = file\nlog.level = ERROR\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
    label = f"docmgmt-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([util, "--init-token", "--free", "--label", label, "--pin", SOFTHSM_PIN,
                    "--so-pin", "5678"], check=True, capture_output=True, timeout=60)
    lib = pkcs11.lib(str(SOFTHSM_MODULE))
    if label not in {t.label for t in lib.get_tokens()}:
        # SoftHSM only scans its token directory at C_Initialize; another suite may have
        # initialised it earlier in this process.
        lib.reinitialize()
    token = lib.get_token(token_label=label)
    key = test_pki.private_key("leader")
    key_der = key.private_bytes(Encoding.DER, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    with token.open(rw=True, user_pin=SOFTHSM_PIN) as session:
        session.create_object({
            **decode_rsa_private_key(key_der),
            pkcs11.Attribute.TOKEN: True,
            pkcs11.Attribute.PRIVATE: True,
            pkcs11.Attribute.SENSITIVE: True,
            pkcs11.Attribute.EXTRACTABLE: False,
            pkcs11.Attribute.LABEL: "leader",
            pkcs11.Attribute.ID: b"\x01",
        })
        for cert_label, cert_id in (("leader", b"\x01"), ("interm", b"\x02")):
            session.create_object({
                **decode_x509_certificate(test_pki.cert(cert_label).dump()),
                pkcs11.Attribute.TOKEN: True,
                pkcs11.Attribute.LABEL: cert_label,
                pkcs11.Attribute.ID: cert_id,
            })
    yield SoftHsmToken(module=SOFTHSM_MODULE, label=label, pin=SOFTHSM_PIN, key_label="leader")
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
