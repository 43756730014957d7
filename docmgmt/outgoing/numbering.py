"""Numbering (Decree 30, Art. 15): the register's next number and the date, written into
the signed PDF; the document and its register are saved in one commit."""

from __future__ import annotations

import contextlib
from datetime import date
from uuid import UUID

from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import DocumentType
from docmgmt.domain.errors import InvalidStateError
from docmgmt.domain.outgoing import STEP_STATUSES, OutgoingDocument, Registration
from docmgmt.domain.register import Series
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, register_lock_key
from docmgmt.outgoing.context import STEP_ROLES, OutgoingContext, load_document
from docmgmt.outgoing.files import new_blobs, store_result, workspace
from signing.port import competent_signature_valid, summarise

# Both outgoing series, always taken in this order so that two clerks never deadlock.
OUTGOING_SERIES = (Series.GENERAL, Series.LEGAL)


def require_status(document: OutgoingDocument, step: str) -> None:
    """Refuse the step unless the document is in a status it may start from."""
    # Checked before any file is made: a refused step stores nothing.
    allowed = STEP_STATUSES[step]
    if document.status not in allowed:
        wanted = " or ".join(s.value for s in allowed)
        raise InvalidStateError(
            f"cannot {step}: the document is {document.status.value}, it must be "
            f"{wanted}", status=document.status.value)


def date_label(day: date) -> str:
    """Decree 30 date form: days below 10 and months below 3 take a leading zero."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def dated_label(place_name: str, day: date) -> str:
    """Decree 30, Appendix I: "<place>, ngày DD tháng MM năm YYYY" when a place is set."""
    return f"{place_name}, {date_label(day)}" if place_name else date_label(day)


def document_code(doc_type: DocumentType, agency_code: str, unit_code: str | None) -> str:
    """Ký hiệu: "QĐ-STTTT" for named types; "STTTT-VP" for công văn (Annex I)."""
    if doc_type is DocumentType.CONG_VAN:
        return f"{agency_code}-{unit_code}" if unit_code else agency_code
    return f"{doc_type.value}-{agency_code}"


def number(ctx: OutgoingContext, who: Principal, document_id: UUID,
           expected_version: int | None) -> CommandResult:
    """The clerk gives the next number of the register and writes it into the PDF."""
    who.require(*STEP_ROLES["number"])
    today = ctx.clock().astimezone(VIETNAM_TZ).date()
    with contextlib.ExitStack() as held:
        # The registers are locked before the document is loaded, so that it is loaded
        # (and checked) once, as it is while no other clerk can number it. Which series
        # it takes is known only once it is loaded: both of the caller's agency are held
        # (another agency's document is refused as not found below).
        for series in OUTGOING_SERIES:
            held.enter_context(ctx.locks.hold(register_lock_key(who.agency_id, today.year,
                                                                series)))
        document = load_document(ctx, who, document_id, expected_version)
        require_status(document, "number")
        agency = ctx.store.get_agency(document.agency_id)
        unit = agency.units.get(document.unit_id) if document.unit_id else None
        series = Series.LEGAL if document.legal_normative else Series.GENERAL
        code = document_code(document.doc_type, agency.code, unit.code if unit else None)
        register = ctx.store.number_register(document.agency_id, today.year, series)
        issued = register.issue(document_id, who.actor)
        registration = Registration(issued, code, today.isoformat(), today.year,
                                    series.value)
        signed = document.signed_file
        if signed is None:  # pragma: no cover - a signed document has its signed file
            raise InvalidStateError("the signed PDF is missing")
        with workspace(ctx, signed) as (src, dst):
            report = ctx.signer.write_number(
                src, dst, number_label=f"Số: {registration.label}",
                date_label=dated_label(getattr(agency, "place_name", ""), today))
            if not competent_signature_valid(report):
                raise InvalidStateError(
                    "writing the number would break the leader's signature",
                    report=summarise(report))
            with new_blobs(ctx) as new:
                output = store_result(new, dst, signed, "numbered")
                document.number(registration=registration, input_sha256=signed.sha256,
                                output=output, validation=dict(summarise(report)),
                                actor=who.actor)
                return ctx.store.commit(document, register)
