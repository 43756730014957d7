"""Workflow fixtures: the write side as built by the composition root, on real PostgreSQL.

A ``Desk`` is one agency's office (an official, a leader, a clerk) in front of the
outgoing steps as ``docmgmt.bootstrap.build_write_side`` wires them, with the
PostgreSQL register lock. Keys come from the development PKI, or from a keys file over the
certomancer test PKI of tests/signing (its fixtures are imported below).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from asn1crypto import pem

from docmgmt.bootstrap import WriteSide, build_write_side
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Actor, DocumentType, Role, SigningCapacity
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.domain.register import NumberRegister, Series, register_id
from docmgmt.identity.agencies import register_agency
from docmgmt.identity.users import register_user
from docmgmt.kernel.db import Database
from docmgmt.kernel.principal import Principal
from docmgmt.outgoing import approval
from docmgmt.outgoing.context import OutgoingContext
from docmgmt.outgoing.drafting import DraftRequest, create_draft
from docmgmt.outgoing.signing import sign
from signing.appearance import sample_seal_png, sample_signature_png
from signing.formfill import read_text_fields
from signing.pades import SigningContext
from signing.port import AgencyIdentity
from signing.registry import ConfiguredKeyRegistry
from tests.api import conftest as api_fixtures
from tests.signing import conftest as signing_fixtures
from tests.signing.conftest import MOMENT, P12_PASSWORD, PkiFixture
from tests.support.identity import admin_acting_as
from tests.support.pdfs import make_pdf
from tests.support.server import settings_for

# Fixtures reused from the API and signing suites (a conftest cannot name pytest_plugins).
api = api_fixtures.api
api_settings = api_fixtures.api_settings
city = api_fixtures.city
animator_server = signing_fixtures.animator_server
test_pki = signing_fixtures.test_pki
softhsm_token = signing_fixtures.softhsm_token

SETUP = Actor(UUID(int=1), "test-setup")
AGENCY_CODE = "SOA"
AGENCY_NAME = "Sở Thông tin và Truyền thông A"


def vn(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in Vietnam time (+07:00)."""
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM_TZ)


@dataclass
class Desk:
    """One agency's office in front of the write side: who does what, and what is stored."""

    write: WriteSide
    agency: AgencyIdentity
    people: dict[str, Principal] = field(default_factory=dict)

    @property
    def outgoing(self) -> OutgoingContext:
        """The outgoing stage's context the steps under test run with."""
        return self.write.outgoing

    def at(self, clock: Callable[[], datetime]) -> None:
        """Run the following steps with this clock."""
        self.write.outgoing = replace(self.write.outgoing, clock=clock)

    def person(self, username: str, full_name: str, title: str, *roles: Role) -> Principal:
        """Register a user of the agency and return them as a signed-in principal."""
        user_id = register_user(
            self.write.app, admin_acting_as(SETUP), username=username, full_name=full_name,
            title=title, agency_id=self.agency.agency_id, unit_id=None, roles=list(roles)).id
        who = Principal(user_id=user_id, username=username, agency_id=self.agency.agency_id,
                        unit_id=None, roles=frozenset(roles))
        self.people[username] = who
        return who

    def __getitem__(self, username: str) -> Principal:
        return self.people[username]

    def draft(self, summary: str, doc_type: DocumentType = DocumentType.CONG_VAN, *,
              legal_normative: bool = False, by: str = "official") -> UUID:
        """The official drafts a document from a fresh one-page PDF."""
        meta = DraftRequest(summary=summary, doc_type=doc_type, legal_normative=legal_normative)
        pdf = io.BytesIO(make_pdf(1, text=summary))
        return create_draft(self.outgoing, self[by], meta, pdf, "du-thao.pdf").id

    def approved(self, summary: str, doc_type: DocumentType = DocumentType.CONG_VAN, *,
                 legal_normative: bool = False) -> UUID:
        """A draft the official submitted and the leader approved."""
        doc = self.draft(summary, doc_type, legal_normative=legal_normative)
        approval.submit(self.outgoing, self["official"], doc, "Kính trình", None)
        approval.approve(self.outgoing, self["leader"], doc, "Đồng ý", None)
        return doc

    def signed(self, summary: str, doc_type: DocumentType = DocumentType.CONG_VAN, *,
               legal_normative: bool = False, leader: str = "leader") -> UUID:
        """A draft taken through submission and approval and signed by the leader."""
        doc = self.approved(summary, doc_type, legal_normative=legal_normative)
        sign(self.outgoing, self[leader], doc, SigningCapacity.KT, "Giám đốc", None)
        return doc

    def document(self, doc: UUID) -> OutgoingDocument:
        """The document as the application holds it now."""
        return self.write.app.get_document(doc)

    def register(self, year: int, series: Series = Series.GENERAL) -> NumberRegister:
        """The agency's number register for a year and series."""
        register: NumberRegister = self.write.app.repository.get(
            register_id(self.agency.agency_id, year, series))
        return register

    def event_types(self, doc: UUID) -> list[str]:
        """The document's events, oldest first, by class name."""
        return [e.type.split(".")[-1] for e in self.write.app.history(doc)]

    def blob_keys(self) -> frozenset[str]:
        """Every object in the blob store."""
        return frozenset(b.key for b in self.write.blobs.iter_blobs())

    def event_rows(self) -> int:
        """Rows in the event store, counted as the database owner."""
        with psycopg.connect(self.write.db.owner.conninfo()) as conn:
            row = conn.execute("SELECT count(*) FROM docmgmt.docmgmt_events").fetchone()
        assert row is not None
        return int(row[0])

    def with_copy(self, key: str, sha256: str, tmp: Path) -> Path:
        """Copy a stored object (digest checked) to a local file."""
        path = tmp / f"{sha256}.pdf"
        with self.write.blobs.open_verified(key, sha256) as fh, path.open("wb") as out:
            shutil.copyfileobj(fh, out)
        return path

    def latest_pdf(self, doc: UUID) -> Path:
        """The document's newest PDF, copied out of the blob store."""
        latest = self.document(doc).latest_file
        tmp = Path(tempfile.mkdtemp(dir=self.write.settings.data_dir))
        return self.with_copy(latest.key, latest.sha256, tmp)

    def number_field(self, doc: UUID) -> tuple[str, str]:
        """What the numbered PDF shows in its number and date fields."""
        fields = read_text_fields(self.latest_pdf(doc))
        return fields["so_van_ban"], fields["ngay_ban_hanh"]

    def validate(self, doc: UUID) -> dict[str, Any]:
        """The validation report of the document's newest PDF."""
        report: dict[str, Any] = self.write.signing.validate(self.latest_pdf(doc))
        return report


def open_desk(write: WriteSide) -> Desk:
    """Register the agency and its official, leader and clerk."""
    agency_id = register_agency(write.app, admin_acting_as(SETUP), AGENCY_CODE, AGENCY_NAME,
                                None).id
    desk = Desk(write, AgencyIdentity(agency_id, AGENCY_CODE, AGENCY_NAME))
    desk.person("official", "Phạm Thị Chuyên", "Chuyên viên", Role.OFFICIAL)
    desk.person("leader", "Nguyễn Văn An", "Phó Giám đốc", Role.LEADER)
    desk.person("clerk", "Trần Văn Thư", "Văn thư", Role.CLERK)
    return desk


@pytest.fixture
def dev_desk(database: Database, tmp_path: Path) -> Iterator[Desk]:
    """The write side on a fresh database with the development PKI (the default settings)."""
    write = build_write_side(settings_for(database, tmp_path / "data"))
    try:
        yield open_desk(write)
    finally:
        write.close()


# --- the production key registry over the certomancer test PKI ----------------------------


class PinnedKeyRegistry(ConfiguredKeyRegistry):
    """ConfiguredKeyRegistry at the test PKI's pinned moment.

    The registry has no clock setting (its contexts always sign "now"), while the test PKI's
    OCSP responder, CRLs and TSA answer as of MOMENT; so the moment is pinned here.
    """

    def context(self, agency: AgencyIdentity | None) -> SigningContext:
        """The configured context, signing and validating at the test PKI's moment."""
        return replace(super().context(agency), clock=MOMENT)


LEADER_KEYS = {"leader": "leader", "leader_revoked": "revoked", "leader_expired": "expired",
               "leader_untrusted": "untrusted"}


@dataclass(frozen=True)
class KeysFile:
    """A written keys file and what it names."""

    path: Path
    pki: PkiFixture


def write_keys_file(directory: Path, pki: PkiFixture, monkeypatch: pytest.MonkeyPatch,
                    users: dict[str, dict[str, Any]] | None = None) -> KeysFile:
    """The JSON keys file of signing/keysfile.py naming PKCS#12 files of the test PKI.

    Passwords are in environment variables, as in production; the root is a PEM file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    root_pem = directory / "root.pem"
    root_pem.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()))
    seal_png, signature_png = directory / "seal.png", directory / "signature.png"
    seal_png.write_bytes(sample_seal_png(AGENCY_NAME.upper()))
    signature_png.write_bytes(sample_signature_png())
    password = P12_PASSWORD.decode()

    def p12(label: str, env: str) -> dict[str, Any]:
        monkeypatch.setenv(env, password)
        return {"type": "pkcs12", "path": str(pki.p12(label)), "password_env": env}

    config = {
        "trust_roots": [str(root_pem)],
        "tsa_url": f"{pki.url}/docmgmt-test/tsa/tsa",
        "fetch_revocation": True,
        "agencies": {AGENCY_CODE: {"seal": p12("seal", "TEST_SEAL_P12_PASSWORD"),
                                   "seal_image": str(seal_png)}},
        "users": {username: p12(label, f"TEST_{label.upper()}_P12_PASSWORD")
                  | {"signature_image": str(signature_png)}
                  for username, label in LEADER_KEYS.items()} | (users or {}),
    }
    path = directory / "keys.json"
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return KeysFile(path, pki)


@pytest.fixture
def pinned_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the composition root build the pinned registry wherever it reads a keys file."""
    monkeypatch.setattr("docmgmt.bootstrap.ConfiguredKeyRegistry", PinnedKeyRegistry)


@pytest.fixture
def keys_file(tmp_path: Path, test_pki: PkiFixture, monkeypatch: pytest.MonkeyPatch,
              pinned_registry: None) -> KeysFile:
    """A keys file for agency SOA: good, revoked, expired and untrusted leaders and a seal."""
    return write_keys_file(tmp_path / "keys", test_pki, monkeypatch)


def pki_desk(database: Database, data_dir: Path, keys: KeysFile) -> Desk:
    """The write side configured with a keys file (B-LT), and the agency's office with one
    leader account per configured leader key."""
    write = build_write_side(settings_for(database, data_dir, keys_file=keys.path))
    desk = open_desk(write)
    for username in LEADER_KEYS:
        if username != "leader":
            desk.person(username, f"Lãnh đạo {username}", "Phó Giám đốc", Role.LEADER)
    return desk


@pytest.fixture
def test_pki_desk(database: Database, tmp_path: Path, keys_file: KeysFile) -> Iterator[Desk]:
    """The write side signing with the production registry over the test PKI."""
    desk = pki_desk(database, tmp_path / "data", keys_file)
    try:
        yield desk
    finally:
        desk.write.close()
