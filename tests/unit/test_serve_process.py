"""`docmgmt serve`: glibc's malloc arenas capped, and one log format for every line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api import cli
from api.logs import log_config

REPO = Path(__file__).resolve().parents[2]

# Eight threads allocate at once, then glibc prints one "Arena N:" block per arena.
_THREADS = """
import threading, ctypes, sys
sys.path.insert(0, {repo!r})
if {limit}:
    from api.malloc import limit_arenas
    assert limit_arenas()
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    keep = [bytearray(200_000) for _ in range(20)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def _arenas(limit: bool) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", _THREADS.format(repo=str(REPO), limit=limit)],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stderr.count("Arena ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_threads_share_two_arenas_once_limited() -> None:
    assert _arenas(limit=False) > 2  # glibc's default: an arena per thread, up to 8 a core
    assert _arenas(limit=True) == 2


def test_serve_caps_the_arenas_before_uvicorn_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setitem(os.environ, "MALLOC_ARENA_MAX", "")  # unset, restored afterwards
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(
        arenas=os.environ.get("MALLOC_ARENA_MAX"), log_config=k.get("log_config")))
    monkeypatch.setattr("api.main.create_app", lambda settings: object())
    args = argparse.Namespace(migrate=False, host="127.0.0.1", port=8000, workers=1)
    assert cli.cmd_serve(args, settings=None) == 0  # type: ignore[arg-type]
    assert seen["arenas"] == "2"  # inherited by --workers processes too
    assert seen["log_config"] == log_config()  # uvicorn's lines in the server's format


def test_an_operators_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.malloc import limit_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False
    assert os.environ["MALLOC_ARENA_MAX"] == "4"


_LOG = """
import logging, logging.config, sys
sys.path.insert(0, {repo!r})
from api.logs import log_config
import signing  # quiets the signing libraries, as importing the app does
logging.config.dictConfig(log_config())
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST",
                                         "/documents/1/sign", "1.1", 200)
logging.getLogger("uvicorn.error").info("Application startup complete.")
logging.getLogger("docmgmt.webhooks").info("a worker started")
logging.getLogger("fontTools.subset").info("glyf subsetted")
logging.getLogger("pgserver").info("starting")
"""


def test_every_line_has_a_time_and_only_what_an_operator_follows_shows() -> None:
    done = subprocess.run([sys.executable, "-c", _LOG.format(repo=str(REPO))],
                          capture_output=True, text=True, timeout=60, check=True)
    lines = done.stderr.splitlines()
    assert [line.split(" ", 3)[2:] for line in lines] == [
        ["INFO", 'uvicorn.access 127.0.0.1:5 - "POST /documents/1/sign HTTP/1.1" 200'],
        ["INFO", "uvicorn.error Application startup complete."],
        ["INFO", "docmgmt.webhooks a worker started"],
    ]
    assert all(line[:4].isdigit() and line[4] == "-" for line in lines)  # 2026-12-03 ...
