"""Gives freed memory back to the system after cameras are removed: a full garbage collection, then
glibc's malloc_trim(0), which returns free arena pages (decoder buffers, frames) that glibc would
otherwise keep. Called on the config thread by agent.daemon.reconcile; a no-op trim off glibc."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)


def release_memory() -> bool:
    """gc.collect() and malloc_trim(0); True when glibc trimmed something back to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(0))


def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        function = libc.malloc_trim
    except (OSError, AttributeError):  # musl and other libcs have no malloc_trim
        log.debug("no malloc_trim in %s: freed memory stays with the allocator", name)
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


__all__ = ["release_memory"]
