"""Logging of per-frame failures in the pipeline's threads: in full for the first few, then one in
ERROR_LOG_EVERY, so a persistent fault (a broken camera, a bad model) cannot flood the journal.
The failures are still counted, every one, by the thread that saw them."""

from __future__ import annotations

import logging

log = logging.getLogger("agent.pipeline")

ERRORS_LOGGED_IN_FULL = 10
ERROR_LOG_EVERY = 1000


def should_log_error(count: int) -> bool:
    return count <= ERRORS_LOGGED_IN_FULL or count % ERROR_LOG_EVERY == 0


def log_frame_failure(step: str, camera: str, seq: int, count: int, error: BaseException | None) -> None:
    """`step` says what failed, e.g. "detecting on" or "analysing"; `count` is the thread's failures so far."""
    if should_log_error(count):
        log.error("camera %s: %s frame %d failed (%d failures so far)", camera, step, seq, count, exc_info=error)
