"""Decree 30, Appendix I: the place name before the date on a numbered document."""

from __future__ import annotations

from datetime import date

import pytest

from docmgmt.domain.errors import PermissionDeniedError
from docmgmt.identity.agencies import set_place_name
from docmgmt.outgoing import numbering
from tests.support.identity import admin_acting_as
from tests.workflow.conftest import SETUP, Desk, vn

HCMC = "Thành phố Hồ Chí Minh"


def test_numbered_pdf_reads_place_then_date(dev_desk: Desk) -> None:
    desk = dev_desk
    set_place_name(desk.write.app, admin_acting_as(SETUP), desk.agency.agency_id, HCMC, None)
    desk.at(lambda: vn(2026, 12, 3))
    doc = desk.signed("Công văn có địa danh")
    numbering.number(desk.outgoing, desk["clerk"], doc, None)
    assert desk.number_field(doc)[1] == f"{HCMC}, ngày 03 tháng 12 năm 2026"


def test_a_ward_prints_its_own_place_name_with_leading_zeros(dev_desk: Desk) -> None:
    desk = dev_desk
    set_place_name(desk.write.app, admin_acting_as(SETUP), desk.agency.agency_id, "Hải Châu",
                   None)
    desk.at(lambda: vn(2027, 2, 7))
    doc = desk.signed("Công văn của phường")
    numbering.number(desk.outgoing, desk["clerk"], doc, None)
    assert desk.number_field(doc)[1] == "Hải Châu, ngày 07 tháng 02 năm 2027"


def test_without_a_place_name_the_label_is_the_date_alone() -> None:
    assert numbering.dated_label("", date(2026, 3, 5)) == "ngày 05 tháng 3 năm 2026"
    assert numbering.dated_label("Hải Châu", date(2026, 11, 9)) == (
        "Hải Châu, ngày 09 tháng 11 năm 2026")


def test_only_an_admin_sets_the_place_name(dev_desk: Desk) -> None:
    with pytest.raises(PermissionDeniedError):
        set_place_name(dev_desk.write.app, dev_desk["clerk"], dev_desk.agency.agency_id, HCMC,
                       None)
