"""How long PDF intake takes to refuse hostile files, and to accept the largest real ones.

Times ``PyHankoPdfInspector`` (what the upload routes run: ``inspect``; what /validate runs:
``check_structure``) in this process, i.e. the server-side cost without HTTP, median of
runs: the shared-kids page tree of depth 40, ``/Count 10^20``, a JavaScript /OpenAction,
an object graph of 40 doubled levels for the active-content walk; then ordinary PDFs of
1, 1,000 and 20,000 pages (the page limit) that are accepted. No database, a few seconds.

    .venv/bin/python -m bench.hostile_pdfs
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import machine_line
from docmgmt import compat
from docmgmt.domain.errors import RejectedFileError
from signing.pdfcheck import MAX_PAGES, PyHankoPdfInspector
from tests.support.pdfs import make_pdf, page_count_pdf, pdf_from_objects, pdf_with, shared_kids_pdf


def _dag_pdf(depth: int) -> bytes:
    bodies = [b"<< /Type /Catalog /Pages 2 0 R /X 4 0 R >>",
              b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    bodies += [f"[{5 + i} 0 R {5 + i} 0 R]".encode() for i in range(depth)]
    bodies.append(b"<< /S /JavaScript /JS (1) >>")
    return pdf_from_objects(bodies)


def _time(check: Callable[[Path], object], path: Path, runs: int) -> tuple[float, str]:
    samples, outcome = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        try:
            facts = check(path)
            outcome = f"accepted, {getattr(facts, 'page_count', '?')} pages"
        except RejectedFileError as exc:
            outcome = f"422 {exc.code}"
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, outcome


def main() -> None:
    """Print the figures."""
    compat.install()  # as the composition root does
    print(machine_line())
    inspector = PyHankoPdfInspector()
    cases = [
        ("shared kids, depth 40", shared_kids_pdf(40), 20),
        ("/Count 10^20", page_count_pdf("100000000000000000000"), 20),
        ("JavaScript /OpenAction", pdf_with(b"/OpenAction << /S /JavaScript /JS (1) >>"), 20),
        ("40 doubled levels of arrays", _dag_pdf(40), 20),
        ("1 page", make_pdf(1), 20),
        ("1,000 pages", make_pdf(1000), 5),
        (f"{MAX_PAGES:,} pages (the limit)", make_pdf(MAX_PAGES), 3),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'file':34} {'bytes':>9} {'upload (inspect)':>28} {'/validate (structure)':>28}")
        for label, content, runs in cases:
            path = Path(tmp) / "in.pdf"
            path.write_bytes(content)
            up_ms, up = _time(inspector.inspect, path, runs)
            va_ms, va = _time(inspector.check_structure, path, runs)
            print(f"{label:34} {len(content):>9,} {up_ms:>8.1f} ms {up:>18} "
                  f"{va_ms:>8.1f} ms {va:>18}")


if __name__ == "__main__":
    main()
