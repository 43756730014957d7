"""The development JWT secret: random per data folder, never a constant of the source."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from docmgmt.identity.secrets import jwt_secret_file, with_jwt_secret
from docmgmt.settings import Mode, Settings
from tests.api.conftest import Api
from tests.api.support import assert_error
from tests.support.server import serve

# The constant earlier versions published in docmgmt/settings.py.
OLD_PUBLISHED_SECRET = "development-only-jwt-secret-change-me-0123456789"


def _forged(sub: str, secret: str) -> str:
    now = datetime.now(UTC)
    return jwt.encode({"sub": sub, "iss": "docmgmt", "iat": now, "nbf": now,
                       "exp": now + timedelta(minutes=5), "sgen": 0}, secret,
                      algorithm="HS256")


def test_a_token_forged_with_the_old_published_secret_is_refused(
    shared_api: Api, shared_city: dict[str, Any]
) -> None:
    root_id = next(u["id"] for u in shared_api.client("root").get("/users").json()
                   if u["username"] == "root")
    r = shared_api.client().get("/users", headers={
        "Authorization": "Bearer " + _forged(root_id, OLD_PUBLISHED_SECRET)})
    assert_error(r, 401, "not_authenticated")


def test_each_data_folder_gets_its_own_secret_kept_across_starts(tmp_path: Path) -> None:
    one = with_jwt_secret(Settings(data_dir=tmp_path / "one"))
    two = with_jwt_secret(Settings(data_dir=tmp_path / "two"))
    again = with_jwt_secret(Settings(data_dir=tmp_path / "one"))
    assert one.jwt_secret is not None
    assert two.jwt_secret is not None
    assert again.jwt_secret is not None
    assert one.jwt_secret.get_secret_value() != two.jwt_secret.get_secret_value()
    assert one.jwt_secret.get_secret_value() == again.jwt_secret.get_secret_value()
    assert len(one.jwt_secret.get_secret_value()) >= 43
    assert OLD_PUBLISHED_SECRET not in (one.jwt_secret.get_secret_value(),
                                        two.jwt_secret.get_secret_value())
    # Only the owner may read it.
    path = jwt_secret_file(tmp_path / "one")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_explicit_secret_is_used_as_given(tmp_path: Path) -> None:
    settings = with_jwt_secret(Settings(data_dir=tmp_path, jwt_secret="s" * 40))
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == "s" * 40
    assert not jwt_secret_file(tmp_path).exists()


@pytest.mark.parametrize("secret", [None, "short"])
def test_production_requires_an_explicit_long_secret(tmp_path: Path, secret: str | None) -> None:
    with pytest.raises(ValueError, match="DOCMGMT_JWT_SECRET"):
        Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, jwt_secret=secret,
                 database_url="postgresql://x/y", keys_file=tmp_path / "keys.toml")


def test_a_restart_on_the_same_folder_keeps_tokens_valid(api: Api) -> None:
    token = api.client("root").headers["Authorization"]
    # A second start on the same data folder (a restart, or a second process) accepts it.
    with serve(api.settings) as again:
        r = api.client().get(again + "/me", headers={"Authorization": token})
        assert r.status_code == 200, r.text
