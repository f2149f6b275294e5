"""Event lifecycle: turns confirmed tracks into start / update / end messages."""

from agent.events.engine import BestFrame, EventEngine

__all__ = ["BestFrame", "EventEngine"]
