"""Runtime toggles (Frigate-style `<camera>/detect/set`, `<camera>/snapshots/set`): live values the
pipeline reads, their MQTT controller and their file under state_dir."""

from agent.toggles.controller import ToggleController
from agent.toggles.state import CameraToggles, Toggle, ToggleStates, parse_switch

__all__ = ["CameraToggles", "Toggle", "ToggleController", "ToggleStates", "parse_switch"]
