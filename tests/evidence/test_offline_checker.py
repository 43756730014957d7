"""The bundled checker runs in a fresh virtual environment holding only its own dependencies.

``python -I`` keeps the working folder and PYTHONPATH off the path but still sees the
packages installed next to the interpreter, docmgmt among them. Here the checker gets an
environment of its own: a new venv into which only the distributions it declares
(cryptography and asn1crypto, with what they need in turn) are installed from wheels
repacked from this environment, with no index. docmgmt cannot be imported there, and the
checker still verifies the bundle.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from tests.evidence.conftest import Bundled

# What the checker imports besides the standard library (its module header says so).
CHECKER_REQUIRES = ["cryptography", "asn1crypto"]


def closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need, with their own requirements (no extras,
    no requirements for other platforms)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        dist = metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen[key] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def repack(dist: metadata.Distribution, into: Path) -> Path:
    """A wheel of an installed distribution, made from the files its RECORD lists."""
    info = next(f for f in dist.files or [] if f.name == "WHEEL")
    tags = [line.split(":", 1)[1].strip().split("-") for line in
            dist.locate_file(info).read_text().splitlines() if line.startswith("Tag:")]
    tag = "-".join(".".join(sorted({t[i] for t in tags})) for i in range(3))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel = into / f"{name}-{dist.version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if str(file).startswith("..") or "__pycache__" in file.parts or not path.is_file():
                continue
            zf.write(path, str(file))
    return wheel


def test_checker_verifies_in_a_venv_without_docmgmt(bundled: Bundled, tmp_path: Path) -> None:
    # A fresh venv, and wheels of only the checker's dependencies.
    venv, wheels = tmp_path / "venv", tmp_path / "wheels"
    wheels.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    made = sorted(repack(d, wheels).name for d in closure(CHECKER_REQUIRES))
    assert any(n.startswith("cryptography-") for n in made), made
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DOCMGMT_", "PG", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"PGHOST": "/nonexistent", "PGPORT": "1"}
    # pip installs them with no index: the wheels must hold the whole dependency closure.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--quiet", "--no-index", "--find-links", str(wheels), *CHECKER_REQUIRES],
                   check=True, env=env, timeout=300)
    listing = ("import importlib.metadata as m; "
               "print(' '.join(sorted(d.metadata['Name'].lower() for d in m.distributions())))")
    installed = subprocess.run([python, "-c", listing], capture_output=True, text=True,
                               env=env, cwd=tmp_path, check=True, timeout=60).stdout.split()
    assert set(installed) == {d.metadata["Name"].lower() for d in closure(CHECKER_REQUIRES)}

    # docmgmt (and the rest of the application's stack) cannot be imported there.
    for module in ("docmgmt", "fastapi", "psycopg"):
        done = subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=60, check=False)
        assert done.returncode == 1, f"{module} is importable in the checker's venv"
        assert f"No module named '{module}'" in done.stderr, done.stderr

    # The checker copied out of the bundle verifies it there.
    with zipfile.ZipFile(bundled.zip_path) as zf:
        (tmp_path / "bundle_verify.py").write_bytes(zf.read("verify/bundle_verify.py"))
    done = subprocess.run([python, "bundle_verify.py", str(bundled.zip_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT: ALL" in done.stdout
    assert "[FAIL]" not in done.stdout
