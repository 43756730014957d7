"""What the pages are made of: nothing from another server, no inline code the CSP would
have to allow, and front-end packages from the npm registry's lockfile, not the repository."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from api.web.render import STATIC, TEMPLATES, VENDOR_FILES

WEB = TEMPLATES.parent
EXTERNAL = re.compile(r"""(?:src|href|action|srcset|formaction)\s*=\s*["']?\s*(?:https?:)?//""",
                      re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def test_no_template_loads_from_another_server() -> None:
    for path in _templates() + sorted(STATIC.iterdir()):
        text = path.read_text()
        assert not EXTERNAL.search(text), path
        assert "cdn" not in text.lower(), path


def test_no_inline_script_style_or_handler() -> None:
    for path in _templates():
        text = path.read_text()
        assert not INLINE_SCRIPT.search(text), path
        assert "<style" not in text.lower(), path
        assert " style=" not in text.lower(), path
        assert not INLINE_HANDLER.search(text), path


def test_front_end_packages_come_from_the_lockfile() -> None:
    lock = json.loads((WEB / "package-lock.json").read_text())
    manifest = json.loads((WEB / "package.json").read_text())
    for name, version in manifest["dependencies"].items():
        entry = lock["packages"][f"node_modules/{name}"]
        assert entry["version"] == version  # pinned exactly
        assert entry["integrity"].startswith("sha512-")
    for served in VENDOR_FILES.values():
        package = served.split("/")[0]
        assert package in manifest["dependencies"], served
    tracked = subprocess.run(["git", "ls-files", str(WEB)], capture_output=True, text=True,
                             check=True, cwd=WEB).stdout
    assert "node_modules" not in tracked
