"""The demo city's story: documents in every state, incoming and outgoing, some overdue,
each step done by the role that does it."""

from __future__ import annotations

from datetime import datetime, timedelta

from api.demo.city import DemoCity
from api.demo.data import OFFICES
from docmgmt.domain.calendar import DEFAULT_CLOSING_TIME, VIETNAM_TZ
from docmgmt.domain.common import DocumentType, Role, Urgency
from docmgmt.domain.outgoing import Relation
from docmgmt.incoming import handling
from docmgmt.incoming.delivery import Dispatcher
from docmgmt.outgoing import approval, drafting, sending


def tell(demo: DemoCity) -> None:
    """Documents in every state, incoming and outgoing, some overdue."""
    city, dept, hc, tt = (o.code for o in OFFICES)
    official, leader, clerk = Role.OFFICIAL, Role.LEADER, Role.CLERK

    # The city issues its plan to the department and both wards; the ward Hải Châu is
    # given a deadline that passes before the demo ends (overdue, in progress).
    plan = demo.draft(city, "plan", DocumentType.KE_HOACH, to=[dept, hc, tt])
    demo.comment(city, leader, plan, "Bổ sung chỉ tiêu về dịch vụ công trực tuyến.")
    copies = demo.dispatch(city, plan, [dept, hc, tt], ["Bộ Thông tin và Truyền thông"])
    demo.assign(hc, copies[hc], deadline=demo.lapsing_deadline(),
                instructions="Phòng Văn hóa - Xã hội chủ trì, báo cáo kết quả ngay.")
    demo.progress(hc, copies[hc], "Đã họp triển khai với các tổ dân phố.")
    # The department handles it and asks for more time.
    demo.assign(dept, copies[dept], working_days=10,
                instructions="Phòng CNTT chủ trì tham mưu kế hoạch thực hiện.")
    demo.progress(dept, copies[dept], "Đã dự thảo kế hoạch thực hiện của Sở.")
    demo.progress(dept, copies[dept], "Đang lấy ý kiến các phòng chuyên môn.")
    deadline = demo.handling_deadline(copies[dept])
    handling.request_extension(
        demo.write.incoming, demo.who(dept, official), copies[dept],
        deadline + timedelta(days=7), "Chờ ý kiến góp ý của các phường.", None)
    # Thạch Thang must handle it by the end of the day (due soon).
    demo.assign(tt, copies[tt], deadline=due_soon(demo.now()),
                instructions="Phòng Kinh tế chủ trì, hoàn thành trong ngày.")
    with drafting.download(demo.write.outgoing, demo.who(city, leader), plan,
                           None) as (_, _, fh):
        fh.read()

    # The department's guidance: returned by Hải Châu (misdirected), done late by
    # Thạch Thang (completed at the end, after its deadline), done in time by the city.
    guide = demo.draft(dept, "signature", DocumentType.CONG_VAN, to=[hc, tt, city])
    copies = demo.dispatch(dept, guide, [hc, tt, city])
    demo.wait(handling.return_to_sender(
        demo.write.incoming, demo.who(hc, clerk), copies[hc],
        "Văn bản gửi nhầm nơi nhận: nội dung thuộc thẩm quyền của phường khác.", None),
        Dispatcher.name)
    demo.assign(tt, copies[tt], deadline=demo.lapsing_deadline(),
                instructions="Triển khai ngay cho cán bộ được cấp chứng thư số.")
    late = copies[tt]
    demo.assign(city, copies[city], working_days=5,
                instructions="Văn phòng theo dõi việc thực hiện.")
    demo.progress(city, copies[city], "Đã phổ biến đến các phòng.")
    demo.complete(city, copies[city], "Đã triển khai hướng dẫn trong toàn cơ quan.")

    # An urgent request from the city: unregistered at Hải Châu (urgent documents are
    # due at once, so it is overdue), registered at Thạch Thang awaiting assignment.
    flood = demo.draft(city, "flood", DocumentType.CONG_VAN, Urgency.URGENT, to=[hc, tt])
    copies = demo.dispatch(city, flood, [hc, tt])
    demo.register(tt, copies[tt])

    # The department recalls a notice: Hải Châu confirms, Thạch Thang has not yet; a
    # replacement is being drafted.
    notice = demo.draft(dept, "maintenance", DocumentType.THONG_BAO, to=[hc, tt])
    copies = demo.dispatch(dept, notice, [hc, tt])
    demo.register(hc, copies[hc])
    demo.wait(sending.recall(demo.write.app, demo.who(dept, clerk), notice,
                             "Sai thời gian bảo trì; sẽ có thông báo thay thế.", None),
              Dispatcher.name)
    demo.wait(handling.confirm_withdrawal(demo.write.incoming, demo.who(hc, clerk),
                                          copies[hc], None), Dispatcher.name)
    replacement = demo.draft(dept, "maintenance2", DocumentType.THONG_BAO, to=[hc, tt])
    sending.link(demo.write.app, demo.who(dept, official), replacement,
                 Relation.REPLACES, notice, None)

    # Hải Châu reports to the city and the department; the city grants it more time.
    report = demo.draft(hc, "ward_report", DocumentType.BAO_CAO, to=[city, dept])
    copies = demo.dispatch(hc, report, [city, dept])
    demo.assign(city, copies[city], working_days=3,
                instructions="Tổng hợp vào báo cáo chung của thành phố.")
    handling.request_extension(
        demo.write.incoming, demo.who(city, official), copies[city],
        demo.handling_deadline(copies[city]) + timedelta(days=7),
        "Chờ số liệu của phường Thạch Thang.", None)
    handling.decide_extension(demo.write.incoming, demo.who(city, leader), copies[city],
                              True, "Đồng ý gia hạn.", None)
    demo.register(dept, copies[dept])

    # The department's documents at every step of its own chain.
    incident = demo.draft(dept, "incident", DocumentType.CONG_VAN, Urgency.URGENT)
    demo.seal(dept, incident)  # urgent: due for dispatch at once, so overdue
    demo.number(dept, demo.draft(dept, "decision", DocumentType.QUYET_DINH))
    demo.sign(dept, demo.draft(dept, "training", DocumentType.CONG_VAN, to=[hc, tt]))
    demo.approve(dept, demo.draft(dept, "budget", DocumentType.KE_HOACH))
    returned = demo.draft(dept, "report", DocumentType.BAO_CAO, to=[city])
    demo.submit(dept, returned)
    approval.return_for_revision(demo.write.outgoing, demo.who(dept, leader), returned,
                                 "Bổ sung số liệu quý IV và so sánh cùng kỳ.", None)
    drafted = demo.draft(dept, "network", DocumentType.CONG_VAN)
    demo.comment(dept, leader, drafted, "Nêu rõ địa điểm cần nâng cấp.")
    demo.revise(dept, drafted, "network", DocumentType.CONG_VAN,
                "Đã bổ sung danh sách địa điểm.")
    demo.comment(dept, clerk, drafted, "Kiểm tra lại thể thức phần nơi nhận.")

    # The city and the wards: drafts and a draft awaiting approval.
    event = demo.draft(city, "event", DocumentType.KE_HOACH)
    demo.comment(city, leader, event, "Bổ sung phần kinh phí.")
    demo.revise(city, event, "event", DocumentType.KE_HOACH,
                "Đã bổ sung dự toán kinh phí.")
    demo.submit(city, demo.draft(city, "reception", DocumentType.THONG_BAO))
    demo.submit(hc, demo.draft(hc, "funding", DocumentType.TO_TRINH, to=[city]))
    demo.draft(tt, "market", DocumentType.CONG_VAN)

    # Once its deadline has passed, Thạch Thang completes the guidance: late.
    demo.await_lapse()
    demo.progress(tt, late, "Đã tập huấn cho cán bộ.")
    demo.complete(tt, late, "Đã triển khai, chậm so với hạn do chờ cấp chứng thư số.")
    demo.settle()


def due_soon(now: datetime) -> datetime:
    """Today's close of business if an hour away, else tomorrow's: within the due-soon
    window either way."""
    today = datetime.combine(now.date(), DEFAULT_CLOSING_TIME, tzinfo=VIETNAM_TZ)
    return today if today - now >= timedelta(hours=1) else today + timedelta(days=1)
