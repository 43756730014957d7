"""Server memory while a 200 MB PDF is uploaded as a new draft and downloaded back.

The API runs as a SEPARATE process (``python -m bench._serve_subprocess``, settings from
DOCMGMT_* variables, DOCMGMT_MAX_UPLOAD_BYTES=300000000, filesystem object store) on a
fresh database, so its resident memory (RSS, children included) can be sampled every
20 ms by a thread of this script. A 200 MB PDF is written with write_large_pdf (random,
incompressible padding), warmed up with a small draft and download first, then:

* uploaded streamed from disk (httpx multipart with an open file) to POST /documents;
* downloaded streamed (GET /documents/{id}/file) to disk, sha256 compared with the
  original and with the X-Content-SHA256 header.

Prints baseline RSS, peak RSS, growth for upload and for download, elapsed times and
throughput. Target: growth < 100 MB for each (the file must never be held in memory).
Needs ~1.5 GB free disk in the temp folder. Takes under a minute.

    .venv/bin/python -m bench.upload_memory
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from pathlib import Path

import httpx
import psutil

from bench._common import (
    bootstrap_admin,
    fresh_database,
    login,
    machine_line,
    make_agency_and_users,
    serve_process,
    server_env,
)
from tests.support.pdfs import make_pdf, write_large_pdf

SIZE = 200 * 1024 * 1024
TARGET_MB = 100
MB = 1024 * 1024


class RssSampler:
    """Samples the RSS of a process and its children every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        """Current RSS of the process tree, in bytes."""
        total = 0
        for p in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> int:
        """Highest sample taken between two perf_counter() times."""
        window = [rss for t, rss in self.samples if start <= t <= end]
        return max(window) if window else self.rss()

    def settled(self, seconds: float = 1.0) -> int:
        """Median RSS over the next ``seconds`` (the server idle)."""
        values: list[int] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            values.append(self.rss())
            time.sleep(self.interval)
        return sorted(values)[len(values) // 2]


def sha256_of(path: Path) -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(MB):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    """Set up, upload, download, report."""
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    with fresh_database() as (db, work):
        data = work / "data"

        bootstrap_admin(db, data)
        t0 = time.perf_counter()
        big = write_large_pdf(work / "big.pdf", SIZE)
        size = big.stat().st_size
        digest = sha256_of(big)
        print(f"test file: {size:,} bytes ({size / MB:.1f} MiB), written and hashed in "
              f"{time.perf_counter() - t0:.1f} s")

        env = server_env(db, data, DOCMGMT_MAX_UPLOAD_BYTES="300000000")
        with serve_process(env, work / "server-upload.log") as server:
            make_agency_and_users(server.base, "SOA", "Sở A", [("official_a", ["official"])])
            with RssSampler(server.pid) as sampler, \
                    login(server.base, "official_a", timeout=httpx.Timeout(600)) as client:
                print(f"server pid {server.pid}: RSS after start-up {sampler.rss() / MB:.1f} MiB")
                # Warm-up: the first small upload and download load whatever is loaded lazily.
                r = client.post("/documents", data={"summary": "warm-up"},
                                files={"file": ("w.pdf", make_pdf(2), "application/pdf")})
                r.raise_for_status()
                client.get(f"/documents/{r.json()['id']}/file").raise_for_status()

                baseline = sampler.settled()
                start = time.perf_counter()
                with big.open("rb") as fh:
                    r = client.post(
                        "/documents", data={"summary": "Tài liệu 200 MB"},
                        files={"file": ("big.pdf", fh, "application/pdf")},
                    )
                end = time.perf_counter()
                if r.status_code != 201:
                    raise SystemExit(f"upload failed: {r.status_code} {r.text[:500]}")
                doc_id = r.json()["id"]
                up_peak = sampler.peak(start, end)
                up_time = end - start
                after_upload = sampler.settled()

                out = work / "downloaded.pdf"
                got = hashlib.sha256()
                received = 0
                dl_base = after_upload
                start = time.perf_counter()
                first_byte = None
                with client.stream("GET", f"/documents/{doc_id}/file") as resp, \
                        out.open("wb") as fh:
                    resp.raise_for_status()
                    header_sha = resp.headers.get("x-content-sha256")
                    for chunk in resp.iter_bytes(MB):
                        if first_byte is None:
                            first_byte = time.perf_counter() - start
                        got.update(chunk)
                        fh.write(chunk)
                        received += len(chunk)
                end = time.perf_counter()
                dl_peak = sampler.peak(start, end)
                dl_time = end - start
                after_download = sampler.settled()
                view = client.get(f"/documents/{doc_id}").json()

        up_growth = (up_peak - baseline) / MB
        dl_growth = (dl_peak - dl_base) / MB
        ok = got.hexdigest() == digest == header_sha == sha256_of(out)
        print(f"stored: current_size {view['current_size']:,}, sha256 match on server "
              f"{view['current_sha256'] == digest}")
        print(f"baseline RSS (idle, after warm-up): {baseline / MB:.1f} MiB")
        print(f"upload:   {up_time:.2f} s, {size / MB / up_time:.1f} MiB/s; peak RSS "
              f"{up_peak / MB:.1f} MiB, growth {up_growth:+.1f} MiB "
              f"[{'OK' if up_growth < TARGET_MB else 'OVER'} target < {TARGET_MB} MB]; "
              f"idle after {after_upload / MB:.1f} MiB")
        print(f"download: {dl_time:.2f} s, {received / MB / dl_time:.1f} MiB/s, first byte "
              f"after {first_byte or 0:.2f} s; peak RSS {dl_peak / MB:.1f} MiB, growth "
              f"{dl_growth:+.1f} MiB over the idle level before it, "
              f"{(dl_peak - baseline) / MB:+.1f} MiB over the baseline "
              f"[{'OK' if dl_growth < TARGET_MB else 'OVER'} target < {TARGET_MB} MB]; "
              f"idle after {after_download / MB:.1f} MiB")
        print(f"round trip: {received:,} bytes back, sha256 "
              f"{'identical' if ok else 'DIFFERENT'} (file, stream, X-Content-SHA256)")
        print(f"samples taken: {len(sampler.samples)} (every 20 ms)")


if __name__ == "__main__":
    main()
