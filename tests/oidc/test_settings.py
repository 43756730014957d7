"""The single sign-on settings refuse what would lock everyone out or leak tokens."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from docmgmt.settings import Mode, Settings


def test_passwords_off_needs_a_provider() -> None:
    with pytest.raises(ValidationError, match="needs DOCMGMT_OIDC_ISSUER"):
        Settings(local_passwords=False)
    assert not Settings(local_passwords=False, oidc_issuer="https://sso.example").local_passwords


def test_production_wants_the_provider_over_https() -> None:
    with pytest.raises(ValidationError, match="https:// address in production"):
        Settings(mode=Mode.PRODUCTION, jwt_secret="x" * 32, database_url="postgresql://h/d",
                 keys_file="keys.json", oidc_issuer="http://sso.example/realms/docmgmt")


def test_an_empty_issuer_from_compose_means_no_single_sign_on() -> None:
    settings = Settings(oidc_issuer="", oidc_client_secret="")
    assert settings.oidc_issuer is None
    assert settings.oidc_client_secret is None
