"""Camera capture: sources, the per-camera frame ring, the capture thread, and stream health.

One CaptureWorker thread per camera reads its FrameSource into its FrameRing; the
detector threads take the freshest frames from the rings."""

from agent.capture.frozen import FrozenDetector
from agent.capture.ring import FrameRing, RingCounters
from agent.capture.source import FrameSource, OpenCVSource
from agent.capture.worker import CaptureStats, CaptureWorker, StatusListener
from agent.config.sources import SourceKind, classify_source, redact

__all__ = [
    "CaptureStats",
    "CaptureWorker",
    "FrameRing",
    "FrameSource",
    "FrozenDetector",
    "OpenCVSource",
    "RingCounters",
    "SourceKind",
    "StatusListener",
    "classify_source",
    "redact",
]
