"""Tune the C allocator of the engine process for its large socket reads (glibc only).

Strategy: a session reads up to 1 MiB at a time. With glibc's defaults a buffer that size
is mmap'd fresh for every read or, once the dynamic threshold adapts, carved from the top
of the heap and handed back to the OS (``brk``) as soon as it is freed; either way the
next read faults every page in again, zeroed. Measured on 1 MiB frames: ~200,000 page
faults per GiB against ~4,000 for a blocking ``recv_into`` loop, and 0.34x its MB/s.
Raising the mmap and trim thresholds to 16 MiB keeps those pages in the heap for reuse:
faults drop to ~6,000 per GiB and throughput to ~0.9x the blocking loop
(docs/benchmarks-receive.md). The price is up to 16 MiB of freed memory the process
keeps. Other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["RETAINED_HEAP_BYTES", "tune_allocator"]

#: How much freed memory the process may keep instead of returning it to the OS.
RETAINED_HEAP_BYTES = 16 * 1024 * 1024

# glibc's mallopt() parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; return whether it was done.

    Returns False (and changes nothing) where the C library is not glibc or refuses.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return all(
        libc.mallopt(parameter, RETAINED_HEAP_BYTES) == 1
        for parameter in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD)
    )
