"""Event lifecycle: turns confirmed tracks into start / update / end messages."""

from agent.core.events.engine import BestFrame, EventEngine

__all__ = ["BestFrame", "EventEngine"]
