"""Replay: an outgoing document or an incoming copy as it stood at a version or moment.

The state is rebuilt from the stored events alone (``repository.get(id, version=N)``), never
from the read model, so an auditor sees exactly what the record said then.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from docmgmt.audit.mandates import in_scope
from docmgmt.domain.common import FileRef, Role
from docmgmt.domain.errors import DocumentNotFoundError, InvalidInputError, NotFoundError
from docmgmt.domain.incoming import IncomingDocument
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.incoming.handling import may_read
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt, mutate_in_turn
from docmgmt.outgoing.context import DOCUMENT_READERS
from docmgmt.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]


class VersionNotFoundError(NotFoundError):
    """The document has no such version (or did not exist yet at that moment)."""

    code = "version_not_found"


def _file(ref: FileRef | None) -> dict[str, Any] | None:
    return None if ref is None else asdict(ref)


def _iso(value: datetime) -> str:
    return value.isoformat()


def version_at(app: DocMgmt, document_id: UUID, at: datetime) -> int:
    """The version of the last event recorded at or before ``at`` (tz-aware)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInputError("the moment must carry a time zone, e.g. +07:00", at=str(at))
    found: int | None = None
    for e in app.events.get(document_id):
        if e.timestamp > at:  # type: ignore[attr-defined]
            break
        found = e.originator_version
    if found is None:
        raise VersionNotFoundError(
            f"document {document_id} did not exist at {at.isoformat()}",
            id=str(document_id), at=at.isoformat())
    return found


def last_version(app: DocMgmt, document_id: UUID) -> int:
    """The document's current version, or DocumentNotFoundError."""
    rows = app.recorder.select_events(document_id, desc=True, limit=1)
    if not rows:
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found",
                                    id=str(document_id))
    return int(rows[0].originator_version)


def load_any_as_of(
    app: DocMgmt, document_id: UUID, *, version: int | None = None,
    at: datetime | None = None,
) -> OutgoingDocument | IncomingDocument:
    """An outgoing or incoming document rebuilt from its events up to a version or moment."""
    if (version is None) == (at is None):
        raise InvalidInputError("give exactly one of version or at")
    current = last_version(app, document_id)
    wanted = version_at(app, document_id, at) if at is not None else (version or 0)
    if not 1 <= wanted <= current:
        raise VersionNotFoundError(
            f"document {document_id} has versions 1 to {current}, not {wanted}",
            id=str(document_id), version=wanted, last_version=current)
    try:
        document: Any = app.repository.get(document_id, version=wanted,
                                           projector_func=mutate_in_turn)
    except AggregateNotFoundError:
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found",
                                    id=str(document_id)) from None
    if not isinstance(document, OutgoingDocument | IncomingDocument):
        raise DocumentNotFoundError(f"document {document_id} not found", id=str(document_id))
    return document


def load_as_of(
    app: DocMgmt, document_id: UUID, *, version: int | None = None,
    at: datetime | None = None,
) -> OutgoingDocument:
    """The outgoing document rebuilt from its events up to a version or a moment (give one)."""
    document = load_any_as_of(app, document_id, version=version, at=at)
    if not isinstance(document, OutgoingDocument):
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found",
                                    id=str(document_id))
    return document


def describe_incoming(document: IncomingDocument, at: datetime | None = None) -> dict[str, Any]:
    """The JSON form of a replayed incoming copy: where it came from and how it stands."""
    return {
        "id": str(document.id), "kind": "incoming", "version": document.version,
        "as_of": _iso(document.modified_on),
        "requested_at": _iso(document.modified_on if at is None else at),
        "agency_id": str(document.agency_id), "outgoing_id": str(document.outgoing_id),
        "sender_agency_id": str(document.sender_agency_id),
        "sender_name": document.sender_name, "number_label": document.number_label,
        "summary": document.summary, "doc_type": document.doc_type,
        "status": str(document.status), "urgency": document.urgency,
        "confidentiality": document.confidentiality, "file": dict(document.file),
        "arrival_number": document.arrival_number, "arrival_year": document.arrival_year,
        "lead_unit_id": None if document.lead_unit_id is None else str(document.lead_unit_id),
        "lead_user_id": None if document.lead_user_id is None else str(document.lead_user_id),
        "supporting_unit_ids": list(document.supporting_unit_ids),
        "deadline": document.deadline, "pending_extension": document.pending_extension,
        "return_reason": document.return_reason, "withdrawn": document.withdrawn,
    }


# What the person said or decided at a step: reasons (return, recall, extension,
# withdrawal), comments, notes, instructions, a result, a deadline.
_SAID = ("reason", "text", "note", "comment", "instructions", "result", "deadline",
         "proposed_deadline", "arrival_label")
# Who did it: most events name an ``actor``; a recipient's answer names ``by``, a
# withdrawal the sender's ``recalled_by``.
_WHO = ("actor", "by", "recalled_by")


def steps(app: DocMgmt, document_id: UUID, version: int) -> list[dict[str, Any]]:
    """Each event up to ``version``: what it was, when, who did it from where, what was said."""
    out: list[dict[str, Any]] = []
    for e in app.events.get(document_id, lte=version):
        body = vars(e)
        actor = next((body[k] for k in _WHO if isinstance(body.get(k), dict)), None)
        step: dict[str, Any] = {
            "version": e.originator_version, "event": type(e).__name__,
            "type": type(e).__qualname__,
            "at": _iso(e.timestamp),  # type: ignore[attr-defined]
            "actor": dict(actor) if isinstance(actor, dict) else None,
        }
        step.update({k: body[k] for k in _SAID if isinstance(body.get(k), str)})
        if isinstance(body.get("granted"), bool):
            step["granted"] = body["granted"]
        out.append(step)
    return out


def upload_time(app: DocMgmt, document: OutgoingDocument) -> datetime:
    """When the current revision was uploaded, from its own event's timestamp.

    The aggregate's ``uploaded_at`` is set while the event body is applied, before
    eventsourcing moves ``modified_on`` forward, so it holds the previous event's time.
    """
    revision = document.current_revision
    if revision.number == 1:
        return document.created_on
    for e in app.events.get(document.id, lte=document.version, desc=True):
        if (isinstance(e, OutgoingDocument.RevisionUploaded)
                and e.revision == revision.number):
            return e.timestamp
    return revision.uploaded_at


def describe(document: OutgoingDocument, at: datetime | None = None,
             uploaded_at: datetime | None = None) -> dict[str, Any]:
    """The JSON form of a replayed document: metadata, the exact files and verdicts."""
    revision = document.current_revision
    registration = document.registration
    return {
        "id": str(document.id), "kind": "outgoing",
        "version": document.version,
        "as_of": _iso(document.modified_on),
        # A replay by version asks for the moment that version was recorded.
        "requested_at": _iso(document.modified_on if at is None else at),
        "agency_id": str(document.agency_id),
        "unit_id": None if document.unit_id is None else str(document.unit_id),
        "summary": document.summary,
        "doc_type": document.doc_type.value,
        "status": document.status.value,
        "urgency": document.urgency.value,
        "confidentiality": document.confidentiality.value,
        "legal_normative": document.legal_normative,
        "revision_count": len(document.revisions),
        "current_revision": {
            "number": revision.number, "sha256": revision.file.sha256,
            "key": revision.file.key, "size": revision.file.size,
            "page_count": revision.file.page_count, "file_name": revision.file.file_name,
            "uploaded_at": _iso(revision.uploaded_at if uploaded_at is None else uploaded_at),
        },
        "approved_revision": document.approved_revision,
        "latest_sha256": document.latest_file.sha256,
        "signed_file": _file(document.signed_file),
        "numbered_file": _file(document.numbered_file),
        "sealed_file": _file(document.sealed_file),
        "registration": None if registration is None else {
            **asdict(registration), "label": registration.label},
        "latest_validation": document.latest_validation or None,
        "comment_count": document.comment_count,
        # Each recipient in the system as the sender saw it then (dispatched, delivered,
        # acknowledged with its arrival label, returned or recall confirmed, with a reason).
        "recipients": [dict(r) for r in document.recipients.values()],
        "external_recipients": list(document.external_recipients),
        "recall_reason": document.recall_reason,
        "appendices": [
            {"number": a.number, "title": a.title, "file": _file(a.file),
             "sealed_file": _file(a.sealed_file)}
            for a in document.appendices
        ],
    }


def replay_document(
    app: DocMgmt, document_id: UUID, *, version: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The document's state as of a version or a moment (the last event at or before it)."""
    document = load_any_as_of(app, document_id, version=version, at=at)
    state = (describe_incoming(document, at) if isinstance(document, IncomingDocument)
             else describe(document, at, upload_time(app, document)))
    state["steps"] = steps(app, document_id, document.version)
    return state


def replay(store: DocMgmt, who: Principal, document_id: UUID, *, version: int | None,
           at: datetime | None) -> dict[str, Any]:
    """A document as of a version or moment: readers of its agency, or auditors with a
    mandate in force for it (an auditor's replay is recorded in the access log)."""
    who.require(*DOCUMENT_READERS)
    try:
        document = store.load(OutgoingDocument, document_id, DocumentNotFoundError)
    except DocumentNotFoundError:
        return _replay_incoming(store, who, document_id, version=version, at=at)
    # Only an auditor's read costs the extra load of the mandate.
    if document.agency_id != who.agency_id and not in_scope(store, who, document.agency_id):
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found")
    replayed = load_as_of(store, document_id, version=version, at=at)
    state = describe(replayed, at, upload_time(store, replayed))
    state["steps"] = steps(store, document_id, replayed.version)
    if Role.AUDITOR in who.roles:
        revision = state["current_revision"]
        store.record_view(document_id, revision["number"], state["latest_sha256"],
                          f"audit:replay:v{state['version']}", who.actor)
    return state


def _replay_incoming(store: DocMgmt, who: Principal, document_id: UUID, *,
                     version: int | None, at: datetime | None) -> dict[str, Any]:
    """An incoming copy as of a version or moment: whoever may read it now (the recipient
    agency's readers, as the incoming stage rules), or auditors with a mandate for it."""
    incoming = store.load(IncomingDocument, document_id, DocumentNotFoundError)
    if not may_read(who, incoming) and not in_scope(store, who, incoming.agency_id):
        raise DocumentNotFoundError(f"document {document_id} not found")
    replayed = load_any_as_of(store, document_id, version=version, at=at)
    if not isinstance(replayed, IncomingDocument):  # pragma: no cover - loaded as incoming
        raise DocumentNotFoundError(f"document {document_id} not found")
    state = describe_incoming(replayed, at)
    state["steps"] = steps(store, document_id, replayed.version)
    if Role.AUDITOR in who.roles:
        store.record_view(document_id, 1, str(replayed.file.get("sha256", "")),
                          f"audit:replay:v{state['version']}", who.actor)
    return state


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment with a time zone ("2026-03-01T09:00:00+07:00")."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"not an ISO 8601 moment: {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidInputError("the moment must carry a time zone, e.g. +07:00", at=text)
    return moment


def _moment_arg(text: str) -> datetime:
    try:
        return parse_moment(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(exc.detail) from None


def add_replay_commands(sub: Any, func: Command) -> None:
    """Register ``replay DOCUMENT_ID [--version N | --as-of ISO8601]``, run by ``func``."""
    r = sub.add_parser("replay", help="a document's state as of a version or moment (JSON)")
    r.add_argument("document_id", type=UUID)
    when = r.add_mutually_exclusive_group(required=True)
    when.add_argument("--version", type=int, help="the document version (1 = drafted)")
    when.add_argument("--as-of", dest="as_of", type=_moment_arg, metavar="ISO8601",
                      help="a moment with its time zone, e.g. 2026-03-01T09:00:00+07:00")
    r.set_defaults(func=func)
