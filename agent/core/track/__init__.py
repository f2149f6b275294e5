"""Object tracking: associates per-frame detections into tracks with stable ids."""

from agent.core.track.tracker import Tracker

__all__ = ["Tracker"]
