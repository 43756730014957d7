"""Fixtures of the provider tests: the test PKI, a real CSC service, a confirmation service."""

from __future__ import annotations

from tests.signing import conftest as signing_fixtures
from tests.support import confirm_provider as confirm_support
from tests.support import csc as csc_support

# Reused fixtures (a conftest below the root cannot name pytest_plugins).
animator_server = signing_fixtures.animator_server
test_pki = signing_fixtures.test_pki
softhsm_token = signing_fixtures.softhsm_token
csc_server = csc_support.csc_server
csc_service = csc_support.csc_service
confirm_provider = confirm_support.confirm_provider
