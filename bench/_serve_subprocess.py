"""Run the API in a process of its own, for benchmarks that measure the server apart.

Settings come from DOCMGMT_* environment variables (DOCMGMT_DATABASE_URL,
DOCMGMT_MIGRATION_DATABASE_URL, DOCMGMT_DATA_DIR, ...), exactly as in production.

    python -m bench._serve_subprocess --port 8123
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from api.main import create_app
from docmgmt.settings import Settings


def main() -> None:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = Settings()
    uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port,
                log_level="warning", lifespan="on", http="httptools", loop="uvloop")


if __name__ == "__main__":
    main()
