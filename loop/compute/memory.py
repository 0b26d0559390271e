"""A long-running server's memory: freed memory given back, and garbage collections kept short.

glibc's malloc keeps what a process frees, per thread arena, for reuse; a
server whose large temporaries change size with every answer (training sets
that grow, a query's (N, n) copies) then grows without holding more: at
10,000 features ``nudge serve`` reached 1 GiB by 60 answers this way. glibc's
``malloc_trim`` hands every arena's free pages back.

Python's full (generation 2) collection walks every container object the
process holds: about 600,000 in a started ``nudge serve`` (torch, Gradio, the
session), 220-300 ms with the interpreter stopped, every few requests when
each answer builds a picture of thousands of small lists. Those start-up
objects live as long as the process; :func:`freeze_startup_objects` moves them
out of the collector's sight (``gc.freeze``), so a full collection walks only
what came later.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


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


def freeze_startup_objects() -> int:
    """Collect the garbage there is, then exempt every object still alive from later collections.

    Call once, when a server has finished starting (its session open, its page
    built); objects made afterwards are collected as usual. Returns how many
    objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
