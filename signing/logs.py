"""What the signing libraries may log: their routine chatter goes to DEBUG, not to INFO.

Which lines and why: docs/signing-notes.md.
"""

from __future__ import annotations

import logging

QUIET_TO_WARNING = ("fontTools", "pyhanko_certvalidator")
"""Libraries whose INFO lines are per-operation detail (subsetting steps, each fetch)."""

_PDF_SIGNER = "pyhanko.sign.signers.pdf_signer"
_ROUTINE_WARNINGS = (
    "Validation/revocation info will be embedded, but fetching is not allowed",
)


class DemoteRoutine(logging.Filter):
    """Turns the listed routine warnings into DEBUG records (dropped unless DEBUG is on)."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record, but a routine one only as DEBUG and only if DEBUG is on."""
        if record.levelno > logging.DEBUG and str(record.msg).startswith(self.prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_signing_libraries() -> None:
    """Library chatter to DEBUG; idempotent, and a level set explicitly to DEBUG is kept."""
    for name in QUIET_TO_WARNING:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level == logging.INFO:
            logger.setLevel(logging.WARNING)
    signer = logging.getLogger(_PDF_SIGNER)
    if not any(isinstance(f, DemoteRoutine) for f in signer.filters):
        signer.addFilter(DemoteRoutine(_ROUTINE_WARNINGS))
