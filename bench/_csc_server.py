"""certomancer-csc-dummy over the committed test PKI, alone in its own process.

``python -m bench._csc_server PORT``: bench.signing_methods starts it so that the service's
CPU (its RSA signatures included) is not counted as the docmgmt server's.
"""

from __future__ import annotations

import sys

from aiohttp import web
from certomancer.registry import CertomancerConfig

from tests.signing.conftest import PKI_DIR
from tests.support.csc import CscService, _build_app

# Never reached: the bench validates without fetching revocation data.
UNUSED_URL_PREFIX = "http://127.0.0.1:9"


def main() -> None:
    """Serve the CSC API v1 on 127.0.0.1:PORT until terminated."""
    port = int(sys.argv[1])
    config = CertomancerConfig.from_file(str(PKI_DIR / "certomancer.yml"),
                                         external_url_prefix=UNUSED_URL_PREFIX)
    service = CscService(url=f"http://127.0.0.1:{port}/csc/v1", token_url="")
    web.run_app(_build_app(config, service), host="127.0.0.1", port=port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
