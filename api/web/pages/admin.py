"""The admin's pages: agencies as a tree with their units, users and roles, audit mandates,
agency calendars and webhooks, over the same steps as the administration routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import ContainerDep
from api.routing import ThreadedRoute
from api.web.forms import (
    WEBHOOK_TARGET,
    FormErrors,
    FormVersion,
    Outcome,
    act,
    notice_for,
    see_other,
    settled,
)
from api.web.i18n import N_, _
from api.web.render import render
from api.web.session import PageSession, Session
from docmgmt.audit.mandates import find_audit_mandate, grant_audit_mandate, revoke_audit_mandate
from docmgmt.audit.trails import AuditQueries
from docmgmt.bootstrap import Container, webhook_targets
from docmgmt.domain.calendar import VIETNAM_TZ
from docmgmt.domain.common import Role
from docmgmt.domain.errors import AgencyNotFoundError, InvalidInputError, UserNotFoundError
from docmgmt.domain.webhook import WebhookKind, WebhookNotFoundError
from docmgmt.identity import agencies, users
from docmgmt.identity.users import NewUser
from docmgmt.incoming import handling
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult
from docmgmt.oversight.mandate_list import MAX_PAGE, list_oversight_mandates
from docmgmt.webhooks import WebhookQueries, WebhookService

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

USERS_PAGE = 50
Text = Annotated[str, Form()]

ROLES: dict[str, str] = {
    Role.OFFICIAL: N_("Official"), Role.LEADER: N_("Leader"), Role.CLERK: N_("Clerk"),
    Role.AUDITOR: N_("Auditor"), Role.ADMIN: N_("Administrator"),
}
KINDS: dict[str, str] = {
    WebhookKind.RECEIVED: N_("A document was received"),
    WebhookKind.RETURNED: N_("A document was returned"),
    WebhookKind.ASSIGNED: N_("A document was assigned"),
    WebhookKind.DUE_SOON: N_("A deadline is near"),
    WebhookKind.OVERDUE: N_("A deadline has passed"),
    WebhookKind.RECALLED: N_("A document was recalled"),
}
DELIVERY_STATUSES: dict[str, str] = {
    "pending": N_("Pending"), "delivered": N_("Delivered to the endpoint"), "dead": N_("Given up"),
    "cancelled": N_("Cancelled"),
}
CONFIRM = N_("Tick the box to confirm.")
CHOOSE_ROLE = N_("Choose at least one role.")


def _admin(session: PageSession) -> Principal:
    who = session.principal
    who.require(Role.ADMIN)
    return who



def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None


def _form_page(request: Request, session: PageSession, template: str,
               context: dict[str, Any], errors: FormErrors | None,
               notice: str | None) -> Response:
    """An admin page with its forms: refusals shown (with their status), or a notice."""
    errors = errors or FormErrors()
    return render(request, template, context | {"errors": errors,
                                                "notice": notice_for(notice)},
                  session=session, status_code=errors.status if errors else 200)


def _field_error(name: str, message: str) -> FormErrors:
    return FormErrors({name: message}, status=422)


async def _agency(c: Container, agency_id: UUID) -> dict[str, Any]:
    agency = await c.queries.get_agency(agency_id)
    if agency is None:
        raise AgencyNotFoundError(f"agency {agency_id} not found", id=str(agency_id))
    return agency


def _tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Agencies nested under their parents (roots first, by code)."""
    nodes = {a["id"]: a | {"children": []} for a in rows}
    roots: list[dict[str, Any]] = []
    for node in nodes.values():
        parent = nodes.get(node["parent_id"])
        (parent["children"] if parent else roots).append(node)
    return roots


# --- agencies and units ---------------------------------------------------------------


async def _agencies_page(request: Request, session: PageSession, c: Container, *,
                         errors: FormErrors | None = None, form: dict[str, str] | None = None,
                         notice: str | None = None) -> Response:
    rows = await c.queries.list_agencies()
    return _form_page(request, session, "admin/agencies.html", {
        "tree": _tree(rows),
        "form": {"code": "", "name": "", "parent_id": ""} | (form or {}),
        "parents": [("", "—")] + [(str(a["id"]), f"{a['code']} · {a['name']}")
                                  for a in rows]}, errors, notice)


@router.get("/admin")
async def admin_home(request: Request, session: Session, c: ContainerDep,
                     notice: str | None = None) -> Response:
    """Quản trị / Agencies as a tree with their units; register an agency."""
    _admin(session)
    return await _agencies_page(request, session, c, notice=notice)


@router.post("/admin/agencies")
async def create_agency(request: Request, session: Session, c: ContainerDep,
                        code: Text = "", name: Text = "", parent_id: Text = "") -> Response:
    """Tạo cơ quan / Register an agency (code, name, parent)."""
    who = _admin(session)
    form = {"code": code, "name": name, "parent_id": parent_id}
    outcome: Outcome[CommandResult] = await run_in_threadpool(
        act, request, lambda: agencies.register_agency(c.write.app, who, code, name,
                                                       _uuid(parent_id)),
        {"already_exists": "code", "agency_not_found": "parent_id"}, "name")
    if outcome.result is None:
        return await _agencies_page(request, session, c, errors=outcome.errors, form=form)
    return await settled(c, outcome.result.position,
                         f"/app/admin/agencies/{outcome.result.id}", "created")


async def _agency_page(request: Request, session: PageSession, c: Container, agency_id: UUID,
                       *, after: str = "", errors: FormErrors | None = None,
                       form: dict[str, Any] | None = None, which: str = "",
                       notice: str | None = None) -> Response:
    agency = await _agency(c, agency_id)
    shown, last = await c.queries.list_users_page(agency_id, after=after, limit=USERS_PAGE)
    next_url = ("" if last is None
                else f"/app/admin/agencies/{agency_id}?{urlencode({'after': last})}")
    blank_user = {"username": "", "full_name": "", "title": "", "unit_id": "", "roles": []}
    # The place name is read where numbering reads it: from the agency itself.
    held = await run_in_threadpool(c.write.app.get_agency, agency_id)
    place_name = getattr(held, "place_name", "")
    return _form_page(request, session, "admin/agency.html", {
        "agency": agency, "users": shown, "next_url": next_url, "after": after,
        "roles": ROLES,
        "units": {u["id"]: u["name"] for u in agency["units"]},
        "unit_options": [("", "—")] + [(str(u["id"]), f"{u['code']} · {u['name']}")
                                       for u in agency["units"]],
        "which": which,
        "unit_form": {"code": "", "name": ""} | (form if which == "unit" and form else {}),
        "user_form": blank_user | (form if which == "user" and form else {}),
        "place_form": {"place_name": place_name} | (form if which == "place" and form else {}),
    }, errors, notice)


@router.get("/admin/agencies/{agency_id}")
async def agency_page(request: Request, session: Session, c: ContainerDep, agency_id: UUID,
                      after: Annotated[str, Query(max_length=200)] = "",
                      notice: str | None = None) -> Response:
    """Cơ quan / An agency: its units and its users (a page at a time)."""
    _admin(session)
    return await _agency_page(request, session, c, agency_id, after=after, notice=notice)


@router.post("/admin/agencies/{agency_id}/units")
async def add_unit(request: Request, session: Session, c: ContainerDep, agency_id: UUID,
                   code: Text = "", name: Text = "",
                   expected_version: FormVersion = None) -> Response:
    """Thêm đơn vị / Add a unit to the agency."""
    who = _admin(session)
    outcome: Outcome[CommandResult] = await run_in_threadpool(
        act, request, lambda: agencies.add_unit(c.write.app, who, agency_id, code, name,
                                                expected_version),
        {"already_exists": "code", "invalid_state": "code"}, "name")
    if outcome.result is None:
        return await _agency_page(request, session, c, agency_id, errors=outcome.errors,
                                  form={"code": code, "name": name}, which="unit")
    return await settled(c, outcome.result.position, f"/app/admin/agencies/{agency_id}",
                         "unit_added")


@router.post("/admin/agencies/{agency_id}/place-name")
async def set_place_name(request: Request, session: Session, c: ContainerDep, agency_id: UUID,
                         place_name: Text = "",
                         expected_version: FormVersion = None) -> Response:
    """Địa danh / The place name before the date on numbered documents."""
    who = _admin(session)
    outcome: Outcome[CommandResult] = await run_in_threadpool(
        act, request, lambda: agencies.set_place_name(c.write.app, who, agency_id, place_name,
                                                      expected_version),
        {}, "place_name")
    if outcome.result is None:
        return await _agency_page(request, session, c, agency_id, errors=outcome.errors,
                                  form={"place_name": place_name}, which="place")
    return await settled(c, outcome.result.position, f"/app/admin/agencies/{agency_id}",
                         "place_name_set")


@router.post("/admin/agencies/{agency_id}/users")
async def create_user(request: Request, session: Session, c: ContainerDep, agency_id: UUID,
                      username: Text = "", full_name: Text = "", title: Text = "",
                      unit_id: Text = "", password: Text = "",
                      roles: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    """Tạo người dùng / Create an account in the agency with its roles and a password."""
    who = _admin(session)
    form = {"username": username, "full_name": full_name, "title": title, "unit_id": unit_id,
            "roles": roles}
    chosen = [Role(r) for r in roles if r in ROLES]
    if not chosen:
        # The request's own shape (as the API's body schema refuses an empty role list).
        return await _agency_page(request, session, c, agency_id, form=form, which="user",
                                  errors=_field_error("roles", _(CHOOSE_ROLE)))
    new = NewUser(username=username, full_name=full_name, password=password, roles=chosen,
                  agency_id=agency_id, unit_id=_uuid(unit_id), title=title)
    outcome: Outcome[CommandResult] = await run_in_threadpool(
        act, request, lambda: users.create_user(c.write.identity, who, new),
        {"already_exists": "username", "unit_not_found": "unit_id"}, "password")
    if outcome.result is None:
        return await _agency_page(request, session, c, agency_id, errors=outcome.errors,
                                  form=form, which="user")
    return await settled(c, outcome.result.position, f"/app/admin/users/{outcome.result.id}",
                    "user_created")


# --- one user: roles, status, password, audit mandates --------------------------------


async def _user_page(request: Request, session: PageSession, c: Container, user_id: UUID,
                     *, errors: FormErrors | None = None, which: str = "",
                     form: dict[str, Any] | None = None,
                     notice: str | None = None) -> Response:
    user = await c.queries.get_user(user_id)
    if user is None:
        raise UserNotFoundError(f"user {user_id} not found", id=str(user_id))
    agency = await _agency(c, user.agency_id)
    rows = await c.queries.list_agencies()
    names = {str(a["id"]): f"{a['code']} · {a['name']}" for a in rows}
    mandates: list[dict[str, Any]] = []
    if Role.AUDITOR in user.roles:
        mandates = await AuditQueries(c.pool).list_mandates(user_id)
        for m in mandates:
            found = await run_in_threadpool(find_audit_mandate, c.write.app, user_id,
                                            UUID(m["agency_id"]))
            m["legal_basis"] = found.legal_basis if found else ""
            m["valid_from"] = datetime.fromisoformat(m["valid_from"])
            m["valid_to"] = datetime.fromisoformat(m["valid_to"]) if m["valid_to"] else None
    oversight, _more = await list_oversight_mandates(c.pool, session.principal,
                                                     datetime.now(UTC), user_id=user_id,
                                                     limit=MAX_PAGE)
    return _form_page(request, session, "admin/user.html", {
        "u": user, "agency": agency, "roles": ROLES, "mandates": mandates,
        "oversight": oversight,
        "agency_names": names, "agency_options": [("", "—"), *list(names.items())],
        "which": which,
        "form": {"agency_id": "", "legal_basis": "", "valid_from": "", "valid_to": "",
                 "reason": ""} | (form or {})}, errors, notice)


@router.get("/admin/users/{user_id}")
async def user_page(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                    notice: str | None = None) -> Response:
    """Người dùng / A user: roles, status, password and (auditors) audit mandates."""
    _admin(session)
    return await _user_page(request, session, c, user_id, notice=notice)


async def _user_step(request: Request, session: PageSession, c: Container, user_id: UUID,
                     which: str, step: Any, notice: str, fields: dict[str, str],
                     default: str, form: dict[str, Any] | None = None) -> Response:
    outcome: Outcome[CommandResult] = await run_in_threadpool(act, request, step, fields,
                                                              default)
    if outcome.result is None:
        return await _user_page(request, session, c, user_id, errors=outcome.errors,
                                which=which, form=form)
    return await settled(c, outcome.result.position, f"/app/admin/users/{user_id}", notice)


@router.post("/admin/users/{user_id}/roles")
async def change_roles(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                       roles: Annotated[list[str], Form()] = [],  # noqa: B006
                       expected_version: FormVersion = None) -> Response:
    """Đổi vai trò / Replace the user's roles (their sessions end)."""
    who = _admin(session)
    chosen = [Role(r) for r in roles if r in ROLES]
    if not chosen:
        return await _user_page(request, session, c, user_id, which="roles",
                                errors=_field_error("roles", _(CHOOSE_ROLE)))
    return await _user_step(
        request, session, c, user_id, "roles",
        lambda: users.change_roles(c.write.identity, who, user_id, chosen, expected_version),
        "roles_changed", {"last_admin": "roles"}, "roles")


def _confirmed(confirm: str) -> FormErrors | None:
    return None if confirm == "yes" else _field_error("confirm", _(CONFIRM))


async def _change_status(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                         reason: str, confirm: str,
                         step: Callable[[Principal], CommandResult], notice: str,
                         fields: dict[str, str]) -> Response:
    who = _admin(session)
    if refused := _confirmed(confirm):
        return await _user_page(request, session, c, user_id, errors=refused,
                                which="status", form={"reason": reason})
    return await _user_step(request, session, c, user_id, "status", lambda: step(who),
                            notice, fields, "reason", {"reason": reason})


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                     reason: Text = "", confirm: Text = "") -> Response:
    """Khóa tài khoản / Disable the account (with a reason, confirmed)."""
    return await _change_status(
        request, session, c, user_id, reason, confirm,
        lambda who: users.deactivate(c.write.identity, who, user_id, reason),
        "deactivated", {"last_admin": "confirm"})


@router.post("/admin/users/{user_id}/reactivate")
async def reactivate(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                     reason: Text = "", confirm: Text = "") -> Response:
    """Mở khóa tài khoản / Enable the account again (with a reason, confirmed)."""
    return await _change_status(
        request, session, c, user_id, reason, confirm,
        lambda who: users.reactivate(c.write.app, who, user_id, reason),
        "reactivated", {})


@router.post("/admin/users/{user_id}/password")
async def reset_password(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                         password: Text = "") -> Response:
    """Đặt lại mật khẩu / Set a new password (every session of the user ends)."""
    who = _admin(session)
    return await _user_step(
        request, session, c, user_id, "password",
        lambda: users.set_password(c.write.identity, who, user_id, password),
        "password_reset", {}, "password")


def _vietnam_moment(text: str, name: str) -> datetime | None:
    """A datetime-local typed in Vietnam time, as an aware moment."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError("not a date and time", field=name) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM_TZ)).astimezone(UTC)


@router.post("/admin/users/{user_id}/mandates")
async def grant_mandate(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                        agency_id: Text = "", legal_basis: Text = "", valid_from: Text = "",
                        valid_to: Text = "") -> Response:
    """Giao quyền kiểm tra / Give the auditor a mandate for an agency and a term."""
    who = _admin(session)
    form = {"agency_id": agency_id, "legal_basis": legal_basis, "valid_from": valid_from,
            "valid_to": valid_to}

    def step() -> CommandResult:
        agency = _uuid(agency_id)
        if agency is None:
            raise AgencyNotFoundError("choose an agency", field="agency_id")
        return grant_audit_mandate(
            c.write.app, who, user_id, agency, legal_basis=legal_basis,
            valid_from=_vietnam_moment(valid_from, "valid_from"),
            valid_to=_vietnam_moment(valid_to, "valid_to"))

    return await _user_step(
        request, session, c, user_id, "mandate", step, "mandate_granted",
        {"agency_not_found": "agency_id", "mandate_in_force": "agency_id",
         "not_an_auditor": "agency_id", "text_too_long": "legal_basis",
         "invalid_text": "legal_basis"}, "legal_basis", form)


@router.post("/admin/users/{user_id}/mandates/{agency_id}/revoke")
async def revoke_mandate(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                         agency_id: UUID, reason: Text = "") -> Response:
    """Thu hồi quyền kiểm tra / Withdraw the auditor's mandate for an agency (at once)."""
    who = _admin(session)
    # The page's form names the field after its row (its own id and label).
    reason = reason or str((await request.form()).get(f"reason-{agency_id}", ""))
    return await _user_step(
        request, session, c, user_id, f"revoke-{agency_id}",
        lambda: revoke_audit_mandate(c.write.app, who, user_id, agency_id, reason),
        "mandate_revoked", {}, f"reason-{agency_id}", {"reason": reason})


# --- calendars --------------------------------------------------------------------------


async def _calendar_page(request: Request, session: PageSession, c: Container,
                         agency_id: UUID, *, errors: FormErrors | None = None,
                         form: dict[str, str] | None = None,
                         notice: str | None = None) -> Response:
    agency = await _agency(c, agency_id)
    row = await c.exchange_reads.agency_calendar(agency_id)
    return _form_page(request, session, "admin/calendar.html", {
        "agency": agency,
        "days_off": sorted(row["extra_days_off"]) if row else [],
        "make_up": sorted(row["make_up_working_days"]) if row else [],
        "version": row["version"] if row else agency["version"],
        "form": {"day": "", "kind": "off"} | (form or {})}, errors, notice)


@router.get("/admin/agencies/{agency_id}/calendar")
async def calendar_page(request: Request, session: Session, c: ContainerDep,
                        agency_id: UUID, notice: str | None = None) -> Response:
    """Lịch làm việc / The agency's own days off and make-up working days."""
    _admin(session)
    return await _calendar_page(request, session, c, agency_id, notice=notice)


@router.post("/admin/agencies/{agency_id}/calendar")
async def change_calendar(request: Request, session: Session, c: ContainerDep,
                          agency_id: UUID, day: Text = "", kind: Text = "off",
                          action: Text = "add", expected_version: FormVersion = None) -> Response:
    """Add a day off or a make-up working day, or remove one (the whole lists are set)."""
    who = _admin(session)
    form = {"day": day, "kind": kind}
    row = await c.exchange_reads.agency_calendar(agency_id)
    lists = {"off": list(row["extra_days_off"]) if row else [],
             "makeup": list(row["make_up_working_days"]) if row else []}

    def step() -> CommandResult:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise InvalidInputError("not a date", field="day") from None
        target = lists.get(kind)
        if target is None:
            raise InvalidInputError("choose a kind of day", field="kind")
        if action == "remove":
            target[:] = [d for d in target if d != chosen]
        elif chosen not in target:
            target.append(chosen)
        return handling.set_calendar(c.write.incoming, who, agency_id, sorted(lists["off"]),
                                     sorted(lists["makeup"]), expected_version)

    outcome: Outcome[CommandResult] = await run_in_threadpool(act, request, step, {}, "day")
    if outcome.result is None:
        return await _calendar_page(request, session, c, agency_id, errors=outcome.errors,
                                    form=form)
    return await settled(c, outcome.result.position, f"/app/admin/agencies/{agency_id}/calendar",
                    "calendar_saved")


# --- webhooks ---------------------------------------------------------------------------


def _service(c: Container) -> WebhookService:
    return WebhookService(c.write.app, targets=webhook_targets(c.settings))


async def _webhooks_page(request: Request, session: PageSession, c: Container,
                         agency_id: UUID, *, errors: FormErrors | None = None,
                         form: dict[str, Any] | None = None, secret: str = "",
                         notice: str | None = None) -> Response:
    agency = await _agency(c, agency_id)
    hooks = await WebhookQueries(c.pool).list_subscriptions(agency_id)
    return _form_page(request, session, "admin/webhooks.html", {
        "agency": agency, "hooks": hooks, "kinds": KINDS,
        "form": {"url": "", "kinds": []} | (form or {}), "secret": secret}, errors, notice)


@router.get("/admin/agencies/{agency_id}/webhooks")
async def webhooks_page(request: Request, session: Session, c: ContainerDep,
                        agency_id: UUID, notice: str | None = None) -> Response:
    """Webhook / The agency's webhook subscriptions (never their secrets)."""
    _admin(session)
    return await _webhooks_page(request, session, c, agency_id, notice=notice)


@router.post("/admin/agencies/{agency_id}/webhooks")
async def create_webhook(request: Request, session: Session, c: ContainerDep,
                         agency_id: UUID, url: Text = "",
                         kinds: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    """Đăng ký webhook / Subscribe an endpoint; its signing secret is shown this once."""
    who = _admin(session)
    form = {"url": url, "kinds": kinds}
    outcome = await run_in_threadpool(
        act, request, lambda: _service(c).subscribe(who, agency_id, url, kinds),
        {"invalid_webhook_url": "url"}, "kinds")
    if outcome.result is None:
        errors = outcome.errors
        if _(WEBHOOK_TARGET) in errors.messages.values():
            # The address refused for where it leads (webhook_target_<reason>).
            errors.messages = {"url": _(WEBHOOK_TARGET)}
        return await _webhooks_page(request, session, c, agency_id, errors=errors,
                                    form=form)
    await run_in_threadpool(c.wait_for_webhooks, outcome.result.result.position)
    # The secret is shown once, on this answer (as the API's 201 carries it), never again.
    return await _webhooks_page(request, session, c, agency_id,
                                secret=outcome.result.secret, notice="webhook_created")


@router.post("/admin/agencies/{agency_id}/webhooks/{webhook_id}/cancel")
async def cancel_webhook(request: Request, session: Session, c: ContainerDep,
                         agency_id: UUID, webhook_id: UUID, reason: Text = "",
                         confirm: Text = "") -> Response:
    """Hủy webhook / Cancel a subscription (confirmed): its deliveries stop."""
    who = _admin(session)
    if confirm != "yes":
        return await _webhooks_page(request, session, c, agency_id,
                                    errors=_field_error(f"confirm-{webhook_id}", _(CONFIRM)))
    outcome: Outcome[CommandResult] = await run_in_threadpool(
        act, request, lambda: _service(c).cancel(who, agency_id, webhook_id, reason))
    if outcome.result is None:
        return await _webhooks_page(request, session, c, agency_id, errors=outcome.errors)
    await run_in_threadpool(c.wait_for_webhooks, outcome.result.position)
    return see_other(f"/app/admin/agencies/{agency_id}/webhooks", "webhook_cancelled")


@router.get("/admin/agencies/{agency_id}/webhooks/{webhook_id}")
async def deliveries(request: Request, session: Session, c: ContainerDep, agency_id: UUID,
                     webhook_id: UUID) -> Response:
    """Lịch sử gửi / A subscription's most recent deliveries."""
    _admin(session)
    agency = await _agency(c, agency_id)
    queries = WebhookQueries(c.pool)
    hook = await queries.get_subscription(agency_id, webhook_id)
    if hook is None:
        raise WebhookNotFoundError(f"webhook {webhook_id} not found for this agency",
                                   id=str(webhook_id))
    rows = await queries.list_deliveries(webhook_id, 50)
    return render(request, "admin/deliveries.html", {
        "agency": agency, "hook": hook, "rows": rows, "kinds": KINDS,
        "statuses": DELIVERY_STATUSES}, session=session)
