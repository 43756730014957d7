"""The development provider: signs with the development PKI's key of the signer."""

from __future__ import annotations

from signing.providers._local import HeldKeyProvider, KeyFor


class DevelopmentProvider(HeldKeyProvider):
    """The embedded default's provider; its keys say "DEVELOPMENT — NOT FOR PRODUCTION"."""

    def __init__(self, key_for: KeyFor) -> None:
        super().__init__("development", key_for, development=True)
