"""The demo city: made once on a fresh database, then read back as the pages read it.

Everything is asserted from the read side (the queries the API and the pages use), the
accounts by logging in with the printed passwords, and a second run must change nothing.
"""

from __future__ import annotations

import stat
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import pytest
from pypdf import PdfReader

from api.cli import main
from api.demo import PASSWORD_FILE, DemoResult, build_demo
from api.demo.data import OFFICES
from docmgmt.audit.trails import AuditQueries
from docmgmt.bootstrap import build_write_side
from docmgmt.domain.common import Role
from docmgmt.domain.errors import AgencyNotFoundError
from docmgmt.identity.login import log_in
from docmgmt.incoming.queries import ExchangeQueries
from docmgmt.kernel.db import Database
from docmgmt.kernel.principal import Principal
from docmgmt.outgoing.queries import ReadModelQueries
from docmgmt.oversight.model import Level
from docmgmt.oversight.queries import open_documents, period_of, rollup
from docmgmt.settings import Settings
from tests.support.pg import Cluster, on_pool
from tests.support.server import settings_for

pytestmark = pytest.mark.demo
T = TypeVar("T")
OUTGOING_STATES = {"draft", "submitted", "returned", "approved", "signed", "numbered",
                   "sealed", "dispatched", "recalled"}
INCOMING_STATES = {"received", "registered", "returned", "assigned", "in_progress",
                   "completed", "withdrawn"}


class Demo:
    """The demo made on its own database, and a way to query it."""

    def __init__(self, db: Database, settings: Settings, result: DemoResult) -> None:
        self.db = db
        self.settings = settings
        self.result = result

    def read(self, call: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """Run one read-side call on a fresh asyncpg pool (the application's login)."""
        return on_pool(self.db, call)

    def agencies(self) -> list[dict[str, Any]]:
        """Every agency with its units."""
        return self.read(lambda pool: ReadModelQueries(pool).list_agencies())

    def ids(self) -> dict[str, UUID]:
        """Agency ids by code."""
        return {a["code"]: a["id"] for a in self.agencies()}


@pytest.fixture(scope="module")
def demo(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo city, made once for the module on a fresh, empty database."""
    db = pg_cluster.new_database()
    try:
        settings = settings_for(db, tmp_path_factory.mktemp("demo"))
        yield Demo(db, settings, build_demo(settings))
    finally:
        pg_cluster.drop_database(db)


def test_the_city_is_a_tree_of_a_committee_a_department_and_two_wards(demo: Demo) -> None:
    agencies = {a["code"]: a for a in demo.agencies()}
    assert set(agencies) == {o.code for o in OFFICES}
    root = agencies["UBNDDN"]
    assert root["parent_id"] is None
    assert root["name"].startswith("Ủy ban nhân dân thành phố")
    for code in ("STTTT", "PHC", "PTT"):
        assert agencies[code]["parent_id"] == root["id"]
        assert len(agencies[code]["units"]) >= 2
    calendar = demo.read(lambda pool: ExchangeQueries(pool).agency_calendar(root["id"]))
    assert calendar is not None
    assert calendar["extra_days_off"]
    assert calendar["make_up_working_days"]


def test_each_agency_has_a_user_per_role_and_the_inspector_reads_them_all(
        demo: Demo) -> None:
    users = demo.read(lambda pool: ReadModelQueries(pool).list_users(None))
    for code, agency_id in demo.ids().items():
        roles = {Role(r) for u in users if u["agency_id"] == agency_id for r in u["roles"]}
        assert roles == set(Role), code
    leaders = [u for u in users if Role.LEADER.value in u["roles"]]
    assert all(u["title"] for u in leaders)
    inspector = next(u for u in users if u["username"] == "ubnddn.thanhtra")
    mandates = demo.read(lambda pool: AuditQueries(pool).list_mandates(inspector["id"]))
    assert {m["agency_id"] for m in mandates if m["in_force"]} == {
        str(i) for i in demo.ids().values()}


def test_outgoing_documents_are_in_every_state(demo: Demo) -> None:
    ids = demo.ids()

    async def documents(pool: asyncpg.Pool) -> list[dict[str, Any]]:
        found = []
        for agency_id in ids.values():
            items, _ = await ReadModelQueries(pool).list_documents(agency_id, limit=200,
                                                                   offset=0)
            found += items
        return found

    documents_ = demo.read(documents)
    assert {d["status"] for d in documents_} >= OUTGOING_STATES
    drafts = [d for d in documents_ if d["status"] == "draft"]
    assert any(d["comment_count"] and d["revision_count"] > 1 for d in drafts)
    assert any(d["view_count"] for d in documents_)


def test_incoming_copies_are_in_every_state_some_overdue(demo: Demo) -> None:
    ids = demo.ids()

    async def everything(pool: asyncpg.Pool) -> tuple[list[dict[str, Any]],
                                                      list[dict[str, Any]]]:
        queries, copies, sent = ExchangeQueries(pool), [], []
        for agency_id in ids.values():
            copies += (await queries.inbox(agency_id, limit=200)).items
            sent += (await queries.outbox(agency_id, limit=200)).items
        return copies, sent

    copies, sent = demo.read(everything)
    assert {c["status"] for c in copies} >= INCOMING_STATES
    assert any(c["progress_count"] >= 2 and c["pending_extension_deadline"] for c in copies)
    withdrawn = [c for c in copies if c["status"] == "withdrawn"]
    assert {c["withdrawal_confirmed"] for c in withdrawn} == {True, False}
    completed = [c for c in copies if c["status"] == "completed"]
    assert {c["completed_on_time"] for c in completed} == {True, False}
    statuses = {(c["status"], c["deadline_status"]) for c in copies}
    assert ("received", "overdue") in statuses  # urgent: to be registered at once
    assert ("in_progress", "overdue") in statuses
    assert {"due_soon", "on_time"} <= {s for _, s in statuses}
    # The sender's side: a copy returned by its recipient, an overdue dispatch.
    assert any(r["state"] == "returned" for d in sent for r in d["recipients"])
    assert any(d["dispatch_status"] == "overdue" for d in sent)
    assert demo.result.incoming == Counter(c["status"] for c in copies)


def test_the_chairman_oversees_the_city_and_the_director_the_department(demo: Demo) -> None:
    ids = demo.ids()
    users = {u["username"]: u for u in demo.read(
        lambda pool: ReadModelQueries(pool).list_users(None))}

    def principal(username: str) -> Principal:
        u = users[username]
        return Principal(UUID(str(u["id"])), username, UUID(str(u["agency_id"])), None,
                         frozenset({Role.LEADER}))

    chairman, director = principal("ubnddn.lanhdao"), principal("stttt.lanhdao")
    now = datetime.now(UTC)
    period = period_of(None, None, now)
    city = demo.read(lambda pool: rollup(pool, chairman, ids["UBNDDN"], period=period,
                                         now=now))
    # The department and the two wards, each a line; the city's own units after them.
    assert [ln.code for ln in city.lines if ln.level is Level.AGENCY] == ["PHC", "PTT", "STTTT"]
    # The story left copies overdue (an urgent one never registered, one in progress)
    # and a dispatch overdue: the city sees them, with who holds them.
    assert city.total.registration_overdue >= 1
    assert city.total.handling_overdue >= 1
    late, _ = demo.read(lambda pool: open_documents(pool, chairman, ids["UBNDDN"],
                                                    late_only=True, now=now))
    assert late
    assert all(d.late and d.step and d.since for d in late)
    # The director sees the department only: the city answers as if it did not exist.
    assert demo.read(lambda pool: rollup(pool, director, ids["STTTT"], period=period,
                                         now=now)).lines
    with pytest.raises(AgencyNotFoundError):
        demo.read(lambda pool: rollup(pool, director, ids["UBNDDN"], period=period, now=now))


def test_the_password_file_is_private_and_every_password_logs_in(demo: Demo) -> None:
    path = demo.result.password_file
    assert path == demo.settings.data_dir.resolve() / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    write = build_write_side(demo.settings)
    try:
        for account in demo.result.accounts:
            assert f"{account.username} " in text
            assert account.password in text
            user, _ = log_in(write.identity, account.username, account.password, "127.0.0.1")
            assert Role(account.role) in user.roles
    finally:
        write.close()


def test_a_second_run_refuses_and_changes_nothing(
        demo: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    def head() -> int:
        write = build_write_side(demo.settings)
        try:
            return write.app.recorder.max_notification_id() or 0
        finally:
            write.close()

    before, password_file = head(), demo.result.password_file.read_bytes()
    for name, value in (("DATABASE_URL", demo.db.app.url()),
                        ("MIGRATION_DATABASE_URL", demo.db.owner.url()),
                        ("DATA_DIR", str(demo.settings.data_dir))):
        monkeypatch.setenv(f"DOCMGMT_{name}", value)
    assert main(["demo"]) == 2
    out = capsys.readouterr()
    assert "already has agencies" in out.err
    assert "making the demo city" not in out.out
    assert head() == before
    assert demo.result.password_file.read_bytes() == password_file


def test_the_pdfs_carry_vietnamese_text(demo: Demo) -> None:
    blobs = sorted((demo.settings.data_dir / "blobs").rglob("*"))
    texts = [PdfReader(p).pages[0].extract_text() for p in blobs if p.is_file()]
    assert any("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in t for t in texts)
    assert any("Ủy ban nhân dân phường Hải Châu" in t for t in texts)
