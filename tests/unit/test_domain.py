"""Aggregates on their own: commands check, events record, replay rebuilds the same state."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import project_aggregate

from docmgmt.domain.agency import Agency
from docmgmt.domain.common import (
    Actor,
    Confidentiality,
    DocumentType,
    FileRef,
    Role,
    Urgency,
    agency_id_for,
    user_id_for,
)
from docmgmt.domain.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    RevisionNotFoundError,
)
from docmgmt.domain.outgoing import OutgoingDocument, Status
from docmgmt.domain.user import User
from docmgmt.kernel.store import mutate_in_turn

ACTOR = Actor(uuid.uuid4(), "an.nguyen", "10.0.0.7", "pytest", "req-1")


def file_ref(n: int = 1) -> FileRef:
    digest = f"{n:064x}"
    return FileRef(f"sha256/{digest[:2]}/{digest[2:4]}/{digest}", digest, 1000 + n, 2,
                   f"v{n}.pdf")


def draft() -> OutgoingDocument:
    return OutgoingDocument.draft(
        agency_id=uuid.uuid4(), unit_id=None, summary="  Về việc tổ chức hội nghị  ",
        doc_type=DocumentType.CONG_VAN, urgency=Urgency.URGENT,
        confidentiality=Confidentiality.NORMAL, legal_normative=False, file=file_ref(),
        actor=ACTOR,
    )


def replay(aggregate: OutgoingDocument) -> OutgoingDocument:
    events = aggregate.collect_events()
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert isinstance(rebuilt, OutgoingDocument)
    return rebuilt


def test_draft_records_who_what_and_the_first_revision() -> None:
    doc = draft()
    assert doc.status is Status.DRAFT
    assert doc.summary == "Về việc tổ chức hội nghị"
    assert doc.current_revision.number == 1
    assert doc.current_revision.file == file_ref()
    (event,) = doc.pending_events
    assert isinstance(event, OutgoingDocument.Drafted)
    assert event.actor == {"user_id": str(ACTOR.user_id), "username": "an.nguyen",
                           "client_ip": "10.0.0.7", "user_agent": "pytest",
                           "request_id": "req-1"}
    assert event.file["sha256"] == file_ref().sha256
    assert event.timestamp.tzinfo is not None


def test_revisions_comments_and_views_replay_to_the_same_state() -> None:
    doc = draft()
    assert doc.upload_revision(file_ref(2), "sửa theo góp ý", ACTOR) == 2
    doc.comment("Đề nghị bổ sung căn cứ pháp lý", ACTOR)
    assert doc.version == 3
    rebuilt = replay(doc)
    assert rebuilt.revisions == doc.revisions
    assert (rebuilt.comment_count, rebuilt.version) == (1, 3)


def test_a_load_folds_the_events_as_the_library_does() -> None:
    """Loads fold events with ``mutate_in_turn``, not the library's ``project_aggregate``
    (which checks a protocol on every event): the same state, from nothing or from a
    state part way (as after a snapshot)."""
    doc = draft()
    doc.upload_revision(file_ref(2), "sửa theo góp ý", ACTOR)
    for i in range(5):
        doc.comment(f"Góp ý {i}", ACTOR)
    events = doc.collect_events()
    ours, library = mutate_in_turn(None, events), project_aggregate(None, events)
    assert isinstance(ours, OutgoingDocument)
    assert isinstance(library, OutgoingDocument)
    assert vars(ours) == vars(library)
    assert (ours.version, ours.comment_count) == (7, 5)
    halfway = mutate_in_turn(None, events[:3])
    assert vars(mutate_in_turn(halfway, events[3:])) == vars(library)
    with pytest.raises(AttributeError):
        mutate_in_turn(None, [object()])


@pytest.mark.parametrize("summary", ["", "   ", "x" * 1001])
def test_draft_refuses_empty_or_overlong_summary(summary: str) -> None:
    with pytest.raises(InvalidInputError):
        OutgoingDocument.draft(
            agency_id=uuid.uuid4(), unit_id=None, summary=summary,
            doc_type=DocumentType.CONG_VAN, urgency=Urgency.NORMAL,
            confidentiality=Confidentiality.NORMAL, legal_normative=False, file=file_ref(),
            actor=ACTOR,
        )


def test_empty_comment_and_unknown_revision_are_refused_and_record_nothing() -> None:
    doc = draft()
    doc.collect_events()
    with pytest.raises(InvalidInputError):
        doc.comment("  ", ACTOR)
    with pytest.raises(RevisionNotFoundError):
        doc.revision(2)
    assert doc.pending_events == []


def test_agency_code_gives_a_stable_id_and_units_are_unique() -> None:
    agency = Agency.register(" sotttt ", "Sở Thông tin và Truyền thông", None, ACTOR)
    assert agency.code == "SOTTTT"
    assert agency.id == agency_id_for("SoTTTT")
    unit = agency.add_unit("vp", "Văn phòng", ACTOR)
    assert agency.units[unit].code == "VP"
    with pytest.raises(AlreadyExistsError):
        agency.add_unit("VP", "Văn phòng 2", ACTOR)


@pytest.mark.parametrize("code", ["", "A B", "X" * 33])
def test_agency_code_rules(code: str) -> None:
    with pytest.raises(InvalidInputError):
        Agency.register(code, "Name", None, ACTOR)


def test_user_roles_and_deactivation() -> None:
    user = User.register(username="Lan.Tran", full_name="Trần Thị Lan", title="Văn thư",
                         agency_id=uuid.uuid4(), unit_id=None, roles=[Role.CLERK, Role.CLERK],
                         actor=ACTOR)
    assert user.id == user_id_for("lan.tran")
    assert user.roles == ["clerk"]
    user.change_roles([Role.CLERK, Role.OFFICIAL], ACTOR)
    assert user.has_role(Role.OFFICIAL)
    with pytest.raises(InvalidInputError):
        user.change_roles([], ACTOR)
    user.deactivate("nghỉ hưu", ACTOR)
    assert not user.active
    with pytest.raises(InvalidStateError):
        user.change_roles([Role.LEADER], ACTOR)
    # An admin enables the account again; enabling an active account is refused.
    user.reactivate("trở lại làm việc", ACTOR)
    assert user.active
    assert isinstance(user.collect_events()[-1], User.Reactivated)
    with pytest.raises(InvalidStateError):
        user.reactivate("again", ACTOR)
    user.change_roles([Role.LEADER], ACTOR)


@pytest.mark.parametrize("username", ["ab", "has space", "ngô", "x" * 65])
def test_username_rules(username: str) -> None:
    with pytest.raises(InvalidInputError):
        User.register(username=username, full_name="X", title="", agency_id=uuid.uuid4(),
                      unit_id=None, roles=[Role.OFFICIAL], actor=ACTOR)


def test_views_go_to_the_access_log_not_the_document() -> None:
    from docmgmt.domain.access import AccessLog, access_log_id
    doc = draft()
    log = AccessLog(document_id=doc.id)
    log.record(1, file_ref().sha256, "download", ACTOR)
    assert log.id == access_log_id(doc.id)
    assert (log.views, doc.version) == (1, 1)
    viewed = log.collect_events()[-1]
    assert isinstance(viewed, AccessLog.Viewed)
    assert (viewed.document_id, viewed.purpose) == (doc.id, "download")
