"""Object tracking: associates per-frame detections into tracks with stable ids."""

from agent.core.track.tracker import AppearanceRequest, Tracker

__all__ = ["AppearanceRequest", "Tracker"]
