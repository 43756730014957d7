"""The oversight projection over the exchange views' story (tests/exchange_views/scenario.py):
open rows with their step, holder and deadline, flows at three levels, unacknowledged
copies; then rebuilt from the events into identical tables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from docmgmt.domain.calendar import AgencyCalendar, dispatch_due
from docmgmt.domain.common import Confidentiality, DocumentType, SigningCapacity, Urgency
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from docmgmt.oversight.views import HOLIDAYS, start_oversight_views
from tests.exchange_views.scenario import Story, build, file
from tests.support.pg import Cluster

pytestmark = pytest.mark.postgres

NIL = UUID(int=0)
TABLES = ["oversight_agencies", "oversight_units", "oversight_people", "oversight_open",
          "oversight_unacknowledged", "oversight_daily", "oversight_mandates"]


def catch_up(db: Database, app: DocMgmt) -> None:
    """Run the oversight projection until it holds every event."""
    head = app.recorder.max_notification_id()
    with start_oversight_views(db.app.eventsourcing_env("docmgmt", 2)) as runner:
        runner.wait(head, timeout=60)


def rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    """The rows of a query, as the owner sees them."""
    with psycopg.connect(db.owner.conninfo(), row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


@contextlib.contextmanager
def written_story(pg_cluster: Cluster) -> Iterator[tuple[Database, DocMgmt, Story]]:
    """The story written on a fresh database, and the projection caught up."""
    db = pg_cluster.new_database()
    app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 2))
    try:
        written = build(app)
        catch_up(db, app)
        yield db, app, written
    finally:
        app.close()
        pg_cluster.drop_database(db)


@pytest.fixture(scope="module")
def story(pg_cluster: Cluster) -> Iterator[tuple[Database, DocMgmt, Story]]:
    """The story written once for the module's tests that only read it."""
    with written_story(pg_cluster) as written:
        yield written


@pytest.fixture
def own_story(pg_cluster: Cluster) -> Iterator[tuple[Database, DocMgmt, Story]]:
    """The story written for one test that changes it."""
    with written_story(pg_cluster) as written:
        yield written


def test_open_documents_wait_at_their_step_with_their_holder(
        story: tuple[Database, DocMgmt, Story]) -> None:
    db, _, s = story
    open_rows = {r["document_id"]: r for r in rows(db, "SELECT * FROM docmgmt.oversight_open")}
    # Still open: STC's draft and five UBDN copies (in3 withdrawn, in4/in5 completed,
    # in8 and SXD's copy returned; the three issued documents were dispatched).
    assert set(open_rows) == {s.outgoing["draft"], *(s.incoming[k] for k in (
        "in1", "in2", "in6", "in7", "in9"))}
    # The draft waits with its drafter, in Phòng Ngân sách, with no deadline.
    draft = open_rows[s.outgoing["draft"]]
    assert (draft["direction"], draft["step"], draft["holder_kind"], draft["holder_id"],
            draft["unit_id"], draft["person_id"], draft["due"], draft["label"]) == (
        "outgoing", "drafting", "person", s.users["drafter"], s.units["STC.NS"],
        s.users["drafter"], None, "")
    # in1: Lan of Phòng Kinh tế handles it, due one day after T0.
    in1 = open_rows[s.incoming["in1"]]
    assert (in1["agency_id"], in1["step"], in1["holder_kind"], in1["holder_id"],
            in1["unit_id"], in1["person_id"], in1["due"], in1["label"]) == (
        s.agencies["UBDN"], "handling", "person", s.users["alice"], s.units["UBDN.KT"],
        s.users["alice"], s.t0 + timedelta(days=1), "01")
    assert in1["assigned_at"] is not None
    # in2: Bình asked for more time; the leaders hold it until they decide.
    in2 = open_rows[s.incoming["in2"]]
    assert (in2["step"], in2["holder_kind"], in2["holder_id"], in2["extension_pending"],
            in2["unit_id"], in2["person_id"]) == (
        "extension", "leaders", None, True, s.units["UBDN.TH"], s.users["bob"])
    # in6 waits for the clerks to register it, due one day after T0, under its number.
    in6 = open_rows[s.incoming["in6"]]
    assert (in6["step"], in6["holder_kind"], in6["due"], in6["label"], in6["unit_id"]) == (
        "registration", "clerks", s.t0 + timedelta(days=1), "13/CV-STC", None)
    # in7 is registered and waits for a leader's assignment, with no deadline in law.
    in7 = open_rows[s.incoming["in7"]]
    assert (in7["step"], in7["holder_kind"], in7["due"], in7["label"]) == (
        "assignment", "leaders", None, "06")
    # in9's extension was granted: back with Lan, due at the new deadline.
    in9 = open_rows[s.incoming["in9"]]
    assert (in9["step"], in9["holder_kind"], in9["holder_id"], in9["due"],
            in9["extension_pending"]) == (
        "handling", "person", s.users["alice"], s.t0 + timedelta(days=28), False)


def test_only_unregistered_recipients_are_waited_for(
        story: tuple[Database, DocMgmt, Story]) -> None:
    db, _, s = story
    # qd: UBDN acknowledged, SXD returned it; tb was recalled; cv's copy is registered at
    # UBDN but no acknowledgement reached STC: one row, due when the copy was due.
    assert rows(db, "SELECT document_id, recipient_agency_id, agency_id, unit_id, person_id,"
                    " due FROM docmgmt.oversight_unacknowledged") == [{
        "document_id": s.outgoing["cv"], "recipient_agency_id": s.agencies["UBDN"],
        "agency_id": s.agencies["STC"], "unit_id": s.units["STC.NS"],
        "person_id": s.users["drafter"], "due": s.t0 + timedelta(days=1)}]


def test_flows_add_up_at_each_level(story: tuple[Database, DocMgmt, Story]) -> None:
    db, _, s = story
    # Summed over days, in case the story crossed midnight in Vietnam.
    found = {(r["agency_id"], r["level"], r["unit_id"], r["person_id"]): r for r in rows(
        db, "SELECT agency_id, level, unit_id, person_id, sum(arrived)::int AS arrived,"
            " sum(completed_on_time)::int AS on_time, sum(completed_late)::int AS late,"
            " sum(extensions_requested)::int AS asked,"
            " sum(extensions_granted)::int AS granted, sum(dispatched)::int AS sent,"
            " sum(dispatched_late)::int AS sent_late, sum(handling_seconds) AS seconds"
            " FROM docmgmt.oversight_daily GROUP BY 1, 2, 3, 4")}

    def figures(agency: str, level: int, unit: str | None = None,
                person: str | None = None) -> tuple[int, ...]:
        key = (s.agencies[agency], level, s.units[unit] if unit else NIL,
               s.users[person] if person else NIL)
        r = found[key]
        return (r["arrived"], r["on_time"], r["late"], r["asked"], r["granted"], r["sent"],
                r["sent_late"])

    # UBDN: 9 copies arrived; in4 done on time, in5 late; in2 and in9 asked for more time,
    # in9 got it.
    assert figures("UBDN", 0) == (9, 1, 1, 2, 1, 0, 0)
    # Arrivals belong to no unit yet; the rest to the lead unit and person.
    assert figures("UBDN", 1) == (9, 0, 0, 0, 0, 0, 0)
    assert figures("UBDN", 1, "UBDN.KT") == (0, 1, 0, 1, 1, 0, 0)
    assert figures("UBDN", 1, "UBDN.TH") == (0, 0, 1, 1, 0, 0, 0)
    assert figures("UBDN", 2, "UBDN.KT", "alice") == (0, 0, 0, 1, 1, 0, 0)
    assert figures("UBDN", 2, "UBDN.KT") == (0, 1, 0, 0, 0, 0, 0)
    # in5 was led by Bình alone: it rolls up under his unit.
    assert figures("UBDN", 2, "UBDN.TH", "bob") == (0, 0, 1, 1, 0, 0, 0)
    # STC dispatched three documents; the urgent decision was due at signing, so late.
    assert figures("STC", 0) == (0, 0, 0, 0, 0, 3, 1)
    assert figures("STC", 2, "STC.NS", "drafter") == (0, 0, 0, 0, 0, 3, 1)
    assert figures("SXD", 0) == (1, 0, 0, 0, 0, 0, 0)
    # Each level sums to the same totals.
    for level in (1, 2):
        assert sum(r["arrived"] for k, r in found.items() if k[1] == level) == 10
        assert sum(r["sent"] for k, r in found.items() if k[1] == level) == 3
    assert found[s.agencies["UBDN"], 0, NIL, NIL]["seconds"] >= 0


def test_the_tree_is_there(story: tuple[Database, DocMgmt, Story]) -> None:
    db, _, s = story
    agencies = {r["code"]: r for r in rows(db, "SELECT * FROM docmgmt.oversight_agencies")}
    assert set(agencies) == {"STC", "UBDN", "SXD"}
    assert agencies["UBDN"]["extra_days_off"] != []
    units = rows(db, "SELECT code FROM docmgmt.oversight_units WHERE agency_id = %s"
                     " ORDER BY code", s.agencies["UBDN"])
    assert [u["code"] for u in units] == ["KT", "TH", "VP"]
    lan = rows(db, "SELECT * FROM docmgmt.oversight_people WHERE id = %s", s.users["alice"])
    assert (lan[0]["full_name"], lan[0]["unit_id"]) == ("Đặng Thị Lan", s.units["UBDN.KT"])


def test_rebuilding_gives_identical_tables(story: tuple[Database, DocMgmt, Story]) -> None:
    db, app, _ = story
    dump = "SELECT * FROM docmgmt.{} ORDER BY 1, 2, 3"
    before = {t: rows(db, dump.format(t)) for t in TABLES}
    # Empty every table and forget the position, as an operator would to rebuild.
    with psycopg.connect(db.owner.conninfo()) as conn:
        conn.execute("TRUNCATE " + ", ".join(f"docmgmt.{t}" for t in TABLES))
        conn.execute("DELETE FROM docmgmt.oversight_tracking"
                     " WHERE application_name = 'docmgmt'")
    catch_up(db, app)
    assert {t: rows(db, dump.format(t)) for t in TABLES} == before


def test_missing_rows_and_restarts_never_stop_it(
        own_story: tuple[Database, DocMgmt, Story]) -> None:
    db, app, s = own_story
    # STC drafts another document; the projection sees it, then stops.
    drafter, director = s.actor("drafter"), s.actor("director")
    doc = OutgoingDocument.draft(
        agency_id=s.agencies["STC"], unit_id=None, summary="Công văn đôn đốc",
        doc_type=DocumentType.CONG_VAN, urgency=Urgency.NORMAL,
        confidentiality=Confidentiality.NORMAL, legal_normative=False, file=file("late"),
        actor=drafter)
    app.save(doc)
    catch_up(db, app)
    # in2's row is lost (as after a hand edit); its extension is then granted and it is
    # completed; the new document is approved and signed, seen by a restarted projection.
    with psycopg.connect(db.owner.conninfo()) as conn:
        conn.execute("DELETE FROM docmgmt.oversight_open WHERE document_id = %s",
                     (s.incoming["in2"],))
    in2: IncomingDocument = app.repository.get(s.incoming["in2"])
    in2.decide_extension(True, "Đồng ý", s.actor("chair"))
    in2.complete("Đã xong", None, datetime.now(UTC), s.actor("bob"))
    doc.submit_for_approval("", drafter)
    doc.approve("Đồng ý", director)
    doc.sign(capacity=SigningCapacity.KT, signer_title="Phó Giám đốc",
             input_sha256=doc.approved_file().sha256, output=file("late-s"), signature={},
             actor=director)
    app.save(in2, doc)
    before = rows(db, "SELECT sum(completed_late + completed_on_time) AS n"
                      " FROM docmgmt.oversight_daily WHERE level = 0")
    catch_up(db, app)
    # It got past every event: in2 stays absent and counts nothing more; the signed
    # document waits for its number, due by the rule from its signing.
    tracked = rows(db, "SELECT notification_id FROM docmgmt.oversight_tracking"
                       " WHERE application_name = 'docmgmt'")
    assert tracked == [{"notification_id": app.recorder.max_notification_id()}]
    assert rows(db, "SELECT 1 FROM docmgmt.oversight_open WHERE document_id = %s",
                s.incoming["in2"]) == []
    assert rows(db, "SELECT sum(completed_late + completed_on_time) AS n"
                    " FROM docmgmt.oversight_daily WHERE level = 0") == before
    [signed] = rows(db, "SELECT step, since, due FROM docmgmt.oversight_open"
                        " WHERE document_id = %s", doc.id)
    assert signed["step"] == "number"
    assert signed["due"] == dispatch_due(signed["since"], "normal", AgencyCalendar(HOLIDAYS))
