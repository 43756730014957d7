"""Each outgoing step loads its document once and saves once (issue 13).

The loads are counted on the store's repository for the document's id, the saves on the
store, and the aggregate's command on the aggregate class, while one step runs."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest

from docmgmt.domain.common import SigningCapacity
from docmgmt.domain.outgoing import OutgoingDocument
from docmgmt.outgoing import approval, drafting, numbering, sealing
from docmgmt.outgoing.signing import BatchDocument, Method, RequestStatus, request_batch, sign
from tests.support.pdfs import make_pdf
from tests.workflow.conftest import Desk


@contextmanager
def counted(desk: Desk, doc: UUID, command: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count, while the block runs: loads of ``doc``, saves, and calls of the command."""
    counts: Counter[str] = Counter()
    app = desk.write.app
    get, save = app.repository.get, app.save
    method = getattr(OutgoingDocument, command)

    def counting_get(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        if aggregate_id == doc:
            counts["load"] += 1
        return get(aggregate_id, *args, **kwargs)

    def counting_save(*aggregates: Any, **kwargs: Any) -> Any:
        counts["save"] += 1
        return save(*aggregates, **kwargs)

    def counting_command(self: OutgoingDocument, *args: Any, **kwargs: Any) -> Any:
        counts["command"] += 1
        return method(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(app.repository, "get", counting_get)
        patch.setattr(app, "save", counting_save)
        patch.setattr(OutgoingDocument, command, counting_command)
        yield counts


def test_seal_loads_checks_and_saves_the_document_once(
    dev_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = dev_desk
    doc = desk.signed("Công văn đóng dấu một lần")
    numbering.number(desk.outgoing, desk["clerk"], doc, None)
    version = desk.document(doc).version
    with counted(desk, doc, "seal", monkeypatch) as counts:
        result = sealing.seal(desk.outgoing, desk["clerk"], doc, version)
    assert counts == {"load": 1, "save": 1, "command": 1}
    assert result.version == version + 1
    assert desk.event_types(doc)[-1] == "Sealed"


Step = Callable[[Desk, UUID], object]

STEPS: dict[str, tuple[str, str, Step]] = {
    # name: (state to start from, aggregate command, the step)
    "comment": ("draft", "comment", lambda d, doc: drafting.comment(
        d.outgoing, d["leader"], doc, "Góp ý", 1)),
    "upload_revision": ("draft", "upload_revision", lambda d, doc: drafting.upload_revision(
        d.outgoing, d["official"], doc, io.BytesIO(make_pdf(1, text="v2")), "v2.pdf", "", 1)),
    "attach_appendix": ("draft", "attach_appendix", lambda d, doc: drafting.attach_appendix(
        d.outgoing, d["official"], doc, io.BytesIO(make_pdf(1, text="pl")), "pl.pdf",
        "Phụ lục", 1)),
    "submit": ("draft", "submit_for_approval", lambda d, doc: approval.submit(
        d.outgoing, d["official"], doc, "Kính trình", 1)),
    "approve": ("submitted", "approve", lambda d, doc: approval.approve(
        d.outgoing, d["leader"], doc, "Đồng ý", 2)),
    "return": ("submitted", "return_for_revision", lambda d, doc: approval.return_for_revision(
        d.outgoing, d["leader"], doc, "Sửa lại", 2)),
    # A service that answers at once: requested, provided and signed in one save.
    "sign": ("approved", "request_signature", lambda d, doc: sign(
        d.outgoing, d["leader"], doc, SigningCapacity.KT, "Giám đốc", 3)),
    # The signature is requested, provided and signed: versions 4, 5 and 6.
    "number": ("signed", "number", lambda d, doc: numbering.number(
        d.outgoing, d["clerk"], doc, 6)),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_every_outgoing_step_loads_once_and_saves_once(
    dev_desk: Desk, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    desk = dev_desk
    start, command, step = STEPS[name]
    doc = desk.draft(f"Văn bản bước {name}")
    if start != "draft":
        approval.submit(desk.outgoing, desk["official"], doc, "Kính trình", None)
    if start in ("approved", "signed"):
        approval.approve(desk.outgoing, desk["leader"], doc, "Đồng ý", None)
    if start == "signed":
        sign(desk.outgoing, desk["leader"], doc, SigningCapacity.KT, "Giám đốc", None)
    with counted(desk, doc, command, monkeypatch) as counts:
        step(desk, doc)
    # Numbering saves the document and its register together: still one save.
    assert counts == {"load": 1, "save": 1, "command": 1}


def test_signing_loads_the_signers_agency_once_for_a_document_or_a_batch(
    dev_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agency (its name and code go into the signature and the provider's choice) is
    read once per step, not again for preparing and for embedding each document."""
    desk = dev_desk
    one, *batch = [desk.approved(f"Văn bản ký {k}") for k in range(4)]
    agency_id = desk["leader"].agency_id
    app = desk.write.app
    get = app.repository.get
    loads: Counter[str] = Counter()

    def counting_get(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        if aggregate_id == agency_id:
            loads["agency"] += 1
        return get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(app.repository, "get", counting_get)
    sign(desk.outgoing, desk["leader"], one, SigningCapacity.KT, "Giám đốc", None)
    assert loads == {"agency": 1}
    result = request_batch(desk.outgoing, desk["leader"], [BatchDocument(d) for d in batch],
                           method=Method.PROVIDER, capacity=SigningCapacity.OWN,
                           principal_title="", certificate_fingerprint=None)
    assert [item.state.status if item.state else item.error_code
            for item in result.items] == [RequestStatus.SIGNED] * 3
    assert loads == {"agency": 2}
