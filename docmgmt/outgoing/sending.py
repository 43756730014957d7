"""The sender's steps (Decree 30, Art. 16 and 20): dispatch, recall, link a replacement.

Each step authorises, loads the document once, checks the version the caller saw (after
visibility and input checks, as before), calls the aggregate and saves once. Delivering
the copies is the dispatch process's job (``docmgmt.incoming.delivery``).
"""

from __future__ import annotations

from typing import TypedDict
from uuid import UUID

from docmgmt.domain.agency import Agency
from docmgmt.domain.common import agency_id_for
from docmgmt.domain.errors import AgencyNotFoundError, InvalidInputError
from docmgmt.domain.outgoing import OutgoingDocument, Relation
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt
from docmgmt.outgoing.context import DOCUMENT_READERS, STEP_ROLES, own_document

MAX_RECIPIENTS = 500


def sent_document(store: DocMgmt, who: Principal, document_id: UUID) -> OutgoingDocument:
    """A document of the caller's agency with its recipients' delivery states."""
    who.require(*DOCUMENT_READERS)
    return own_document(store, who, document_id)


class AgencyRecipient(TypedDict):
    """An agency in the system named as a recipient (what OutgoingDocument.dispatch takes)."""

    agency_id: UUID
    code: str
    name: str


def _recipient(store: DocMgmt, code: str) -> AgencyRecipient:
    try:
        agency = store.load(Agency, agency_id_for(code), AgencyNotFoundError)
    except AgencyNotFoundError:
        raise InvalidInputError(f"no agency has the code {code!r}", field="recipients",
                                code=code) from None
    return {"agency_id": agency.id, "code": agency.code, "name": agency.name}


def dispatch(store: DocMgmt, who: Principal, document_id: UUID, recipient_codes: list[str],
             external: list[str], note: str, expected_version: int | None) -> CommandResult:
    """The clerk issues a sealed document to agencies (by code) and external recipients."""
    who.require(*STEP_ROLES["dispatch"])
    document = own_document(store, who, document_id)
    if len(recipient_codes) + len(external) > MAX_RECIPIENTS:
        raise InvalidInputError(f"at most {MAX_RECIPIENTS} recipients")
    recipients = [_recipient(store, code) for code in recipient_codes]
    store.check_version(document, expected_version)
    document.dispatch(recipients, external, note, who.actor)
    return store.commit(document)


def recall(store: DocMgmt, who: Principal, document_id: UUID, reason: str,
           expected_version: int | None) -> CommandResult:
    """The clerk recalls an issued document from every recipient."""
    who.require(*STEP_ROLES["recall"])
    document = own_document(store, who, document_id)
    store.check_version(document, expected_version)
    document.recall(reason, who.actor)
    return store.commit(document)


def link(store: DocMgmt, who: Principal, document_id: UUID, relation: Relation,
         target_id: UUID, expected_version: int | None) -> CommandResult:
    """The drafter declares that the draft replaces or corrects an issued document."""
    who.require(*STEP_ROLES["link"])
    document = own_document(store, who, document_id)
    target = own_document(store, who, target_id)
    store.check_version(document, expected_version)
    document.link(Relation(relation), target, who.actor)
    return store.commit(document)
