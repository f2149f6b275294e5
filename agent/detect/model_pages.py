"""Releases the resident pages of a loaded model file that the runtime no longer reads.

TFLite mmaps the .tflite file; XNNPACK then packs the weights into its own buffers during
allocate_tensors(), so the mapped copy (as large as the file) stays resident without being used.
Called once per interpreter, from whichever thread builds the detector."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

log = logging.getLogger(__name__)

MAPS = Path("/proc/self/maps")
MADV_DONTNEED = 4  # linux/mman.h, the same on every Linux architecture


def release_model_pages(model_path: Path, maps: Path = MAPS) -> int:
    """Drop this process's resident pages of read-only mappings of `model_path`; return the bytes covered.

    Safe because the mapping is private and never written: a page read again is faulted back in from
    the file (the page cache), so the runtime sees the same bytes. Best effort: 0 where /proc is absent."""
    try:
        lines = maps.read_text().splitlines()
    except OSError:
        return 0
    target = str(model_path.resolve())
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[5] != target or "w" in fields[1]:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if libc.madvise(start, end - start, MADV_DONTNEED) == 0:
            released += end - start
        else:
            log.debug("madvise of %s failed: errno %d", target, ctypes.get_errno())
    return released
