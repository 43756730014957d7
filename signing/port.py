"""The port between the document workflow and PAdES signing: what is asked, what comes back.

The workflow (docmgmt) calls it; signing/ implements it. It lives with the adapter so that
the adapter never imports the application layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID


class Verdict(StrEnum):
    """The bottom line on a signature, a timestamp or a whole PDF (JSON: its value)."""

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"
    UNSIGNED = "unsigned"


@dataclass(frozen=True)
class SignerIdentity:
    """Who signs, as printed under the signature."""

    user_id: UUID
    username: str
    full_name: str
    title: str


@dataclass(frozen=True)
class AgencyIdentity:
    """The agency whose seal is applied."""

    agency_id: UUID
    code: str
    name: str


@dataclass(frozen=True)
class SignatureOutcome:
    """What a signing step produced: certificate, level and the validation report after it."""

    certificate: dict[str, str]
    level: str
    report: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The JSON-primitive summary recorded in the event."""
        return {"certificate": self.certificate, "level": self.level,
                "validation": summarise(self.report)}


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """The part of a validation report kept in events: verdicts per signature."""
    keep = ("field_name", "intact", "valid", "trusted", "revocation", "signer_subject",
            "signer_fingerprint", "signing_time", "timestamp", "modification_level",
            "pades_level", "bottom_line", "reason")
    bottom_line = report.get("bottom_line")
    return {
        "bottom_line": None if bottom_line is None else Verdict(bottom_line),
        "signatures": [{**{k: s.get(k) for k in keep}, "bottom_line": _verdict(s)}
                       for s in report.get("signatures", [])],
    }


def _verdict(signature: dict[str, Any]) -> Verdict | None:
    value = signature.get("bottom_line")
    return None if value is None else Verdict(value)


def competent_signature_valid(report: dict[str, Any]) -> bool:
    """Whether the first (the competent person's) signature is intact, valid and trusted."""
    signatures = report.get("signatures", [])
    return bool(signatures) and _verdict(signatures[0]) is Verdict.VALID


class PdfSigningPort(Protocol):
    """PAdES operations on files (the signing/ package implements it)."""

    def sign_as_leader(
        self, src: Path, dst: Path, *, signer: SignerIdentity, agency: AgencyIdentity,
        capacity_line: str,
    ) -> SignatureOutcome:
        """Certify-sign (DocMDP: form filling allowed) with the signer's own key."""

    def write_number(self, src: Path, dst: Path, *, number_label: str,
                     date_label: str) -> dict[str, Any]:
        """Fill the number and date fields incrementally; return the validation report."""

    def seal(self, src: Path, dst: Path, *, agency: AgencyIdentity) -> SignatureOutcome:
        """Apply the agency's digital signature."""

    def seal_appendix(self, src: Path, dst: Path, *, agency: AgencyIdentity,
                      number_label: str) -> SignatureOutcome:
        """Apply the agency's signature to an appendix: text only, top right of page 1."""

    def validate(self, path: Path) -> dict[str, Any]:
        """The validation report of any PDF."""

    def validate_html(self, path: Path) -> str:
        """The validation report as a readable HTML page."""
