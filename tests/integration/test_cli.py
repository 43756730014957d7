"""The docmgmt command: migrate, admin tasks and orphan collection, on real PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from api.cli import main
from docmgmt.bootstrap import build_write_side
from docmgmt.domain.common import DocumentType, Role
from docmgmt.identity.login import InvalidCredentialsError, authenticate
from docmgmt.identity.users import change_roles, deactivate
from docmgmt.kernel.db import Database
from docmgmt.kernel.migrations import head_revision
from docmgmt.kernel.principal import Principal
from docmgmt.outgoing.drafting import DraftRequest, create_draft
from docmgmt.settings import Settings
from tests.support.pdfs import make_pdf


@pytest.fixture
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DOCMGMT_DATABASE_URL", database.app.url())
    monkeypatch.setenv("DOCMGMT_MIGRATION_DATABASE_URL", database.owner.url())
    monkeypatch.setenv("DOCMGMT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PW", "a-long-enough-password")
    return Settings()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_admin_round_trip(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"database at migration {head_revision()}" in run(capsys, "migrate")
    run(capsys, "admin", "create-admin", "root", "--password-env", "PW")
    run(capsys, "admin", "create-agency", "STTTT", "Sở Thông tin và Truyền thông")
    run(capsys, "admin", "add-unit", "STTTT", "VP", "Văn phòng")
    out = run(capsys, "admin", "create-user", "lan.tran", "--full-name", "Trần Thị Lan",
              "--agency", "STTTT", "--unit", "VP", "--role", "clerk", "--role", "official",
              "--password-env", "PW")
    user_id = json.loads(out)["user_id"]
    write = build_write_side(env)
    try:
        user = write.app.find_user("lan.tran")
        assert str(user.id) == user_id
        assert user.roles == ["clerk", "official"]
        assert user.unit_id is not None
        assert authenticate(write.identity, "lan.tran", "a-long-enough-password")
    finally:
        write.close()
    # A duplicate is refused with a readable error and exit code 2.
    assert main(["admin", "create-agency", "STTTT", "Again"]) == 2
    assert "already_exists" in capsys.readouterr().err


def test_admin_reactivates_a_disabled_account(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "admin", "create-admin", "root", "--password-env", "PW")
    run(capsys, "admin", "create-user", "lan.tran", "--full-name", "Trần Thị Lan",
        "--agency", "ADMIN", "--role", "clerk", "--password-env", "PW")
    # An admin disables the account (through the API's step): it can no longer log in.
    write = build_write_side(env)
    try:
        root, lan = write.app.find_user("root"), write.app.find_user("lan.tran")
        deactivate(write.identity, Principal(root.id, "root", root.agency_id, None,
                                             frozenset({Role.ADMIN})), lan.id, "nghỉ phép")
        with pytest.raises(InvalidCredentialsError):
            authenticate(write.identity, "lan.tran", "a-long-enough-password")
    finally:
        write.close()
    # The command line enables it again, and records why.
    out = json.loads(run(capsys, "admin", "reactivate-user", "lan.tran",
                         "--reason", "đi làm lại"))
    assert out["user_id"] == str(lan.id)
    write = build_write_side(env)
    try:
        assert authenticate(write.identity, "lan.tran", "a-long-enough-password").active
        last = write.app.history(lan.id)[-1]
        assert (last.type, last.payload["reason"]) == ("User.Reactivated", "đi làm lại")
        assert last.actor["username"] == "system"
        assert last.version == out["version"]
    finally:
        write.close()
    # An account that is active is refused with a readable error and exit code 2.
    assert main(["admin", "reactivate-user", "lan.tran", "--reason", "again"]) == 2
    assert capsys.readouterr().err.startswith("error: invalid_state: the account is active")
    # The reason is required.
    with pytest.raises(SystemExit):
        main(["admin", "reactivate-user", "lan.tran"])


def test_storage_gc_finds_and_removes_only_orphans(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "admin", "create-admin", "root", "--password-env", "PW")
    write = build_write_side(env)
    try:
        user = write.app.find_user("root")
        change_roles(
            write.identity,
            Principal(user.id, "root", user.agency_id, None, frozenset({Role.ADMIN})),
            user.id, [Role.ADMIN, Role.OFFICIAL], None)
        who = Principal(user.id, "root", user.agency_id, None,
                        frozenset({Role.ADMIN, Role.OFFICIAL}))
        kept = create_draft(write.outgoing, who, DraftRequest("Giữ lại", DocumentType.CONG_VAN),
                            io.BytesIO(make_pdf(1)), "a.pdf")
        kept_key = write.app.get_document(kept.id).current_revision.file.key
        # An upload whose event never got written: bytes stored, no event names them.
        orphan_path = env.spool_dir / "orphan.pdf"
        orphan_path.write_bytes(make_pdf(2, text="orphan"))
        import hashlib
        digest = hashlib.sha256(orphan_path.read_bytes()).hexdigest()
        orphan_key = write.blobs.put_file(orphan_path, digest, orphan_path.stat().st_size)
    finally:
        write.close()
    # Young objects are left alone: their events may still be on the way.
    assert "0 orphan(s)" in run(capsys, "storage", "gc")
    dry = run(capsys, "storage", "gc", "--min-age-hours", "0")
    assert f"would delete {orphan_key}" in dry
    assert kept_key not in dry
    assert (env.blob_dir / orphan_key).exists()
    done = run(capsys, "storage", "gc", "--min-age-hours", "0", "--delete")
    assert f"deleted {orphan_key}" in done
    assert not (env.blob_dir / orphan_key).exists()
    assert (env.blob_dir / kept_key).exists()


def test_serve_refuses_an_unmigrated_database(
    pg_cluster: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.support.pg import Cluster
    assert isinstance(pg_cluster, Cluster)
    import psycopg
    with psycopg.connect(pg_cluster.admin.conninfo(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS never_migrated")
        conn.execute("CREATE DATABASE never_migrated")
    from dataclasses import replace
    url = replace(pg_cluster.admin, dbname="never_migrated").url()
    monkeypatch.setenv("DOCMGMT_DATABASE_URL", url)
    monkeypatch.setenv("DOCMGMT_DATA_DIR", str(tmp_path))
    assert main(["admin", "set-password", "root", "--password-env", "HOME"]) == 2
    assert "run `docmgmt migrate`" in capsys.readouterr().err


def test_pki_init_dev_marks_everything_as_development(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "admin", "create-admin", "root", "--password-env", "PW")
    run(capsys, "admin", "create-agency", "STTTT", "Sở Thông tin và Truyền thông")
    run(capsys, "admin", "create-user", "binh.le", "--full-name", "Lê Văn Bình",
        "--agency", "STTTT", "--role", "leader", "--password-env", "PW")
    out = json.loads(run(capsys, "pki", "init-dev", "--agency", "STTTT", "--user", "binh.le"))
    assert out["note"] == "DEVELOPMENT — NOT FOR PRODUCTION"
    key = Path(out["created"][1]["key"])
    assert key.exists()
    root = (env.pki_dir / "STTTT" / "root-ca.pem").read_bytes()
    from cryptography import x509
    subject = x509.load_pem_x509_certificate(root).subject.rfc4514_string()
    assert "DEVELOPMENT — NOT FOR PRODUCTION" in subject
    # Running it again keeps the keys.
    before = key.read_bytes()
    run(capsys, "pki", "init-dev", "--agency", "STTTT", "--user", "binh.le")
    assert key.read_bytes() == before
