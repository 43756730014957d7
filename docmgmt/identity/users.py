"""User accounts: create, change roles, disable and enable, set a password."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid5

from docmgmt.domain.agency import Agency
from docmgmt.domain.common import ID_NAMESPACE, Actor, Role
from docmgmt.domain.errors import (
    AgencyNotFoundError,
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    InvalidStateError,
    PermissionDeniedError,
    UnitNotFoundError,
    UserNotFoundError,
)
from docmgmt.domain.user import User
from docmgmt.identity.agencies import register_agency
from docmgmt.identity.context import IdentityContext
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult, DocMgmt

MIN_PASSWORD_LENGTH = 10
SYSTEM_ACTOR = Actor(uuid5(ID_NAMESPACE, "system"), "system", "", "docmgmt-cli", "")
SYSTEM = Principal(SYSTEM_ACTOR.user_id, "system", SYSTEM_ACTOR.user_id, None,
                   frozenset({Role.ADMIN}), user_agent="docmgmt-cli")
"""The command line acting as an admin (its events carry SYSTEM_ACTOR)."""


class LastAdminError(ConflictError):
    """The change would leave no active admin to administer the system."""

    code = "last_admin"


@dataclass(frozen=True)
class NewUser:
    """Fields of a new account."""

    username: str
    full_name: str
    password: str
    roles: Sequence[Role]
    agency_id: UUID
    unit_id: UUID | None = None
    title: str = ""


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")


def register_user(
    store: DocMgmt, who: Principal, *, username: str, full_name: str, title: str,
    agency_id: UUID, unit_id: UUID | None, roles: Sequence[Role],
) -> CommandResult:
    """An admin records an account in an agency (and unit); it has no password yet."""
    who.require(Role.ADMIN)
    agency = store.load(Agency, agency_id, AgencyNotFoundError)
    if unit_id is not None and unit_id not in agency.units:
        raise UnitNotFoundError(f"unit {unit_id} is not in agency {agency.code}")
    user = User.register(username=username, full_name=full_name, title=title,
                         agency_id=agency_id, unit_id=unit_id, roles=list(roles),
                         actor=who.actor)
    if store.exists(user.id):
        raise AlreadyExistsError(f"user {user.username} already exists", username=username)
    return store.commit(user)


def create_user(ctx: IdentityContext, who: Principal, new: NewUser) -> CommandResult:
    """An admin creates an account with an initial password."""
    who.require(Role.ADMIN)
    _check_password(new.password)
    result = register_user(
        ctx.store, who, username=new.username, full_name=new.full_name, title=new.title,
        agency_id=new.agency_id, unit_id=new.unit_id, roles=new.roles)
    ctx.credentials.set_hash(result.id, ctx.hasher.hash(new.password))
    return result


def bootstrap_admin(
    ctx: IdentityContext, username: str, password: str, full_name: str, agency_code: str,
    agency_name: str,
) -> UUID:
    """The command line creates the first agency and an admin in it (idempotent for the
    agency)."""
    try:
        agency_id = ctx.store.find_agency(agency_code).id
    except AgencyNotFoundError:
        agency_id = register_agency(ctx.store, SYSTEM, agency_code, agency_name, None).id
    return create_user(ctx, SYSTEM, NewUser(
        username=username, full_name=full_name, password=password, roles=[Role.ADMIN],
        agency_id=agency_id, title="Quản trị hệ thống")).id


def change_roles(
    ctx: IdentityContext, who: Principal, user_id: UUID, roles: Sequence[Role],
    expected_version: int | None,
) -> CommandResult:
    """An admin replaces a user's roles (which ends the user's sessions)."""
    who.require(Role.ADMIN)
    loaded = ctx.store.load(User, user_id, UserNotFoundError)
    with _keeping_an_admin(ctx, loaded, stays_admin=Role.ADMIN in roles) as user:
        ctx.store.check_version(user, expected_version)
        user.change_roles(list(roles), who.actor)
        result = ctx.store.commit(user)
    ctx.credentials.end_sessions(user_id)
    return result


def deactivate(ctx: IdentityContext, who: Principal, user_id: UUID,
               reason: str) -> CommandResult:
    """An admin disables an account (which ends its sessions)."""
    who.require(Role.ADMIN)
    loaded = ctx.store.load(User, user_id, UserNotFoundError)
    with _keeping_an_admin(ctx, loaded, stays_admin=False) as user:
        user.deactivate(reason, who.actor)
        result = ctx.store.commit(user)
    ctx.credentials.end_sessions(user_id)
    return result


def reactivate(store: DocMgmt, who: Principal, user_id: UUID, reason: str) -> CommandResult:
    """An admin enables a disabled account again (its old tokens stay ended)."""
    who.require(Role.ADMIN)
    user = store.load(User, user_id, UserNotFoundError)
    user.reactivate(reason, who.actor)
    return store.commit(user)


def set_password(ctx: IdentityContext, who: Principal, user_id: UUID,
                 password: str) -> CommandResult:
    """A user changes their own password, or an admin (or the command line) resets it."""
    if who.user_id != user_id and Role.ADMIN not in who.roles:
        raise PermissionDeniedError("only an admin can set another user's password")
    _check_password(password)
    user = ctx.store.load(User, user_id, UserNotFoundError)
    if not user.active:
        raise InvalidStateError("the account is deactivated", user=user.username)
    ctx.credentials.set_hash(user.id, ctx.hasher.hash(password))
    user.record_password_change(who.actor)
    return ctx.store.commit(user)


@contextlib.contextmanager
def _keeping_an_admin(ctx: IdentityContext, user: User, *, stays_admin: bool) -> Iterator[User]:
    """The user to change, after refusing a change that leaves no active admin. Two admins
    demoting each other at once are serialised by the roster's lock; under it the target
    is loaded again and the others counted from their aggregates (the write side), so
    the second sees what the first did."""
    # Only an active admin's change can lower the count; promotions never do, so a
    # target that is not one needs no lock and no second load.
    if stays_admin or not (user.active and user.has_role(Role.ADMIN)):
        yield user
        return
    with ctx.roster.hold():
        target = ctx.store.load(User, user.id, UserNotFoundError)
        if target.active and target.has_role(Role.ADMIN) and not any(
            _is_active_admin(ctx.store, other)
            for other in ctx.roster.admin_ids() if other != user.id
        ):
            raise LastAdminError(
                f"{target.username} is the last active admin; make another admin first",
                user=target.username)
        yield target


def _is_active_admin(store: DocMgmt, user_id: UUID) -> bool:
    try:
        user = store.get_user(user_id)
    except UserNotFoundError:
        return False
    return user.active and user.has_role(Role.ADMIN)
