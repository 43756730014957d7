"""What users see in the exchange views: inboxes, outbox, registers, CSV, dashboard, search."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from docmgmt.incoming.queries import OPEN, ExchangeQueries, Handler, tsquery
from docmgmt.incoming.views import search_tag
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt
from tests.exchange_views.scenario import YEAR, Story, build, catch_up, query
from tests.support.pg import Cluster


@pytest.fixture(scope="module")
def world(pg_cluster: Cluster) -> Iterator[tuple[Database, Story]]:
    """The story written once and projected; the tests below only read."""
    db = pg_cluster.new_database()
    app = DocMgmt(env=db.app.eventsourcing_env("docmgmt", 2))
    try:
        story = build(app)
        catch_up(db, app)
        yield db, story
    finally:
        app.close()
        pg_cluster.drop_database(db)


def keys(story: Story, rows: list[dict[str, Any]]) -> list[str]:
    """The story's names of the incoming rows, in the order given."""
    names = {v: k for k, v in story.incoming.items()}
    return [names[r["id"]] for r in rows]


def test_each_handler_sees_their_own_documents_with_deadline_status(world: Any) -> None:
    db, s = world
    ubdn = s.agencies["UBDN"]

    async def calls(q: ExchangeQueries) -> Any:
        return (
            await q.inbox(ubdn, user_id=s.users["alice"], now=s.now_p),
            await q.inbox(ubdn, user_id=s.users["alice"], status=OPEN, now=s.now_p),
            await q.inbox(ubdn, user_id=s.users["bob"], now=s.now_p),
            await q.inbox(ubdn, user_id=s.users["alice"], status="withdrawn"),
        )

    alice, alice_open, bob, recalled = query(db, calls)
    assert keys(s, recalled.items) == ["in3"]
    # Newest arrival first; the recalled notice stays visible, marked withdrawn.
    assert keys(s, alice.items) == ["in9", "in3", "in1"]
    assert [r["status"] for r in alice.items] == ["assigned", "withdrawn", "in_progress"]
    assert keys(s, alice_open.items) == ["in9", "in1"]
    status = {k: r["deadline_status"] for k, r in zip(keys(s, alice.items), alice.items,
                                                      strict=True)}
    # in1 was due at T0+1d (overdue at T0+3d), in9 was extended to T0+28d.
    assert status == {"in9": "on_time", "in3": "none", "in1": "overdue"}
    in9 = alice.items[0]
    assert in9["deadline"] == s.t0 + timedelta(days=28)
    assert in9["pending_extension_deadline"] is None
    assert keys(s, bob.items) == ["in5", "in2"]
    in5, in2 = bob.items
    assert (in5["deadline_status"], in2["deadline_status"]) == ("none", "due_soon")
    assert in2["pending_extension_deadline"] == s.t0 + timedelta(days=12)
    assert in2["pending_extension_reason"] == "Chờ số liệu quyết toán"
    assert in5["completed_on_time"] is False
    assert in5["result"] == "Đã cung cấp"


def test_clerk_queue_and_unit_inbox_with_keyset_paging(world: Any) -> None:
    db, s = world
    ubdn = s.agencies["UBDN"]

    async def calls(q: ExchangeQueries) -> Any:
        clerk_late = await q.inbox(ubdn, user_id=s.users["clerk"], clerk_queue=True,
                                   now=s.now_p)
        clerk_today = await q.inbox(ubdn, clerk_queue=True)
        first = await q.inbox(ubdn, unit_id=s.units["UBDN.KT"], limit=2)
        second = await q.inbox(ubdn, unit_id=s.units["UBDN.KT"], limit=2,
                               cursor=first.next_cursor)
        th = await q.inbox(ubdn, unit_id=s.units["UBDN.TH"])
        sxd = await q.inbox(s.agencies["SXD"])
        return clerk_late, clerk_today, first, second, th, sxd

    clerk_late, clerk_today, first, second, th, sxd = query(db, calls)
    # Received (to register) and registered-but-unassigned copies wait for the clerk.
    assert keys(s, clerk_late.items) == ["in7", "in6"]
    assert [r["deadline_status"] for r in clerk_late.items] == ["none", "overdue"]
    # Registration is due at T0+1d: within two days of the real clock, so due soon.
    assert [r["deadline_status"] for r in clerk_today.items] == ["none", "due_soon"]
    assert clerk_late.items[1]["due_at"] == s.t0 + timedelta(days=1)
    # Phòng Kinh tế leads in9, in4, in3 and in1, two a page.
    assert keys(s, first.items) == ["in9", "in4"]
    assert first.next_cursor is not None
    assert keys(s, second.items) == ["in3", "in1"]
    assert second.next_cursor is None
    # Phòng Tổng hợp leads in2 and supports in1; in5 went to Bình personally, no unit.
    assert keys(s, th.items) == ["in2", "in1"]
    # Another agency sees only its own copy (returned, with the reason).
    assert keys(s, sxd.items) == ["sxd"]
    assert sxd.items[0]["status"] == "returned"
    assert sxd.items[0]["return_reason"] == "Gửi nhầm cơ quan"


def test_outbox_shows_every_recipients_acknowledgement_and_returns(world: Any) -> None:
    db, s = world
    stc = s.agencies["STC"]

    async def calls(q: ExchangeQueries) -> Any:
        return (await q.outbox(stc), await q.outbox(stc, unit_id=s.units["STC.NS"], limit=1),
                await q.outbox(s.agencies["UBDN"]))

    page, one, other = query(db, calls)
    by_id = {r["id"]: r for r in page.items}
    # Numbered documents only (the draft is not in the outbox), newest number first.
    assert [r["number_label"] for r in page.items] == ["07/TB-STC", "06/CV-STC", "05/QĐ-STC"]
    assert s.outgoing["draft"] not in by_id
    qd = by_id[s.outgoing["qd"]]
    states = [(r["name"], r["state"], r["arrival_label"], r["return_reason"])
              for r in qd["recipients"]]
    assert states == [
        ("Ủy ban nhân dân thành phố Đà Nẵng", "registered", "01", None),
        ("Sở Xây dựng", "returned", None, "Gửi nhầm cơ quan"),
        ("Bộ Tài chính", "external", None, None),
    ]
    assert qd["recipients"][0]["incoming_id"] == s.incoming["in1"]
    assert qd["delivery"] == {"registered": 1, "returned": 1, "external": 1}
    assert qd["status"] == "dispatched"
    assert qd["external_recipients"] == ["Bộ Tài chính"]
    cv = by_id[s.outgoing["cv"]]
    assert [r["state"] for r in cv["recipients"]] == ["delivered"]
    tb = by_id[s.outgoing["tb"]]
    assert tb["status"] == "recalled"
    assert tb["recall_reason"] == "Sai thời gian họp"
    assert [r["state"] for r in tb["recipients"]] == ["recall_confirmed"]
    assert tb["recipients"][0]["recall_confirmed_at"] is not None
    assert len(one.items) == 1
    assert one.next_cursor is not None
    assert other.items == []


def test_registers_list_every_field_by_number(world: Any) -> None:
    db, s = world

    async def calls(q: ExchangeQueries) -> Any:
        return (await q.incoming_register(s.agencies["UBDN"], YEAR),
                await q.outgoing_register(s.agencies["STC"], YEAR),
                await q.incoming_register(s.agencies["UBDN"], YEAR - 1))

    incoming, outgoing, last_year = query(db, calls)
    assert [r["arrival_number"] for r in incoming] == [1, 2, 3, 4, 5, 6, 7]
    assert keys(s, incoming) == ["in1", "in2", "in3", "in4", "in5", "in7", "in9"]
    first = incoming[0]
    assert first["sender_name"] == "Sở Tài chính"
    assert first["number_label"] == "05/QĐ-STC"
    assert first["doc_type"] == "QĐ"
    assert str(first["issued_date"]) == f"{YEAR}-03-01"
    assert first["urgency"] == "urgent"
    assert first["lead_unit_name"] == "Phòng Kinh tế"
    assert first["lead_user_name"] == "Đặng Thị Lan"
    assert first["supporting_unit_names"] == "Phòng Tổng hợp"
    assert first["registered_by_name"] == "Phạm Văn Thư"
    assert first["authentic"] is True
    assert first["authenticity"]["ok"] is True
    assert last_year == []
    assert [r["number"] for r in outgoing] == [5, 6, 7]
    qd = outgoing[0]
    assert qd["signer_name"] == "Nguyễn Văn An"
    assert qd["signing_capacity"] == "KT"
    assert qd["signer_title"] == "Phó Giám đốc"
    assert qd["unit_name"] == "Phòng Ngân sách"
    assert qd["recipient_names"] == ("Ủy ban nhân dân thành phố Đà Nẵng; Sở Xây dựng;"
                                     " Bộ Tài chính")
    assert outgoing[2]["status"] == "recalled"


def test_register_csv_opens_in_excel_with_vietnamese(world: Any) -> None:
    db, s = world

    async def calls(q: ExchangeQueries) -> Any:
        return (await q.incoming_register_csv(s.agencies["UBDN"], YEAR),
                await q.outgoing_register_csv(s.agencies["STC"], YEAR))

    incoming, outgoing = query(db, calls)
    assert incoming.startswith("\ufeff")
    assert outgoing.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(incoming[1:])))
    assert rows[0][:3] == ["Số đến / Arrival no.", "Ngày đến / Arrival date",
                           "Ngày vào sổ / Registered on"]
    assert [r[0] for r in rows[1:]] == ["01", "02", "03", "04", "05", "06", "07"]
    header = rows[0]
    first = dict(zip(header, rows[1], strict=True))
    assert first["Tác giả / Sender"] == "Sở Tài chính"
    assert first["Trích yếu nội dung / Summary"] == (
        "Quyết định về việc phân bổ ngân sách năm 2026")
    assert first["Độ khẩn / Urgency"] == "Khẩn"
    assert first["Ngày văn bản / Document date"] == f"01/03/{YEAR}"
    assert first["Trạng thái / Status"] == "Đang xử lý"
    recalled = dict(zip(header, rows[3], strict=True))
    assert recalled["Ghi chú / Notes"] == "Thu hồi / Recalled: Sai thời gian họp"
    # A summary that looks like a formula stays text in a spreadsheet.
    formula = dict(zip(header, rows[6], strict=True))
    assert formula["Trích yếu nội dung / Summary"] == "'=1+2 Báo cáo tổng hợp"
    out_rows = list(csv.reader(io.StringIO(outgoing[1:])))
    assert out_rows[0][0] == "Số, ký hiệu / Number and code"
    assert [r[0] for r in out_rows[1:]] == ["05/QĐ-STC", "06/CV-STC", "07/TB-STC"]
    assert dict(zip(out_rows[0], out_rows[1], strict=True))["Người ký / Signer"] == (
        "Nguyễn Văn An")


def test_dashboard_counts_per_unit_by_hand(world: Any) -> None:
    db, s = world
    ubdn, t0 = s.agencies["UBDN"], s.t0

    async def calls(q: ExchangeQueries) -> Any:
        return (
            await q.dashboard(ubdn, t0 - timedelta(days=1), t0 + timedelta(days=30),
                              now=s.now_p, due_soon=timedelta(days=2)),
            await q.dashboard(ubdn, t0 + timedelta(days=20), t0 + timedelta(days=40),
                              now=s.now_p),
            await q.dashboard(ubdn, t0 + timedelta(days=40), t0 + timedelta(days=50),
                              now=s.now_p),
        )

    month, later, empty = query(db, calls)
    counts = {r.unit_code: (r.total_assigned, r.completed_on_time, r.completed_late,
                            r.open_overdue, r.open_due_soon, r.open_on_time) for r in month}
    # KT: in1 open overdue (due T0+1d), in4 completed on time, in9 open (due T0+28d);
    # TH: in2 open due soon (T0+4d), in5 Bình's (his unit), completed late.
    # in3 was recalled: withdrawn documents are not counted.
    assert counts == {"KT": (3, 1, 0, 1, 0, 1), "TH": (2, 0, 1, 0, 1, 0)}
    kt = next(r for r in month if r.unit_code == "KT")
    assert kt.unit_name == "Phòng Kinh tế"
    assert kt.unit_id == s.units["UBDN.KT"]
    assert kt.avg_handling_hours is not None
    assert 0 <= kt.avg_handling_hours < 1
    # Only in9's (extended) deadline falls in [T0+20d, T0+40d).
    assert [(r.unit_code, r.total_assigned, r.open_on_time) for r in later] == [("KT", 1, 1)]
    assert later[0].avg_handling_hours is None
    assert empty == []


@pytest.mark.parametrize(("text", "agency", "expected"), [
    ("quyet dinh", "UBDN", {"in1"}),
    ("DINH quyết", "UBDN", {"in1"}),
    ("05/qđ", "UBDN", {"in1"}),
    ("tai chinh", "UBDN", {"in1", "in2", "in3", "in4", "in5", "in6", "in7", "in8", "in9"}),
    ("quyet dinh", "SXD", {"sxd"}),
    ("da nang", "STC", {"qd", "cv", "tb"}),
    ("ĐÀ NẴNG", "STC", {"qd", "cv", "tb"}),
    # Words in any order: the draft has "bộ" in its summary and STC's own name.
    ("bo tai chinh", "STC", {"qd", "draft"}),
    ("bộ tài chính phân", "STC", {"qd"}),
    ("quy dinh noi bo", "STC", {"draft"}),
    ("kiem tra quyet", "STC", {"cv"}),
    ("không có", "STC", set()),
    ("  /- ", "STC", set()),
    # Longer than any stored word can be: nothing matches (and PostgreSQL is not asked).
    ("quyet " + "d" * 3000, "UBDN", set()),
])
def test_search_ignores_diacritics(world: Any, text: str, agency: str,
                                   expected: set[str]) -> None:
    db, s = world
    hits = query(db, lambda q: q.search(s.agencies[agency], text, limit=50)).items
    names = {v: k for k, v in {**s.incoming, **s.outgoing}.items()}
    assert {names[h["id"]] for h in hits} == expected
    kinds = {h["kind"] for h in hits}
    assert kinds <= ({"incoming"} if agency != "STC" else {"outgoing"})


@pytest.mark.parametrize(("user", "unit", "expected"), [
    # Led by her, or by her unit (KT); in4 is KT's without a lead person.
    ("alice", "UBDN.KT", {"in1", "in3", "in4", "in9"}),
    # Led by him or by TH, or supported by TH (in1).
    ("bob", "UBDN.TH", {"in1", "in2", "in5"}),
    # Of no unit: only what he leads himself.
    ("bob", None, {"in2", "in5"}),
])
def test_search_for_a_handler_finds_only_their_incoming_documents(
        world: Any, user: str, unit: str | None, expected: set[str]) -> None:
    db, s = world
    handler = Handler(s.users[user], None if unit is None else s.units[unit])
    page = query(db, lambda q: q.search(s.agencies["UBDN"], "tai chinh", limit=50,
                                        handler=handler))
    assert set(keys(s, page.items)) == expected
    assert page.next_cursor is None


def test_search_pages_through_every_hit_once_newest_first(world: Any) -> None:
    db, s = world

    async def walk(q: ExchangeQueries) -> list[list[dict[str, Any]]]:
        pages, cursor = [], None
        while True:
            page = await q.search(s.agencies["UBDN"], "tai chinh", limit=4, cursor=cursor)
            pages.append(page.items)
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor

    pages = query(db, walk)
    assert [len(p) for p in pages] == [4, 4, 1]
    hits = [h for p in pages for h in p]
    assert set(keys(s, hits)) == {f"in{n}" for n in range(1, 10)}
    order = [(h["at"], h["id"]) for h in hits]
    assert order == sorted(order, reverse=True)
    # Both kinds page together: STC's outgoing documents and none of UBDN's copies.
    stc = query(db, lambda q: q.search(s.agencies["STC"], "bo tai chinh", limit=1))
    rest = query(db, lambda q: q.search(s.agencies["STC"], "bo tai chinh", limit=1,
                                        cursor=stc.next_cursor))
    assert {stc.items[0]["id"], rest.items[0]["id"]} == {s.outgoing["qd"], s.outgoing["draft"]}
    assert rest.next_cursor is None


def test_search_words_are_stored_behind_their_agency_tag(world: Any) -> None:
    db, s = world
    with psycopg.connect(db.owner.conninfo()) as conn:
        rows = conn.execute(
            "SELECT agency_id, tsvector_to_array(search_vector) FROM docmgmt.incoming_view"
            " UNION ALL SELECT agency_id, tsvector_to_array(search_vector)"
            " FROM docmgmt.outbox_view").fetchall()
    assert len(rows) == len(s.incoming) + len(s.outgoing)
    for agency_id, lexemes in rows:
        tag = search_tag(agency_id)
        assert lexemes
        assert all(x.startswith(tag) for x in lexemes), (tag, lexemes)
    # A copy's words include its summary and its recipient's name, behind that agency's tag.
    ubdn = search_tag(s.agencies["UBDN"])
    in1 = [x for a, x in rows if a == s.agencies["UBDN"] and ubdn + "phan" in x]
    assert len(in1) == 1
    assert {ubdn + "quyet", ubdn + "dinh", ubdn + "da", ubdn + "nang"} <= set(in1[0])
    assert tsquery("Quyết 05/QĐ", s.agencies["SXD"]) == " & ".join(
        f"'{search_tag(s.agencies['SXD'])}{w}':*" for w in ("quyet", "05", "qd"))


def test_agency_calendar_is_kept(world: Any) -> None:
    db, s = world
    cal = query(db, lambda q: q.agency_calendar(s.agencies["UBDN"]))
    assert cal is not None
    assert [d.isoformat() for d in cal["extra_days_off"]] == [f"{YEAR}-09-01"]
    assert [d.isoformat() for d in cal["make_up_working_days"]] == [f"{YEAR}-04-26"]
