"""pyHanko's own ``sign_pdf`` at B-B, timed: the baseline of ``bench.signing``.

Run as ``python -m bench._plain_pyhanko`` it measures pyHanko as it is installed, in a
fresh interpreter where nothing of docmgmt is imported, so none of the library overrides
that ``docmgmt.compat`` installs (the signing-certificate attribute encoded once, the
memoised names) speeds it up. It reads one JSON job on stdin (``p12``, ``passphrase``,
``pdf``: file paths and text; ``n``) and prints one JSON result.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers


def median_cpu(fn: Callable[[], object], n: int) -> float:
    """Median CPU milliseconds (this thread) of ``fn`` over n calls after one warm-up."""
    fn()
    times = []
    for _ in range(max(n, 1)):
        c0 = time.thread_time()
        fn()
        times.append((time.thread_time() - c0) * 1000)
    return statistics.median(times)


def measure(p12: str, passphrase: bytes, pdf: bytes, n: int) -> dict[str, Any]:
    """``n`` signatures with the PKCS#12 loaded on every call (after three warm-ups): the
    rate, CPU per signature and latencies; then, for the record, what the per-call key
    loading and the size-estimation dry run cost (median CPU ms)."""

    def load() -> signers.SimpleSigner:
        signer: signers.SimpleSigner = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
            p12, passphrase=passphrase)
        return signer

    def sign(signer: signers.Signer | None = None, bytes_reserved: int | None = None) -> bytes:
        out = io.BytesIO()
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)),
                         signers.PdfSignatureMetadata(field_name="Signature1"),
                         signer=signer or load(), output=out, bytes_reserved=bytes_reserved)
        return out.getvalue()

    for _ in range(3):
        sign()
    latencies = []
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(n):
        s0 = time.perf_counter()
        sign()
        latencies.append(time.perf_counter() - s0)
    elapsed = time.perf_counter() - t0
    loaded = load()
    return {
        "n": n, "elapsed": elapsed, "rate": n / elapsed,
        "cpu_ms": (time.process_time() - c0) / n * 1000, "latencies": latencies,
        "key_once_ms": median_cpu(lambda: sign(loaded), n // 2),
        "reserved_ms": median_cpu(lambda: sign(loaded, 16384), n // 2),
        "load_ms": median_cpu(load, n // 2),
    }


def main() -> None:
    """Measure the job read from stdin; refuse to if docmgmt got imported somehow."""
    job = json.load(sys.stdin)
    with open(job["pdf"], "rb") as fh:
        pdf = fh.read()
    result = measure(job["p12"], job["passphrase"].encode(), pdf, int(job["n"]))
    imported = sorted(m for m in sys.modules if m.split(".")[0] in ("docmgmt", "signing"))
    if imported:
        raise SystemExit(f"not plain: {imported[:5]} imported")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
