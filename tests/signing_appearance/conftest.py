"""Fixtures for the Annex I appearance, form filling and development PKI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from signing.devpki import DevPki, init_dev_pki
from tests.signing_appearance.pdftools import (
    AGENCY_CODE,
    AGENCY_NAME,
    ThrowawaySigner,
    make_draft,
    throwaway_signer,
)


@pytest.fixture(scope="session")
def leader_key() -> ThrowawaySigner:
    """A throwaway self-signed leader key (not the dev PKI) for the form-filling tests."""
    return throwaway_signer()


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """One development PKI for the session (the TSA's RSA-3072 key takes a moment)."""
    return init_dev_pki(tmp_path_factory.mktemp("devpki"), AGENCY_CODE, AGENCY_NAME)


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    """A fresh unsigned one-page draft."""
    return make_draft(tmp_path / "draft.pdf")
