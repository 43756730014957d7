"""`docmgmt serve` says where the web application is, before the server starts."""

from __future__ import annotations

import argparse
import os
from typing import Any

import pytest

from api import cli


def test_serve_prints_the_address_of_the_web_application(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(capsys.readouterr()))
    monkeypatch.setattr("api.main.create_app", lambda settings: object())
    monkeypatch.setitem(os.environ, "MALLOC_ARENA_MAX", "")  # serve sets it; restored after
    args = argparse.Namespace(migrate=False, host="127.0.0.1", port=8000, workers=1,
                              demo=False, data=None)
    assert cli.cmd_serve(args, settings=None) == 0  # type: ignore[arg-type]
    assert "web application: http://127.0.0.1:8000/ " in started[0].out
