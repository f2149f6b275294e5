"""A state classifier's region in pixels of the analysed frame (pure; analytics thread)."""

from __future__ import annotations

from agent.config.recognition import StateClassifierConfig
from agent.errors import ConfigError


def region_pixels(
    camera: str, state: str, cfg: StateClassifierConfig, width: int, height: int
) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 as ints inside a width x height frame; ConfigError naming the field when the region
    does not fit (it is checked at the first frame, when the analysed size is known)."""
    x1, y1, x2, y2 = cfg.region
    if cfg.normalised:
        x1, x2, y1, y2 = x1 * width, x2 * width, y1 * height, y2 * height
    if x2 > width or y2 > height:
        raise ConfigError(
            f"cameras.{camera}.states.{state}.region {list(cfg.region)} lies outside the {width}x{height} "
            "analysed frame (pixels of the frame after detect_resolution, or all four in 0..1)"
        )
    px = round(x1), round(y1), round(x2), round(y2)
    if px[2] - px[0] < 1 or px[3] - px[1] < 1:
        raise ConfigError(f"cameras.{camera}.states.{state}.region {list(cfg.region)} is less than a pixel")
    return px
