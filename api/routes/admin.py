"""Administration: agencies, organisational units and user accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import ContainerDep, IfMatch, pick_version
from docmgmt.audit import AuditQueries, AuditService
from docmgmt.domain.common import Role
from docmgmt.domain.errors import PermissionDeniedError
from docmgmt.identity import NewUser
from docmgmt.kernel.store import CommandResult

router = APIRouter(tags=["administration"])


class Created(BaseModel):
    """The id and version of what a command created or changed."""

    id: UUID
    version: int


def _done(c: ContainerDep, result: CommandResult) -> Created:
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


class AgencyIn(BaseModel):
    """A new agency."""

    code: str = Field(examples=["STTTT"])
    name: str = Field(examples=["Sở Thông tin và Truyền thông"])
    parent_id: UUID | None = None


class UnitIn(BaseModel):
    """A new organisational unit."""

    code: str = Field(examples=["VP"])
    name: str = Field(examples=["Văn phòng"])
    expected_version: int | None = None


class UserIn(BaseModel):
    """A new user account."""

    username: str = Field(examples=["an.nguyen"])
    full_name: str = Field(examples=["Nguyễn Văn An"])
    password: str = Field(min_length=10)
    roles: list[Role]
    agency_id: UUID
    unit_id: UUID | None = None
    title: str = ""


class RolesIn(BaseModel):
    """A user's new roles."""

    roles: list[Role]
    expected_version: int | None = None


class PasswordIn(BaseModel):
    """A new password."""

    password: str = Field(min_length=10)


class ReasonIn(BaseModel):
    """Why an account is disabled or enabled again."""

    reason: str


@router.post("/agencies", status_code=status.HTTP_201_CREATED)
def create_agency(body: AgencyIn, who: CurrentUser, c: ContainerDep) -> Created:
    """Tạo cơ quan / Register an agency (admin)."""
    return _done(c, c.write.identity.create_agency(who, body.code, body.name, body.parent_id))


@router.get("/agencies")
async def list_agencies(who: CurrentUser, c: ContainerDep) -> list[dict[str, Any]]:
    """Danh sách cơ quan / Every agency and its units (any signed-in user: the address book)."""
    return await c.queries.list_agencies()


@router.post("/agencies/{agency_id}/units", status_code=status.HTTP_201_CREATED)
def add_unit(
    agency_id: UUID, body: UnitIn, who: CurrentUser, c: ContainerDep, if_match: IfMatch
) -> Created:
    """Thêm đơn vị / Add an organisational unit to an agency (admin)."""
    version = pick_version(if_match, body.expected_version)
    result = c.write.identity.add_unit(who, agency_id, body.code, body.name, version)
    return _done(c, result)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, who: CurrentUser, c: ContainerDep) -> Created:
    """Tạo người dùng / Create a user account with an initial password (admin)."""
    new = NewUser(username=body.username, full_name=body.full_name, password=body.password,
                  roles=body.roles, agency_id=body.agency_id, unit_id=body.unit_id,
                  title=body.title)
    return _done(c, c.write.identity.create_user(who, new))


@router.get("/users")
async def list_users(
    who: CurrentUser, c: ContainerDep, agency_id: UUID | None = None
) -> list[dict[str, Any]]:
    """Danh sách người dùng / Users: an admin sees any agency, others their own agency."""
    if Role.ADMIN not in who.roles:
        agency_id = who.agency_id
    return await c.queries.list_users(agency_id)


@router.put("/users/{user_id}/roles")
def change_roles(
    user_id: UUID, body: RolesIn, who: CurrentUser, c: ContainerDep, if_match: IfMatch
) -> Created:
    """Đổi vai trò / Replace a user's roles (admin); the user's tokens stop working and
    they log in again. The last active admin keeps the admin role (409 last_admin)."""
    version = pick_version(if_match, body.expected_version)
    return _done(c, c.write.identity.change_roles(who, user_id, body.roles, version))


@router.post("/users/{user_id}/deactivate")
def deactivate(user_id: UUID, body: ReasonIn, who: CurrentUser, c: ContainerDep) -> Created:
    """Khóa tài khoản / Disable an account (admin); its tokens stop working at once.
    The last active admin cannot be disabled (409 last_admin)."""
    return _done(c, c.write.identity.deactivate(who, user_id, body.reason))


@router.post("/users/{user_id}/reactivate")
def reactivate(user_id: UUID, body: ReasonIn, who: CurrentUser, c: ContainerDep) -> Created:
    """Mở khóa tài khoản / Enable a disabled account again (admin); tokens issued before
    it was disabled stay invalid. 409 if the account is active."""
    return _done(c, c.write.identity.reactivate(who, user_id, body.reason))


@router.put("/users/{user_id}/password")
def set_password(user_id: UUID, body: PasswordIn, who: CurrentUser, c: ContainerDep) -> Created:
    """Đổi mật khẩu / Change your own password, or reset another's (admin); every token
    issued before stops working."""
    return _done(c, c.write.identity.set_password(who, user_id, body.password))


class MandateIn(BaseModel):
    """An audit mandate: the agency, its term (from now, open-ended by default), and why."""

    agency_id: UUID
    valid_from: datetime | None = Field(default=None, examples=["2026-01-01T00:00:00+07:00"])
    valid_to: datetime | None = None
    legal_basis: str = Field(examples=["Quyết định thanh tra số 12/QĐ-TTr"])


class RevocationIn(BaseModel):
    """Why an audit mandate is withdrawn."""

    reason: str


def _audit(c: ContainerDep) -> AuditService:
    return AuditService(c.write.app, c.write.outgoing)


@router.post("/users/{user_id}/audit-mandates", status_code=status.HTTP_201_CREATED)
def grant_audit_mandate(
    user_id: UUID, body: MandateIn, who: CurrentUser, c: ContainerDep
) -> Created:
    """Giao quyền kiểm tra / Give an auditor authority to read one agency's records for a
    term (admin). The user must be an active auditor (422 otherwise); a revoked or expired
    mandate is granted again with the new terms, one still current is refused (409)."""
    return _done(c, _audit(c).grant_mandate(
        who, user_id, body.agency_id, valid_from=body.valid_from, valid_to=body.valid_to,
        legal_basis=body.legal_basis))


@router.delete("/users/{user_id}/audit-mandates/{agency_id}")
def revoke_audit_mandate(
    user_id: UUID, agency_id: UUID, body: RevocationIn, who: CurrentUser, c: ContainerDep
) -> Created:
    """Thu hồi quyền kiểm tra / Withdraw an auditor's authority to read an agency (admin);
    it takes effect at once."""
    return _done(c, _audit(c).revoke_mandate(who, user_id, agency_id, body.reason))


@router.get("/users/{user_id}/audit-mandates")
async def list_audit_mandates(
    user_id: UUID, who: CurrentUser, c: ContainerDep
) -> list[dict[str, Any]]:
    """Phạm vi kiểm tra / The agencies an auditor holds mandates for, their terms and
    whether each is in force now (admins, and the auditor themself)."""
    if Role.ADMIN not in who.roles and who.user_id != user_id:
        raise PermissionDeniedError("only an admin may see another user's audit mandates")
    return await AuditQueries(c.pool).list_mandates(user_id)
