"""Value types shared by the aggregates (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict
from uuid import UUID, uuid5

from docmgmt.domain.errors import InvalidInputError

# Namespace for ids derived from natural keys (agency code, username).
ID_NAMESPACE = UUID("5b7d1c5e-6f5e-4c43-9b1f-3a0d2d6f9e10")


class Role(StrEnum):
    """What a user may do (DESIGN: who uses it)."""

    OFFICIAL = "official"
    LEADER = "leader"
    CLERK = "clerk"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Urgency(StrEnum):
    """Độ khẩn (Decree 30, Art. 8 and Annex I)."""

    NORMAL = "normal"
    URGENT = "urgent"  # Khẩn
    VERY_URGENT = "very_urgent"  # Thượng khẩn
    FLASH = "flash"  # Hỏa tốc


class Confidentiality(StrEnum):
    """Độ mật."""

    NORMAL = "normal"
    CONFIDENTIAL = "confidential"  # Mật
    SECRET = "secret"  # noqa: S105 - Tối mật, a confidentiality level
    TOP_SECRET = "top_secret"  # noqa: S105 - Tuyệt mật


class DocumentType(StrEnum):
    """Administrative document types and their abbreviations (Decree 30, Annex III)."""

    NGHI_QUYET = "NQ"
    QUYET_DINH = "QĐ"
    CHI_THI = "CT"
    QUY_CHE = "QC"
    QUY_DINH = "QYĐ"
    THONG_CAO = "TC"
    THONG_BAO = "TB"
    HUONG_DAN = "HD"
    CHUONG_TRINH = "CTr"
    KE_HOACH = "KH"
    PHUONG_AN = "PA"
    DE_AN = "ĐA"
    DU_AN = "DA"
    BAO_CAO = "BC"
    BIEN_BAN = "BB"
    TO_TRINH = "TTr"
    HOP_DONG = "HĐ"
    CONG_VAN = "CV"
    CONG_DIEN = "CĐ"
    BAN_GHI_NHO = "GN"
    BAN_THOA_THUAN = "TTh"
    GIAY_UY_QUYEN = "GUQ"
    GIAY_MOI = "GM"
    GIAY_GIOI_THIEU = "GGT"
    GIAY_NGHI_PHEP = "GNP"
    PHIEU_GUI = "PG"
    PHIEU_CHUYEN = "PC"
    PHIEU_BAO = "PB"
    THU_CONG = "TCg"


def agency_id_for(code: str) -> UUID:
    """The agency id derived from its unique code."""
    return uuid5(ID_NAMESPACE, "agency:" + normalise_code(code))


def user_id_for(username: str) -> UUID:
    """The user id derived from the unique username."""
    return uuid5(ID_NAMESPACE, "user:" + normalise_username(username))


def normalise_code(code: str) -> str:
    """Agency and unit codes: trimmed, upper case, no spaces."""
    value = code.strip().upper()
    if not value or len(value) > 32 or any(c.isspace() for c in value):
        raise InvalidInputError("a code is 1-32 characters with no spaces", code=code)
    return value


def normalise_username(username: str) -> str:
    """Usernames: trimmed, lower case, 3-64 characters of letters, digits, . _ -."""
    value = username.strip().lower()
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")
    if not 3 <= len(value) <= 64 or not set(value) <= allowed:
        raise InvalidInputError(
            "a username is 3-64 characters: letters, digits, '.', '_', '-', '@'",
            username=username,
        )
    return value


def require_text(name: str, value: str, *, max_len: int) -> str:
    """Trim a required free-text field and bound its length."""
    text = value.strip()
    if not text:
        raise InvalidInputError(f"{name} must not be empty", field=name)
    if len(text) > max_len:
        raise InvalidInputError(f"{name} is longer than {max_len} characters", field=name)
    return text


class SigningCapacity(StrEnum):
    """Thẩm quyền ký (Decree 30, Art. 13): in one's own right or on someone's behalf."""

    OWN = "own"  # the head signs in their own right
    KT = "KT"  # Ký thay: on behalf of the head
    TM = "TM"  # Thay mặt: on behalf of the collective
    TUQ = "TUQ"  # Thừa ủy quyền: by authorisation
    TL = "TL"  # Thừa lệnh: by order

    def line(self, principal_title: str) -> str:
        """The capacity line above the signer's title, e.g. "KT. GIÁM ĐỐC"."""
        if self is SigningCapacity.OWN:
            return principal_title.upper()
        return f"{self.value}. {principal_title.upper()}"


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: recorded on every event for accountability."""

    user_id: UUID
    username: str
    client_ip: str = ""
    user_agent: str = ""
    request_id: str = ""

    def as_payload(self) -> dict[str, str]:
        """The JSON-primitive form stored in events."""
        return {
            "user_id": str(self.user_id),
            "username": self.username,
            "client_ip": self.client_ip,
            "user_agent": self.user_agent[:512],
            "request_id": self.request_id,
        }


class FilePayload(TypedDict):
    """A stored file as events record it (FileRef's JSON-primitive form)."""

    key: str
    sha256: str
    size: int
    page_count: int
    file_name: str


class LinkRef(TypedDict):
    """An issued document this draft replaces or corrects."""

    relation: str
    target_id: str
    target_label: str


@dataclass(frozen=True)
class FileRef:
    """A stored PDF revision: object key and digest, never bytes."""

    key: str
    sha256: str
    size: int
    page_count: int
    file_name: str

    def as_payload(self) -> FilePayload:
        """The JSON-primitive form stored in events."""
        return {
            "key": self.key,
            "sha256": self.sha256,
            "size": self.size,
            "page_count": self.page_count,
            "file_name": self.file_name,
        }

    @classmethod
    def from_payload(cls, data: FilePayload) -> FileRef:
        """Rebuild from the stored form."""
        return cls(
            key=str(data["key"]),
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            page_count=int(data["page_count"]),
            file_name=str(data["file_name"]),
        )
