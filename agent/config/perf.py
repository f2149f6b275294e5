"""Pydantic models of a camera's performance settings: detect resolution, motion gate, region crops.

Every field has a default (detect_resolution's is null: native size), so a camera without
these sections behaves as documented here. Mask polygons follow agent.config.analytics: pixels
of the analysed frame (the detect resolution when set), or 0..1 of the frame when every
coordinate is <= 1. Used by agent.config.schema.CameraConfig."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from agent.config.analytics import Polygon
from agent.config.base import StrictModel

MIN_DETECT_SIDE_PX = 32  # below this the motion gate and detector have almost nothing to work with
MAX_DETECT_SIDE_PX = 8192  # larger than any camera we read: a typo guard


class DetectResolution(StrictModel):
    """The size a camera's frames are analysed at; the capture thread downscales (never upscales)."""

    width: int = Field(
        ge=MIN_DETECT_SIDE_PX,
        le=MAX_DETECT_SIDE_PX,
        description="Width in pixels frames are downscaled to before analysis. Frames that would have to grow on "
        "either side pass through at their native size (never upscaled).",
    )
    height: int | None = Field(
        default=None,
        ge=MIN_DETECT_SIDE_PX,
        le=MAX_DETECT_SIDE_PX,
        description="Height in pixels; null follows the source's aspect ratio (rounded to an even number).",
    )


class MotionConfig(StrictModel):
    enabled: bool = Field(
        default=True,
        description="Run the detector only on motion (plus track re-checks); false runs it on every scheduled frame.",
    )
    frame_width_px: int = Field(
        default=320,
        ge=32,
        le=1920,
        description="Width in pixels the frame is downscaled to before motion analysis (aspect kept).",
    )
    blur_kernel_px: int = Field(
        default=5,
        ge=1,
        le=31,
        description="Side in pixels (odd) of the Gaussian blur on the downscaled frame; hides noise.",
    )
    pixel_threshold: int = Field(
        default=25,
        ge=1,
        le=255,
        description="Grey-level difference (0-255) from the background that marks a pixel as changed.",
    )
    background_alpha: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="Weight of each new frame in the running-average background (per update); higher forgets faster.",
    )
    dilate_iterations: int = Field(
        default=2,
        ge=0,
        le=10,
        description="3x3 dilations of the changed-pixel mask; joins the parts of one moving object.",
    )
    min_area_fraction: float = Field(
        default=0.0005,
        ge=0.0,
        le=1.0,
        description="Motion boxes smaller than this fraction of the frame area are ignored (unitless, 0.0005 = 0.05%).",
    )
    lighting_change_fraction: float = Field(
        default=0.4,
        gt=0.0,
        le=1.0,
        description="When more than this fraction of the unmasked frame changes at once, it is taken as a lighting "
        "change (exposure, day/night switch): the background is reset to the frame and no motion is reported.",
    )
    recheck_interval_s: float = Field(
        default=1.0,
        gt=0.0,
        le=3600.0,
        description="With active tracks and no motion, the detector still runs this often (seconds) so stationary "
        "objects keep their events alive. Keep it below the tracker's max_age_s.",
    )
    idle_recheck_interval_s: float = Field(
        default=60.0,
        ge=0.0,
        le=86400.0,
        description="With no tracks and no motion, the detector still runs this often (seconds) to find objects that "
        "arrived unseen; 0 disables.",
    )
    mask: tuple[Polygon, ...] = Field(
        default=(),
        description="Polygons where motion is ignored, e.g. a burned-in clock (pixels, or 0..1 of the frame).",
    )
    off_delay_s: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        description="<camera>/motion turns ON at the first moving frame and OFF once no frame has moved for this "
        "many seconds, so a person pausing mid-scene does not flap it.",
    )

    @field_validator("blur_kernel_px")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"blur_kernel_px must be odd, got {value}; use {value + 1}")
        return value


class RegionMode(StrEnum):
    FULL_FRAME = "full_frame"
    MOTION_REGIONS = "motion_regions"
    AUTO = "auto"


class RegionsConfig(StrictModel):
    mode: RegionMode = Field(
        default=RegionMode.AUTO,
        description="full_frame: the model sees the whole frame; motion_regions: square crops around motion and "
        "tracked boxes; auto: crops only when the frame's short side is >= auto_min_scale x the model input.",
    )
    max_regions: int = Field(
        default=4, ge=1, le=16, description="Most crops (detector runs) per frame; closest crops merge first."
    )
    box_padding_fraction: float = Field(
        default=0.25,
        ge=0.0,
        le=2.0,
        description="Margin around each box on every side, as a fraction of its larger side.",
    )
    auto_min_scale: float = Field(
        default=2.0,
        ge=1.0,
        le=100.0,
        description="auto mode uses crops when min(frame width, height) >= this x model input size.",
    )
    merge_iou: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="IoU above which same-class detections from overlapping crops are merged.",
    )
