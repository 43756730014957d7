"""The JWT signing secret: explicit in production, random per data folder in development."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from docmgmt.settings import Settings


def jwt_secret_file(data_dir: Path) -> Path:
    """Where a data folder keeps its development JWT secret."""
    return data_dir.resolve() / "secrets" / "jwt-secret"


def with_jwt_secret(settings: Settings) -> Settings:
    """The settings with a JWT secret: the configured one, else the data folder's own
    (created on first use, mode 0600, reused by every later start and process)."""
    if settings.jwt_secret is not None:
        return settings
    secret = _folder_secret(jwt_secret_file(settings.data_dir))
    return settings.model_copy(update={"jwt_secret": SecretStr(secret)})


def _folder_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written in full under a private name, then linked into place: two processes
        # starting at once never read a partial file, and the first one's secret wins.
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise ValueError(f"the JWT secret in {path.name} of the data folder is too short; "
                         "delete it to make a new one (every token is then invalid)")
    return value
