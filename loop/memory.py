"""Giving freed memory back to the operating system.

glibc's malloc keeps what a process frees, per thread arena, for reuse; a
server whose large temporaries change size with every answer (training sets
that grow, a query's (N, n) copies) then grows without holding more: at
10,000 features ``nudge serve`` reached 1 GiB by 60 answers this way. glibc's
``malloc_trim`` hands every arena's free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util


def _find_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)  # glibc only (not musl, not macOS)


_MALLOC_TRIM = _find_malloc_trim()


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot (nothing done).

    Costs about a millisecond; call it after work that freed large blocks.
    """
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
