"""The server's log: one format with a timestamp for every line, uvicorn's included.

INFO carries what an operator follows: one access line per request (uvicorn), the
workers' and processes' own lines. Libraries' routine lines go to DEBUG: the signing
libraries are quieted where they are used (signing.logs); the ones below here.
"""

from __future__ import annotations

import logging.config
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
QUIET = ("pgserver", "alembic.runtime.plugins")
"""Loggers kept at WARNING: start-up detail of the embedded database and migrations."""


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the root logger and uvicorn's loggers alike (uvicorn applies it
    again in each ``--workers`` process, where nothing else configures logging)."""
    propagate = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": propagate, "uvicorn.error": propagate, "uvicorn.access": propagate,
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }


def configure(level: str = "INFO") -> None:
    """Apply :func:`log_config` to this process."""
    logging.config.dictConfig(log_config(level))
