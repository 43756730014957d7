"""The server-key provider: a leader's key the server holds ("users" in the keys file)."""

from __future__ import annotations

from signing.providers._local import HeldKeyProvider, KeyFor


class ServerKeyProvider(HeldKeyProvider):
    """Signs with the key configured for the signer under "users" (the old way)."""

    def __init__(self, key_for: KeyFor) -> None:
        super().__init__("server", key_for, development=False)
