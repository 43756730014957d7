"""``docmgmt serve`` for the soak benchmark, optionally tracing allocations.

Runs ``api.cli.main`` with the arguments given (e.g. ``serve --port 8123``), so that
logging and uvicorn are configured as in production. With ``DOCMGMT_BENCH_TRACEMALLOC``
set to a file path, the first SIGUSR1 starts tracemalloc (10 frames; not at start-up,
which it would slow down several times), the second writes the top allocation sites to
that file, and every later one the growth since the second. With ``DOCMGMT_BENCH_PROBE``
set to a file path, every SIGUSR1 appends one JSON line: glibc's heap figures
(``mallinfo2``: bytes in use, free in the heap, mmapped), Python's allocated blocks and
the number of objects the garbage collector tracks.

    DOCMGMT_BENCH_TRACEMALLOC=/tmp/tm.txt python -m bench._soak_server serve --port 8123
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import sys
import threading
import tracemalloc
from pathlib import Path
from types import FrameType

TOP = 25


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def probe() -> dict[str, float]:
    """glibc heap figures (MiB) and Python's object counts, now."""
    out: dict[str, float] = {}
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        out.update(heap_in_use=(info.uordblks + info.hblkhd) / 2**20,
                   heap_free=info.fordblks / 2**20, mmapped=info.hblkhd / 2**20)
    except (OSError, AttributeError):  # not glibc
        pass
    out.update(py_blocks=sys.getallocatedblocks(), gc_objects=len(gc.get_objects()),
               threads=threading.active_count(),
               arena_max=float(os.environ.get("MALLOC_ARENA_MAX") or "nan"))
    return out


class _Dumper:
    """Writes tracemalloc figures to a file when asked (SIGUSR1), from a thread of its own."""

    def __init__(self, path: Path | None, probe_path: Path | None) -> None:
        self.path = path
        self.probe_path = probe_path
        self.first: tracemalloc.Snapshot | None = None
        self.wanted = threading.Event()
        self.count = 0

    def ask(self, _signum: int, _frame: FrameType | None) -> None:
        """Signal handler: only wakes the dumping thread (no work in the handler)."""
        self.wanted.set()

    def run(self) -> None:
        """Dump once per request, forever (daemon thread)."""
        while True:
            self.wanted.wait()
            self.wanted.clear()
            if self.probe_path is not None:
                with self.probe_path.open("a") as out:
                    out.write(json.dumps(probe()) + "\n")
            if self.path is not None:
                self.dump()

    def dump(self) -> None:
        """Start tracing; then the top sites by size; then the top growth since then."""
        assert self.path is not None
        if not tracemalloc.is_tracing():
            tracemalloc.start(10)
            with self.path.open("a") as out:
                out.write("=== tracing started\n")
            return
        snap = tracemalloc.take_snapshot().filter_traces((
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        ))
        self.count += 1
        current, peak = tracemalloc.get_traced_memory()
        lines = [f"=== dump {self.count}: traced {current / 2**20:.1f} MiB"
                 f" (peak {peak / 2**20:.1f} MiB)"]
        if self.first is None:
            self.first = snap
            lines.append("-- top by size (lineno)")
            lines += [str(s) for s in snap.statistics("lineno")[:TOP]]
        else:
            lines.append("-- growth since dump 1 (traceback, top)")
            for diff in snap.compare_to(self.first, "traceback")[:TOP]:
                lines.append(f"{diff.size_diff / 2**10:+.0f} KiB {diff.count_diff:+d} blocks"
                             f" (now {diff.size / 2**10:.0f} KiB)")
                lines += ["    " + line for line in diff.traceback.format()[-10:]]
        with self.path.open("a") as out:
            out.write("\n".join(lines) + "\n")


def main() -> int:
    """Start tracing if asked, then run the ``docmgmt`` command line."""
    target = os.environ.get("DOCMGMT_BENCH_TRACEMALLOC")
    probe_to = os.environ.get("DOCMGMT_BENCH_PROBE")
    if target or probe_to:
        dumper = _Dumper(Path(target) if target else None, Path(probe_to) if probe_to else None)
        signal.signal(signal.SIGUSR1, dumper.ask)
        threading.Thread(target=dumper.run, name="tracemalloc-dump", daemon=True).start()
    from api.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
