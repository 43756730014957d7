"""Logging in: the password checked against its hash, attempts throttled; or an identity
vouched for by the single sign-on provider, matched to an existing account."""

from __future__ import annotations

import contextlib
import logging
from uuid import UUID

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from docmgmt.domain.errors import (
    DomainError,
    InvalidInputError,
    PermissionDeniedError,
    UserNotFoundError,
)
from docmgmt.domain.user import User
from docmgmt.identity.context import IdentityContext


class InvalidCredentialsError(DomainError):
    """Wrong username or password, or a disabled account (one message for all)."""

    code = "invalid_credentials"


class TooManyAttemptsError(DomainError):
    """Too many failed logins for the account or from the address: wait and retry."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class LocalPasswordsOffError(PermissionDeniedError):
    """Passwords are turned off here: sign in through single sign-on."""

    code = "local_passwords_off"


class UnknownAccountError(InvalidCredentialsError):
    """The provider vouched for someone no account here matches (no self-registration)."""

    code = "sso_unknown_account"


class AccountDisabledError(InvalidCredentialsError):
    """The provider vouched for a disabled account."""

    code = "sso_account_disabled"


log = logging.getLogger("docmgmt.identity")


def log_in(ctx: IdentityContext, username: str, password: str,
           client_address: str) -> tuple[User, int]:
    """The user and their session generation, if the attempt is allowed (else
    TooManyAttemptsError, even for the right password) and the password is right."""
    if not ctx.local_passwords:
        raise LocalPasswordsOffError(
            "sign-in with a password is turned off here; sign in through single sign-on "
            "(the pages' SSO button, or POST /auth/oidc/token)")
    # Names that do not exist are counted like those that do, so a lock-out says
    # nothing about which accounts exist.
    attempt = ctx.throttle.begin(username.strip().lower()[:200], client_address)
    found = _verify(ctx, username, password)
    ctx.throttle.succeeded(attempt)
    return found


def authenticate(ctx: IdentityContext, username: str, password: str) -> User:
    """The active user with this username and password, or InvalidCredentialsError
    (not throttled: for the command line and tests)."""
    return _verify(ctx, username, password)[0]


def _verify(ctx: IdentityContext, username: str, password: str) -> tuple[User, int]:
    try:
        user: User | None = ctx.store.find_user(username)
    except (UserNotFoundError, InvalidInputError):
        user = None
    login = ctx.credentials.get_login(user.id) if user else None
    try:
        ctx.hasher.verify(login[0] if login else ctx.dummy_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise InvalidCredentialsError("wrong username or password") from None
    if user is None or login is None or not user.active:
        raise InvalidCredentialsError("wrong username or password")
    return user, login[1]


def log_in_federated(ctx: IdentityContext, username: str, client_address: str,
                     method: str = "oidc") -> tuple[User, int]:
    """The active account ``username`` names (the provider's matching claim) and its session
    generation; roles and everything else stay as docmgmt has them."""
    try:
        user: User | None = ctx.store.find_user(username)
    except (UserNotFoundError, InvalidInputError):
        user = None
    login = ctx.credentials.get_login(user.id) if user else None
    if user is None or login is None or not user.active:
        # Recorded where refused password logins are (GET /auth/failed-logins); counted
        # like them too, which a refusal does not mind.
        with contextlib.suppress(TooManyAttemptsError):
            ctx.throttle.begin(username.strip().lower()[:200], client_address)
    if user is None or login is None:
        log.info("login refused method=%s username=%r address=%s: no such account",
                 method, username, client_address)
        raise UnknownAccountError(
            f"no account matches the single sign-on identity {username!r}; an administrator "
            "must create it first", username=username)
    if not user.active:
        log.info("login refused method=%s user=%s address=%s: account disabled",
                 method, user.id, client_address)
        raise AccountDisabledError("the account is disabled", username=username)
    log.info("login method=%s user=%s address=%s", method, user.id, client_address)
    return user, login[1]


def log_out(ctx: IdentityContext, user_id: UUID) -> None:
    """End every session and token of the account (the session generation moves on)."""
    ctx.credentials.end_sessions(user_id)
