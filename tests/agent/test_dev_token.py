"""``docmgmt dev-token`` on the embedded default: a real SoftHSM2 token with the leader's
development key, served by ``docmgmt agent`` as the README shows."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import SecretStr

from api.cli import main
from api.devtoken_cli import cmd_dev_token
from docmgmt.bootstrap import build_write_side
from docmgmt.kernel.db import Database
from docmgmt.settings import Mode, Settings
from signing.devpki import DEV_MARKER, load_dev_pki

ORIGIN = "http://127.0.0.1:8000"
PIN = "1234"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """DOCMGMT_* variables for the command, an agency and its leader ``leader_a``."""
    variables = {"DOCMGMT_DATABASE_URL": database.app.url(),
                 "DOCMGMT_MIGRATION_DATABASE_URL": database.owner.url(),
                 "DOCMGMT_DATA_DIR": str(tmp_path / "data"), "PW": "a-long-enough-password"}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert main(["admin", "create-agency", "SOA", "Sở A"]) == 0
    assert main(["admin", "create-user", "leader_a", "--full-name", "Nguyễn Văn An",
                 "--agency", "SOA", "--role", "leader", "--password-env", "PW"]) == 0
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SOFTHSM2")},
            "PYTHONPATH": str(REPO)}


def dev_token(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``docmgmt dev-token`` in its own process (SoftHSM2 state is per process)."""
    return subprocess.run([sys.executable, "-m", "api.cli", "dev-token", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def agent_port() -> int:
    """A free port of 127.0.0.1 for the agent."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def run_printed_agent(out: str, env: dict[str, str], port: int
                      ) -> Iterator[subprocess.Popen[str]]:
    """Run the two lines the command printed (export, then ``docmgmt agent ...``)."""
    conf = re.search(r"^\s*export SOFTHSM2_CONF=(.+)$", out, re.MULTILINE)
    command = re.search(r"^\s*(docmgmt agent .+)$", out, re.MULTILINE)
    assert conf is not None, out
    assert command is not None, out
    argv = shlex.split(command.group(1))[1:]
    agent = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *argv, "--port", str(port)],
        env={**env, "SOFTHSM2_CONF": shlex.split(conf.group(1))[0]},
        stdout=subprocess.PIPE, text=True)
    try:
        assert agent.stdout is not None
        assert f"on http://127.0.0.1:{port}" in agent.stdout.readline()
        yield agent
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def leader_certificate() -> tuple[bytes, dict[str, object]]:
    """The leader's development certificate (DER) and what their account registers."""
    settings = Settings()
    pki = load_dev_pki(settings.pki_dir / "SOA")
    pem = (pki.directory / "users" / "leader_a.pem").read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    write = build_write_side(settings)
    try:
        registered = dict(write.app.find_user("leader_a").certificates)
    finally:
        write.close()
    return der, registered


@pytest.mark.usefixtures("env")
def test_the_leader_signs_through_the_agent_on_a_development_token(
        env: dict[str, str], agent_port: int) -> None:
    # The developer makes the token as the README says.
    done = dev_token(env, "--username", "leader_a", "--label", "LEADER A", "--pin", PIN,
                     "--origin", ORIGIN)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout[:done.stdout.index("\n}\n") + 2])
    assert printed["note"] == DEV_MARKER
    assert "DEVELOPMENT token" in done.stdout
    # The token's certificate is the leader's development certificate, registered to them.
    der, registered = leader_certificate()
    fingerprint = hashlib.sha256(der).hexdigest()
    assert printed["fingerprint"] == fingerprint
    assert fingerprint in registered
    # The key on the token is sensitive and cannot be read out.
    conf = printed["softhsm2_conf"]
    probe = subprocess.run([sys.executable, "-c", (
        "import pkcs11, sys\n"
        f"t = pkcs11.lib({printed['module']!r}).get_token(token_label='LEADER A')\n"
        f"with t.open(user_pin={PIN!r}) as s:\n"
        "    k = s.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=b'\\x01')\n"
        "    print(k[pkcs11.Attribute.EXTRACTABLE], k[pkcs11.Attribute.SENSITIVE])\n")],
        env={**env, "SOFTHSM2_CONF": conf}, capture_output=True, text=True, timeout=60,
        check=False)
    assert probe.stdout.split() == ["False", "True"], probe.stderr
    # The agent started with the printed command lists that certificate, with the root.
    with run_printed_agent(done.stdout, env, agent_port):
        base = f"http://127.0.0.1:{agent_port}"
        with httpx.Client(base_url=base, headers={"Origin": ORIGIN}, timeout=30) as api, \
                httpx.Client(base_url=base, timeout=30) as page:
            [listed] = api.get("/v1/certificates").json()["certificates"]
            assert base64.b64decode(listed["certificate"]) == der
            root = load_dev_pki(Settings().pki_dir / "SOA").root_cert.dump()
            assert [base64.b64decode(c) for c in listed["chain"]] == [root]
            # The page asks for a signature; the leader types the PIN on the agent's page.
            digest = hashlib.sha256(b"Cong van so 1").digest()
            asked = api.post("/v1/sign", json={"certificate_id": listed["id"], "items": [
                {"id": "r1", "label": "Công văn 1", "digest": base64.b64encode(digest).decode()}
            ]}).json()
            shown = page.get(asked["confirm_url"], params={"lang": "en"})
            csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text)
            assert csrf is not None
            confirmed = page.post(asked["confirm_url"], headers={"Origin": base}, data={
                "csrf": csrf.group(1), "lang": "en", "action": "sign", "pin": PIN})
            assert confirmed.status_code == 200, confirmed.text
            result = api.get(f"/v1/sign/{asked['job_id']}").json()
    assert result["status"] == "signed"
    public = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(result["signatures"][0]["signature"]), digest,
                  ec.ECDSA(Prehashed(SHA256())))
    # The same label again is refused, and says so; an unknown user too.
    again = dev_token(env, "--username", "leader_a", "--label", "LEADER A", "--pin", PIN)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    unknown = dev_token(env, "--username", "nobody", "--label", "OTHER", "--pin", PIN)
    assert unknown.returncode == 2
    assert "not_found" in unknown.stderr


def _args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**({"username": "leader_a", "label": "X", "pin": PIN,
                                  "origin": None, "replace": False} | values))


def test_production_mode_is_refused(tmp_path: Path) -> None:
    settings = Settings(mode=Mode.PRODUCTION, jwt_secret=SecretStr("s" * 40),
                        database_url=SecretStr("postgresql://x@127.0.0.1/x"),
                        keys_file=tmp_path / "keys.json", data_dir=tmp_path)
    with pytest.raises(SystemExit, match="refused in production mode"):
        cmd_dev_token(_args(), settings)


def test_a_missing_softhsm_says_what_to_install(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    from signing.devtoken import DevTokenError

    with pytest.raises(DevTokenError, match="apt-get install softhsm2"):
        cmd_dev_token(_args(), Settings(data_dir=tmp_path))
