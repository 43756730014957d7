"""Single sign-on fixtures: the test provider (tests/support/oidc.py)."""

from tests.support.oidc import oidc_provider

__all__ = ["oidc_provider"]
