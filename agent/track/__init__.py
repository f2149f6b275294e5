"""Object tracking: associates per-frame detections into tracks with stable ids."""

from agent.track.tracker import Tracker

__all__ = ["Tracker"]
