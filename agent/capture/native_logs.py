"""Keeps OpenCV's and FFmpeg's own console messages out of the agent's log.

Both libraries write raw lines to stderr (`[tcp @ 0x...] Connection refused`, `[ WARN:0@0.2]
global cap.cpp:212 ...`) that bypass logging, name no camera and repeat on every reconnect.
The agent states those failures itself, per camera (agent.capture.worker, .reachability).
Called once on the main thread at start-up, before the first capture is opened: FFmpeg's level
is read from the environment when OpenCV opens its first FFmpeg capture."""

from __future__ import annotations

import os

import cv2

FFMPEG_LEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
OPENCV_LEVEL_ENV = "OPENCV_LOG_LEVEL"
AV_LOG_QUIET = "-8"  # FFmpeg's own level for "print nothing"


def quiet_native_logs() -> None:
    """Silence FFmpeg and keep OpenCV to errors, unless the operator set either level to debug a camera."""
    os.environ.setdefault(FFMPEG_LEVEL_ENV, AV_LOG_QUIET)
    if OPENCV_LEVEL_ENV not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
