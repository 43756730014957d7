"""The system key that signs ledger checkpoints, and the TSA that timestamps them.

Production names them in the keys file (``DOCMGMT_KEYS_FILE``)::

    "system": {"type": "pkcs12", "path": "/etc/docmgmt/keys/ledger.p12",
               "password_env": "LEDGER_P12_PASSWORD"},
    "tsa_url": "http://tsa.example.gov.vn/tsa"

Development uses the development PKI's SYSTEM key and in-process TSA, made on first use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pyhanko.sign.timestamps import HTTPTimeStamper

from docmgmt.domain.errors import InvalidInputError
from docmgmt.ledger.devkeys import LazyDevSystemKeys, Pkcs12NoteSigner, PyHankoNoteTimestamper
from docmgmt.settings import Mode, Settings


def system_note_keys(settings: Settings) -> tuple[Any, Any] | None:
    """(signer, timestamper) for checkpoints, or None where none is configured."""
    if settings.keys_file is not None:
        config = json.loads(Path(settings.keys_file).read_text(encoding="utf-8"))
        spec = config.get("system")
        if spec is None:
            return None
        if spec.get("type") != "pkcs12":
            raise InvalidInputError("the ledger's system key must be a pkcs12 entry for now")
        password = os.environ.get(str(spec.get("password_env")), "")
        if not password:
            raise InvalidInputError(f"the environment variable {spec.get('password_env')!r} "
                                    "(system key password) is not set")
        url = config.get("tsa_url")
        if not url:
            raise InvalidInputError("the keys file names no tsa_url for checkpoint timestamps")
        signer = Pkcs12NoteSigner(Path(spec["path"]), password.encode())
        return signer, PyHankoNoteTimestamper(HTTPTimeStamper(url, timeout=10))
    if settings.mode is Mode.PRODUCTION:
        return None
    keys = LazyDevSystemKeys(settings.pki_dir)
    return keys, keys
