"""The read model: one projection keeps the outgoing documents' views, and the agency, unit
and user views that every stage reads, exactly once with eventsourcing tracking.

It stays one class under one tracking name ("readmodel"): splitting or renaming it would
make an upgrade rebuild every view."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection, ProjectionRunner

from docmgmt.domain.access import AccessLog
from docmgmt.domain.agency import Agency
from docmgmt.domain.audit_mandate import AuditMandate
from docmgmt.domain.common import FilePayload
from docmgmt.domain.outgoing import OutgoingDocument, Registration
from docmgmt.domain.user import User
from docmgmt.kernel.projections import ReadModelRecorder, S, Statement, start_projection
from docmgmt.kernel.store import DocMgmt


def _actor_id(event: Any) -> str:
    return str(event.actor["user_id"])


class ReadModel(Projection[ReadModelRecorder]):
    """Maintains agencies, units, users, documents and revisions views."""

    name = "readmodel"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events that change no view still advance the tracking position."""
        self.view.apply([], tracking)

    @process_event.register
    def _(self, e: Agency.Registered, tracking: Tracking) -> None:
        self.view.apply([(
            f"INSERT INTO {S}.agencies_view (id, code, name, parent_id, created_at, version) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (e.originator_id, e.code, e.name, e.parent_id, e.timestamp, e.originator_version),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.Renamed, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.agencies_view SET name = %s, version = %s WHERE id = %s",
            (e.name, e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.CalendarSet | Agency.PlaceNameSet, tracking: Tracking) -> None:
        # The calendar lives in the exchange views and the place name is read from the
        # aggregate when numbering; the agency's version moves all the same.
        self.view.apply([(
            f"UPDATE {S}.agencies_view SET version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: Agency.UnitAdded, tracking: Tracking) -> None:
        self.view.apply([
            (f"INSERT INTO {S}.units_view (id, agency_id, code, name) VALUES (%s, %s, %s, %s)",
             (e.unit_id, e.originator_id, e.code, e.name)),
            (f"UPDATE {S}.agencies_view SET version = %s WHERE id = %s",
             (e.originator_version, e.originator_id)),
        ], tracking)

    @process_event.register
    def _(self, e: User.Registered, tracking: Tracking) -> None:
        self.view.apply([(
            f"INSERT INTO {S}.users_view (id, username, full_name, title, agency_id, unit_id,"
            " roles, active, created_at, version) VALUES (%s,%s,%s,%s,%s,%s,%s,true,%s,%s)",
            (e.originator_id, e.username, e.full_name, e.title, e.agency_id, e.unit_id,
             list(e.roles), e.timestamp, e.originator_version),
        )], tracking)

    @process_event.register
    def _(self, e: User.RolesChanged, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.users_view SET roles = %s, version = %s WHERE id = %s",
            (list(e.roles), e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: User.Deactivated, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.users_view SET active = false, version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: User.Reactivated, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.users_view SET active = true, version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    def _user_version(self, e: Any, tracking: Tracking) -> None:
        """Events that change no column of users_view but the user's version."""
        self.view.apply([(
            f"UPDATE {S}.users_view SET version = %s WHERE id = %s",
            (e.originator_version, e.originator_id),
        )], tracking)

    for _user_event in (User.PasswordChanged, User.CertificateRegistered,
                        User.CertificateRemoved):
        process_event.register(_user_event)(_user_version)
    del _user_event

    @process_event.register
    def _(self, e: OutgoingDocument.Drafted, tracking: Tracking) -> None:
        f = e.file
        self.view.apply([
            (f"INSERT INTO {S}.documents_view (id, agency_id, unit_id, drafted_by, summary,"
             " doc_type, urgency, confidentiality, legal_normative, status, revision_count,"
             " current_sha256, current_file_name, current_size, current_page_count,"
             " comment_count, view_count, created_at, updated_at, version, latest_sha256)"
             " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,'draft',1,%s,%s,%s,%s,0,0,%s,%s,%s,%s)",
             (e.originator_id, e.agency_id, e.unit_id, _actor_id(e), e.summary, e.doc_type,
              e.urgency, e.confidentiality, e.legal_normative, f["sha256"], f["file_name"],
              f["size"], f["page_count"], e.timestamp, e.timestamp, e.originator_version,
              f["sha256"])),
            _revision_row(e.originator_id, 1, f, "", _actor_id(e), e.timestamp),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.RevisionUploaded, tracking: Tracking) -> None:
        f = e.file
        self.view.apply([
            (f"UPDATE {S}.documents_view SET revision_count = %s, current_sha256 = %s,"
             " current_file_name = %s, current_size = %s, current_page_count = %s,"
             " latest_sha256 = %s, updated_at = %s, version = %s WHERE id = %s",
             (e.revision, f["sha256"], f["file_name"], f["size"], f["page_count"],
              f["sha256"], e.timestamp, e.originator_version, e.originator_id)),
            _revision_row(e.originator_id, e.revision, f, e.note, _actor_id(e), e.timestamp),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Commented, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.documents_view SET comment_count = comment_count + 1,"
            " updated_at = %s, version = %s WHERE id = %s",
            (e.timestamp, e.originator_version, e.originator_id),
        )], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.SignatureRequested, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.documents_view SET signature_request_id = %s, signature_method = %s,"
            " signature_provider = %s, signature_signer_id = %s, signature_expires_at = %s,"
            " updated_at = %s, version = %s WHERE id = %s",
            (e.request_id, e.method, e.provider, e.actor["user_id"], e.expires_at,
             e.timestamp, e.originator_version, e.originator_id),
        )], tracking)

    def _request_ended(self, e: Any, tracking: Tracking) -> None:
        """A request that ended leaves no pending request (``Signed`` follows a provided one)."""
        self.view.apply([(
            f"UPDATE {S}.documents_view SET signature_request_id = NULL,"
            " signature_method = NULL, signature_provider = NULL, signature_signer_id = NULL,"
            " signature_expires_at = NULL, updated_at = %s, version = %s WHERE id = %s",
            (e.timestamp, e.originator_version, e.originator_id),
        )], tracking)

    for _ended in (OutgoingDocument.SignatureProvided, OutgoingDocument.SignatureRefused,
                   OutgoingDocument.SignatureExpired, OutgoingDocument.SignatureCancelled):
        process_event.register(_ended)(_request_ended)
    del _ended

    @process_event.register
    def _(self, e: OutgoingDocument.AppendixAttached, tracking: Tracking) -> None:
        f = e.file
        self.view.apply([
            (f"UPDATE {S}.documents_view SET updated_at = %s, version = %s WHERE id = %s",
             (e.timestamp, e.originator_version, e.originator_id)),
            (f"INSERT INTO {S}.appendices_view (document_id, number, title, blob_key, sha256,"
             " size, page_count, file_name) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
             (e.originator_id, e.appendix, e.title, f["key"], f["sha256"], f["size"],
              f["page_count"], f["file_name"])),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.SubmittedForApproval, tracking: Tracking) -> None:
        self.view.apply([_status(e, "submitted")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Approved, tracking: Tracking) -> None:
        self.view.apply([_status(e, "approved", ", approved_revision = %s", (e.revision,))],
                        tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReturnedForRevision, tracking: Tracking) -> None:
        self.view.apply([_status(e, "returned", ", approved_revision = NULL")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Signed, tracking: Tracking) -> None:
        self.view.apply([
            _status(e, "signed", ", signed_by = %s, signing_capacity = %s,"
                    " latest_sha256 = %s, validation = %s",
                    (_actor_id(e), e.capacity, e.file["sha256"],
                     _verdict(e.signature.get("validation", {})))),
            _output(e, "signed"),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Numbered, tracking: Tracking) -> None:
        label = Registration(e.number, e.code, e.date, e.year, e.series).label
        self.view.apply([
            _status(e, "numbered", ", number = %s, code = %s, number_label = %s,"
                    " issued_date = %s, series = %s, latest_sha256 = %s, validation = %s",
                    (e.number, e.code, label, date.fromisoformat(e.date), e.series,
                     e.file["sha256"], _verdict(e.validation))),
            _output(e, "numbered"),
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Sealed, tracking: Tracking) -> None:
        self.view.apply([
            _status(e, "sealed", ", latest_sha256 = %s, validation = %s",
                    (e.file["sha256"], _verdict(e.signature.get("validation", {})))),
            _output(e, "sealed"),
            *[(f"UPDATE {S}.appendices_view SET sealed_blob_key = %s, sealed_sha256 = %s"
               " WHERE document_id = %s AND number = %s",
               (a["key"], a["sha256"], e.originator_id, n))
              for n, a in enumerate(e.appendices, start=1)],
        ], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Dispatched, tracking: Tracking) -> None:
        self.view.apply([_status(e, "dispatched")], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.Recalled, tracking: Tracking) -> None:
        self.view.apply([_status(e, "recalled")], tracking)

    # Links, deliveries, acknowledgements, returns and recall confirmations change no column
    # of this view, but they are the document's events: its version (the ETag a client
    # sends back as If-Match) must move with them, or every later write is refused.

    @process_event.register
    def _(self, e: OutgoingDocument.Linked, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.DeliveredTo, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.ReceiptAcknowledged, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.DeliveryReturned, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: OutgoingDocument.RecallConfirmed, tracking: Tracking) -> None:
        self.view.apply([_touched(e)], tracking)

    @process_event.register
    def _(self, e: AccessLog.Viewed, tracking: Tracking) -> None:
        # A view is not an edit: neither updated_at nor the document's version move.
        self.view.apply([(
            f"UPDATE {S}.documents_view SET view_count = view_count + 1 WHERE id = %s",
            (e.document_id,),
        )], tracking)

    @process_event.register
    def _(self, e: AuditMandate.Granted, tracking: Tracking) -> None:
        # A re-grant replaces the terms of a revoked or expired mandate.
        self.view.apply([(
            f"INSERT INTO {S}.audit_scopes_view (auditor_id, agency_id, valid_from, valid_to,"
            " revoked) VALUES (%s, %s, %s, %s, false) ON CONFLICT (auditor_id, agency_id)"
            " DO UPDATE SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,"
            " revoked = false",
            (e.auditor_id, e.agency_id, e.valid_from, e.valid_to),
        )], tracking)

    @process_event.register
    def _(self, e: AuditMandate.Revoked, tracking: Tracking) -> None:
        self.view.apply([(
            f"UPDATE {S}.audit_scopes_view SET revoked = true"
            " WHERE auditor_id = %s AND agency_id = %s",
            (e.auditor_id, e.agency_id),
        )], tracking)


def _status(e: Any, status: str, extra: str = "", params: tuple[Any, ...] = ()) -> Statement:
    return (
        f"UPDATE {S}.documents_view SET status = %s{extra}, updated_at = %s, version = %s"
        " WHERE id = %s",
        (status, *params, e.timestamp, e.originator_version, e.originator_id),
    )


def _touched(e: Any) -> Statement:
    return (
        f"UPDATE {S}.documents_view SET updated_at = %s, version = %s WHERE id = %s",
        (e.timestamp, e.originator_version, e.originator_id),
    )


def _output(e: Any, step: str) -> Statement:
    f = e.file
    return (
        f"INSERT INTO {S}.outputs_view (document_id, step, blob_key, sha256, size, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (e.originator_id, step, f["key"], f["sha256"], f["size"], e.timestamp),
    )


def _verdict(validation: Mapping[str, object]) -> str:
    # Read back from the event store: JSON whose verdicts are plain strings again.
    return json.dumps(validation, ensure_ascii=False, sort_keys=True)


def _revision_row(
    document_id: Any, revision: int, f: FilePayload, note: str, by: str, at: Any
) -> Statement:
    return (
        f"INSERT INTO {S}.revisions_view (document_id, revision, blob_key, sha256, size,"
        " page_count, file_name, note, uploaded_by, uploaded_at)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (document_id, revision, f["key"], f["sha256"], f["size"], f["page_count"],
         f["file_name"], note, by, at),
    )


def start_read_model(es_env: dict[str, str]) -> ProjectionRunner[DocMgmt, ReadModelRecorder]:
    """Start the read-model projection in this process (exactly once via tracking)."""
    return start_projection(ReadModel, ReadModelRecorder, es_env)
