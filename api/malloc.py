"""glibc's allocator for the long-running, many-threaded server: two arenas, not sixteen
(why, with the soak figures: bench/README.md, "bench.soak")."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas in this process and, through MALLOC_ARENA_MAX, in the processes
    it starts; a MALLOC_ARENA_MAX already set is left as it is. True if the cap was set
    here (False on another C library, or when the operator chose)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: the variable does no harm
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
