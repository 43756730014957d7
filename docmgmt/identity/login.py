"""Logging in: the password checked against its hash, attempts throttled."""

from __future__ import annotations

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from docmgmt.domain.errors import DomainError, InvalidInputError, UserNotFoundError
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


def log_in(ctx: IdentityContext, username: str, password: str,
           client_address: str) -> tuple[User, int]:
    """The user and their session generation, if the attempt is allowed (else
    TooManyAttemptsError, even for the right password) and the password is right."""
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
