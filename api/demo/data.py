"""What the demo city is made of: its agencies, units and people, and the texts of its
documents (the demo builder, ``api.demo``, runs them through the system's steps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from docmgmt.domain.common import Role, SigningCapacity


@dataclass(frozen=True)
class Person:
    """One account of the demo: who, in which unit, with which role and title."""

    suffix: str  # the username is "<agency code>.<suffix>"
    full_name: str
    role: Role
    title: str
    unit: str | None = None


@dataclass(frozen=True)
class Office:
    """One agency of the demo with its units, people and how its leader signs."""

    code: str
    name: str
    parent: str | None
    units: list[tuple[str, str]]
    people: list[Person]
    capacity: SigningCapacity = SigningCapacity.OWN
    principal_title: str = ""
    # The unit that handles incoming documents by default, and the one that supports it.
    handling_unit: str = ""
    supporting_unit: str = ""

    def username(self, role: Role) -> str:
        """The username of the office's person with ``role``."""
        person = next(p for p in self.people if p.role is role)
        return f"{self.code.lower()}.{person.suffix}"


def _people(official: tuple[str, str, str], leader: tuple[str, str], clerk: str, admin: str,
            auditor: str) -> list[Person]:
    return [
        Person("chuyenvien", official[0], Role.OFFICIAL, official[1], official[2]),
        Person("lanhdao", leader[0], Role.LEADER, leader[1]),
        Person("vanthu", clerk, Role.CLERK, "Văn thư", "VP"),
        Person("quantri", admin, Role.ADMIN, "Quản trị hệ thống", "VP"),
        Person("kiemtra", auditor, Role.AUDITOR, "Thanh tra viên"),
    ]


CITY = Office(
    code="UBNDDN", name="Ủy ban nhân dân thành phố Đà Nẵng", parent=None,
    units=[("VP", "Văn phòng UBND thành phố"), ("KTTH", "Phòng Kinh tế - Tổng hợp"),
           ("NC", "Phòng Nội chính")],
    people=_people(("Phan Thị Thu Hà", "Chuyên viên", "KTTH"), ("Hoàng Văn Thịnh", "Chủ tịch"),
                   "Nguyễn Thị Mỹ Linh", "Trương Công Định", "Đặng Quốc Bảo"),
    capacity=SigningCapacity.TM, principal_title="Ủy ban nhân dân",
    handling_unit="KTTH", supporting_unit="NC",
)
DEPARTMENT = Office(
    code="STTTT", name="Sở Thông tin và Truyền thông", parent="UBNDDN",
    units=[("VP", "Văn phòng Sở"), ("CNTT", "Phòng Công nghệ thông tin"),
           ("BCVT", "Phòng Bưu chính, Viễn thông")],
    people=_people(("Nguyễn Văn An", "Chuyên viên", "CNTT"), ("Lê Thị Bích Ngọc", "Phó Giám đốc"),
                   "Võ Thị Kim Oanh", "Huỳnh Tấn Phát", "Bùi Thanh Sơn"),
    capacity=SigningCapacity.KT, principal_title="Giám đốc",
    handling_unit="CNTT", supporting_unit="BCVT",
)
WARD_UNITS = [("VP", "Văn phòng HĐND và UBND phường"), ("VHXH", "Phòng Văn hóa - Xã hội"),
              ("KT", "Phòng Kinh tế")]


def _ward(code: str, name: str, people: list[Person], handling: str, supporting: str) -> Office:
    return Office(code=code, name=name, parent="UBNDDN", units=WARD_UNITS, people=people,
                  capacity=SigningCapacity.TM, principal_title="Ủy ban nhân dân",
                  handling_unit=handling, supporting_unit=supporting)


WARD_HC = _ward("PHC", "Ủy ban nhân dân phường Hải Châu", _people(
    ("Trần Quốc Tuấn", "Công chức Văn hóa - Xã hội", "VHXH"), ("Ngô Thị Lan Anh", "Chủ tịch"),
    "Lý Thị Hồng", "Đỗ Minh Khoa", "Phạm Gia Huy"), "VHXH", "KT")
WARD_TT = _ward("PTT", "Ủy ban nhân dân phường Thạch Thang", _people(
    ("Vũ Thị Thanh Tâm", "Công chức Kinh tế", "KT"), ("Đinh Công Trứ", "Chủ tịch"),
    "Mai Thị Xuân", "Tạ Quang Vinh", "Châu Ngọc Yến"), "KT", "VHXH")
OFFICES = [CITY, DEPARTMENT, WARD_HC, WARD_TT]
CITY_AUDITOR = "Thanh tra thành phố"
MANDATE_BASIS = "Quyết định số 125/QĐ-TTr của Chánh Thanh tra thành phố (dữ liệu demo)"
OVERSIGHT_BASIS = ("Quyết định số 88/QĐ-UBND về theo dõi, đôn đốc xử lý văn bản"
                   " (dữ liệu demo)")


@dataclass(frozen=True)
class Text:
    """A document's summary (trích yếu) and the paragraphs of its page."""

    summary: str
    paragraphs: list[str] = field(default_factory=list)


BASIS = ("Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về "
         "công tác văn thư;")
TEXTS: dict[str, Text] = {
    "plan": Text("Kế hoạch chuyển đổi số năm 2027 trên địa bàn thành phố", [
        BASIS,
        "Ủy ban nhân dân thành phố ban hành Kế hoạch chuyển đổi số năm 2027 với mục tiêu 100% "
        "văn bản trao đổi giữa các cơ quan nhà nước được ký số và gửi nhận trên môi trường "
        "điện tử, trừ văn bản mật.",
        "Các sở, ban, ngành và Ủy ban nhân dân các phường tổ chức triển khai, báo cáo kết quả "
        "thực hiện về Sở Thông tin và Truyền thông trước ngày 15 hằng quý.",
    ]),
    "flood": Text("Về việc báo cáo nhanh tình hình thiệt hại do mưa lũ", [
        "Thực hiện chỉ đạo của Thành ủy, Ủy ban nhân dân thành phố đề nghị Ủy ban nhân dân "
        "các phường khẩn trương rà soát, thống kê thiệt hại về người, nhà ở và tài sản do đợt "
        "mưa lũ vừa qua.",
        "Báo cáo gửi về Văn phòng Ủy ban nhân dân thành phố ngay trong ngày.",
    ]),
    "event": Text("Kế hoạch tổ chức Ngày Chuyển đổi số thành phố năm 2027", [
        "Tổ chức chuỗi hoạt động hưởng ứng Ngày Chuyển đổi số quốc gia 10 tháng 10: hội thảo, "
        "trưng bày sản phẩm số và hướng dẫn người dân sử dụng dịch vụ công trực tuyến.",
    ]),
    "reception": Text("Thông báo lịch tiếp công dân định kỳ tháng 12", [
        "Chủ tịch Ủy ban nhân dân thành phố tiếp công dân định kỳ vào ngày 15 hằng tháng tại "
        "Trụ sở tiếp công dân thành phố.",
    ]),
    "signature": Text("Về việc hướng dẫn sử dụng chữ ký số trên văn bản điện tử", [
        BASIS,
        "Sở Thông tin và Truyền thông hướng dẫn các cơ quan, đơn vị ký số văn bản điện tử: "
        "người có thẩm quyền ký trước, văn thư cơ quan ký số của cơ quan sau khi cấp số, "
        "ngày, tháng, năm ban hành.",
        "Văn bản điện tử gửi đi phải có đủ hai chữ ký số hợp lệ.",
    ]),
    "maintenance": Text("Thông báo thời gian bảo trì hệ thống quản lý văn bản và điều hành", [
        "Hệ thống quản lý văn bản và điều hành tạm dừng hoạt động để bảo trì từ 20 giờ 00 "
        "đến 23 giờ 00 thứ Bảy tuần này.",
    ]),
    "maintenance2": Text("Thông báo thời gian bảo trì hệ thống (thay thế Thông báo đã thu hồi)", [
        "Thời gian bảo trì được điều chỉnh sang từ 21 giờ 00 đến 23 giờ 30 Chủ nhật tuần này.",
    ]),
    "incident": Text("Về việc triển khai phương án ứng cứu sự cố an toàn thông tin mạng", [
        "Đề nghị các cơ quan, đơn vị kiểm tra ngay hệ thống, cập nhật bản vá bảo mật và báo cáo "
        "sự cố (nếu có) về Trung tâm Giám sát, điều hành đô thị thông minh.",
    ]),
    "decision": Text("Quyết định thành lập Tổ hỗ trợ kỹ thuật chữ ký số", [
        "Thành lập Tổ hỗ trợ kỹ thuật chữ ký số gồm các thành viên có tên tại Điều 1 của "
        "Quyết định này.",
    ]),
    "training": Text("Về việc cử cán bộ tham gia lớp bồi dưỡng kỹ năng số", [
        "Sở Thông tin và Truyền thông đề nghị mỗi đơn vị cử 02 cán bộ tham gia lớp bồi dưỡng.",
    ]),
    "budget": Text("Kế hoạch bồi dưỡng kỹ năng số cho cán bộ, công chức năm 2027", [
        "Tổ chức 12 lớp bồi dưỡng kỹ năng số cho cán bộ, công chức cấp thành phố và cấp phường.",
    ]),
    "report": Text("Báo cáo kết quả ứng dụng công nghệ thông tin quý IV năm 2026", [
        "Tỷ lệ văn bản điện tử được ký số đạt 97%; 100% hồ sơ công việc được xử lý trên môi "
        "trường mạng.",
    ]),
    "network": Text("Về việc đề nghị hỗ trợ nâng cấp đường truyền mạng", [
        "Sở Thông tin và Truyền thông đề nghị các doanh nghiệp viễn thông phối hợp khảo sát.",
    ]),
    "ward_report": Text("Báo cáo kết quả triển khai Kế hoạch chuyển đổi số năm 2026 của phường", [
        "Ủy ban nhân dân phường Hải Châu báo cáo: 100% thủ tục hành chính được tiếp nhận trực "
        "tuyến; 85% hồ sơ được giải quyết trước hạn.",
    ]),
    "funding": Text("Tờ trình đề nghị cấp kinh phí số hóa hồ sơ, tài liệu lưu trữ", [
        "Ủy ban nhân dân phường Hải Châu kính trình Ủy ban nhân dân thành phố xem xét, cấp "
        "kinh phí số hóa 12.000 hồ sơ lưu trữ.",
    ]),
    "market": Text("Về việc sắp xếp hoạt động kinh doanh tại chợ Thạch Thang", [
        "Ủy ban nhân dân phường Thạch Thang đề nghị các hộ kinh doanh đăng ký lại vị trí.",
    ]),
}
KINDS = {
    "KH": "KẾ HOẠCH", "TB": "THÔNG BÁO", "QĐ": "QUYẾT ĐỊNH", "BC": "BÁO CÁO",
    "TTr": "TỜ TRÌNH",
}
