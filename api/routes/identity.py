"""Identity: login and the caller's account; administration of agencies, units and users."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.auth import CurrentUser, issue_token
from api.deps import ContainerDep, IdentityDep, IfMatch, StoreDep, pick_version
from api.routing import ThreadedRoute
from api.schemas import Created
from docmgmt.domain.common import Role
from docmgmt.domain.errors import PermissionDeniedError
from docmgmt.identity import agencies, users
from docmgmt.identity.login import log_in
from docmgmt.identity.sessions import list_failed_logins
from docmgmt.identity.users import NewUser
from docmgmt.kernel.store import CommandResult

router = APIRouter(tags=["administration"], route_class=ThreadedRoute)
auth_router = APIRouter(tags=["auth"], route_class=ThreadedRoute)


def _done(c: ContainerDep, result: CommandResult) -> Created:
    c.wait_for_view(result.position)
    return Created(id=result.id, version=result.version)


class Token(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


@auth_router.post("/auth/token", response_model=Token, responses={
    429: {"description": "Too many failed logins for the account or from the address; "
                         "the Retry-After header says how many seconds to wait"}})
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, c: ContainerDep,
    ctx: IdentityDep,
) -> Token:
    """Đăng nhập / Log in with username and password; returns a bearer token. Too many
    failures for the account or from the address answer 429 with Retry-After."""
    # Fail fast when the database is down rather than wait out the write side's retries.
    c.ping_database()
    address = request.client.host if request.client else ""
    user, generation = log_in(ctx, form.username, form.password, address)
    token, ttl = issue_token(c.settings, user, generation)
    return Token(access_token=token, expires_in=ttl)


@auth_router.get("/auth/failed-logins")
async def failed_logins(
    who: CurrentUser, c: ContainerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Đăng nhập thất bại / The most recent failed logins (username as typed, client
    address, time), newest first (admins and auditors). Kept outside the event log,
    bounded in number and age."""
    if not who.roles & {Role.ADMIN, Role.AUDITOR}:
        raise PermissionDeniedError("only admins and auditors may read failed logins")
    return await list_failed_logins(c.pool, limit)


@auth_router.get("/me")
async def me(who: CurrentUser, c: ContainerDep) -> dict[str, Any]:
    """Tài khoản của tôi / The logged-in user's account."""
    user = await c.queries.get_user(who.user_id)
    if user is None:  # deleted between authentication and now: treat as logged out
        raise HTTPException(401, "the account does not exist")
    return {
        "id": user.id, "username": user.username, "full_name": user.full_name,
        "title": user.title, "agency_id": user.agency_id, "unit_id": user.unit_id,
        "roles": sorted(r.value for r in user.roles), "version": user.version,
    }


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

    # Its name clashes with the exchange routes' ReasonIn, so /openapi.json qualifies it by
    # module: the published name stays api__routes__admin__ReasonIn, as before the move.
    __module__ = "api.routes.admin"

    reason: str


@router.post("/agencies", status_code=status.HTTP_201_CREATED)
def create_agency(body: AgencyIn, who: CurrentUser, c: ContainerDep, store: StoreDep) -> Created:
    """Tạo cơ quan / Register an agency (admin)."""
    return _done(c, agencies.register_agency(store, who, body.code, body.name, body.parent_id))


@router.get("/agencies")
async def list_agencies(who: CurrentUser, c: ContainerDep) -> list[dict[str, Any]]:
    """Danh sách cơ quan / Every agency and its units (any signed-in user: the address book)."""
    return await c.queries.list_agencies()


@router.post("/agencies/{agency_id}/units", status_code=status.HTTP_201_CREATED)
def add_unit(
    agency_id: UUID, body: UnitIn, who: CurrentUser, c: ContainerDep, if_match: IfMatch,
    store: StoreDep,
) -> Created:
    """Thêm đơn vị / Add an organisational unit to an agency (admin)."""
    version = pick_version(if_match, body.expected_version)
    result = agencies.add_unit(store, who, agency_id, body.code, body.name, version)
    return _done(c, result)


class PlaceNameIn(BaseModel):
    """The place name before the date of numbered documents."""

    place_name: str
    expected_version: int | None = None


@router.put("/agencies/{agency_id}/place-name")
def set_place_name(
    agency_id: UUID, body: PlaceNameIn, who: CurrentUser, c: ContainerDep, if_match: IfMatch,
    store: StoreDep,
) -> Created:
    """Đặt địa danh / Set the place name before the date on numbered documents (admin)."""
    version = pick_version(if_match, body.expected_version)
    return _done(c, agencies.set_place_name(store, who, agency_id, body.place_name, version))


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, who: CurrentUser, c: ContainerDep, ctx: IdentityDep) -> Created:
    """Tạo người dùng / Create a user account with an initial password (admin)."""
    new = NewUser(username=body.username, full_name=body.full_name, password=body.password,
                  roles=body.roles, agency_id=body.agency_id, unit_id=body.unit_id,
                  title=body.title)
    return _done(c, users.create_user(ctx, who, new))


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
    user_id: UUID, body: RolesIn, who: CurrentUser, c: ContainerDep, if_match: IfMatch,
    ctx: IdentityDep,
) -> Created:
    """Đổi vai trò / Replace a user's roles (admin); the user's tokens stop working and
    they log in again. The last active admin keeps the admin role (409 last_admin)."""
    version = pick_version(if_match, body.expected_version)
    return _done(c, users.change_roles(ctx, who, user_id, body.roles, version))


@router.post("/users/{user_id}/deactivate")
def deactivate(
    user_id: UUID, body: ReasonIn, who: CurrentUser, c: ContainerDep, ctx: IdentityDep
) -> Created:
    """Khóa tài khoản / Disable an account (admin); its tokens stop working at once.
    The last active admin cannot be disabled (409 last_admin)."""
    return _done(c, users.deactivate(ctx, who, user_id, body.reason))


@router.post("/users/{user_id}/reactivate")
def reactivate(
    user_id: UUID, body: ReasonIn, who: CurrentUser, c: ContainerDep, store: StoreDep
) -> Created:
    """Mở khóa tài khoản / Enable a disabled account again (admin); tokens issued before
    it was disabled stay invalid. 409 if the account is active."""
    return _done(c, users.reactivate(store, who, user_id, body.reason))


@router.put("/users/{user_id}/password")
def set_password(
    user_id: UUID, body: PasswordIn, who: CurrentUser, c: ContainerDep, ctx: IdentityDep
) -> Created:
    """Đổi mật khẩu / Change your own password, or reset another's (admin); every token
    issued before stops working."""
    return _done(c, users.set_password(ctx, who, user_id, body.password))
