"""Names of the system's codes as a reader reads them (translated where shown)."""

from __future__ import annotations

from api.web.i18n import N_
from docmgmt.domain.common import Confidentiality, DocumentType, Urgency

# Decree 30, Appendix III: the kinds of administrative documents.
DOCUMENT_TYPES: dict[DocumentType, str] = {
    DocumentType.CONG_VAN: N_("Official letter"),
    DocumentType.QUYET_DINH: N_("Decision"),
    DocumentType.NGHI_QUYET: N_("Resolution"),
    DocumentType.CHI_THI: N_("Directive"),
    DocumentType.QUY_CHE: N_("Statute"),
    DocumentType.QUY_DINH: N_("Regulation"),
    DocumentType.THONG_CAO: N_("Communiqué"),
    DocumentType.THONG_BAO: N_("Notice"),
    DocumentType.HUONG_DAN: N_("Guidance"),
    DocumentType.CHUONG_TRINH: N_("Programme"),
    DocumentType.KE_HOACH: N_("Plan"),
    DocumentType.PHUONG_AN: N_("Option paper"),
    DocumentType.DE_AN: N_("Scheme"),
    DocumentType.DU_AN: N_("Project"),
    DocumentType.BAO_CAO: N_("Report"),
    DocumentType.BIEN_BAN: N_("Minutes"),
    DocumentType.TO_TRINH: N_("Submission"),
    DocumentType.HOP_DONG: N_("Contract"),
    DocumentType.CONG_DIEN: N_("Official telegram"),
    DocumentType.BAN_GHI_NHO: N_("Memorandum of understanding"),
    DocumentType.BAN_THOA_THUAN: N_("Agreement"),
    DocumentType.GIAY_UY_QUYEN: N_("Letter of authorisation"),
    DocumentType.GIAY_MOI: N_("Invitation"),
    DocumentType.GIAY_GIOI_THIEU: N_("Letter of introduction"),
    DocumentType.GIAY_NGHI_PHEP: N_("Leave permit"),
    DocumentType.PHIEU_GUI: N_("Dispatch slip"),
    DocumentType.PHIEU_CHUYEN: N_("Transfer slip"),
    DocumentType.PHIEU_BAO: N_("Notification slip"),
    DocumentType.THU_CONG: N_("Open letter"),
}
URGENCIES: dict[Urgency, str] = {
    Urgency.NORMAL: N_("Normal"),
    Urgency.URGENT: N_("Urgent"),
    Urgency.VERY_URGENT: N_("Very urgent"),
    Urgency.FLASH: N_("Flash"),
}
CONFIDENTIALITIES: dict[Confidentiality, str] = {
    Confidentiality.NORMAL: N_("Not classified"),
    Confidentiality.CONFIDENTIAL: N_("Confidential"),
    Confidentiality.SECRET: N_("Secret"),
    Confidentiality.TOP_SECRET: N_("Top secret"),
}
CAPACITY_LABELS = {"own": N_("In own right"), "KT": N_("KT. (signing for the head)"),
                   "TM": N_("TM. (on behalf of the collective)"),
                   "TUQ": N_("TUQ. (by authorisation)"), "TL": N_("TL. (by order)")}


OUTGOING_STATUSES = {
    "draft": N_("Draft"), "submitted": N_("Awaiting approval"),
    "returned": N_("Returned for revision"), "approved": N_("Approved"),
    "signed": N_("Signed"), "numbered": N_("Numbered"), "sealed": N_("Sealed"),
    "dispatched": N_("Dispatched"), "recalled": N_("Recalled"),
}

# Where each recipient's copy stands, as the sender sees it (domain Delivery values).
DELIVERY_LABELS = {
    "external": N_("Sent outside the system"), "pending": N_("On its way"),
    "delivered": N_("Delivered"), "registered": N_("Registered by the recipient"),
    "returned": N_("Returned by the recipient"), "withdrawn": N_("Withdrawn"),
    "recall_confirmed": N_("Recall confirmed"),
}

INCOMING_STATUSES = {
    "received": N_("Waiting to be registered"),
    "registered": N_("Registered, waiting for assignment"),
    "returned": N_("Sent back to the sender"),
    "assigned": N_("Handling assigned"),
    "in_progress": N_("Being handled"),
    "completed": N_("Handling done"),
    "withdrawn": N_("Recalled by the sender"),
}


def type_label(code: str) -> str:
    """The msgid naming a document type code (the code itself if unknown)."""
    try:
        return DOCUMENT_TYPES[DocumentType(code)]
    except ValueError:
        return code
