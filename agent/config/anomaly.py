"""Pydantic models of the per-camera anomaly settings (`cameras.<name>.anomalies`).

Every field has a default, so a camera without an `anomalies` section gets every
kind with sensible settings. Read once at load time; the anomaly engine (inference
thread) only reads the resulting frozen objects."""

from __future__ import annotations

import re
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agent.config.base import StrictModel
from agent.types import Severity

HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class TimeWindow(StrictModel):
    start: str = Field(default="00:00", pattern=HHMM_PATTERN, description="Local start time HH:MM (inclusive).")
    end: str = Field(
        default="00:00",
        pattern=HHMM_PATTERN,
        description="Local end time HH:MM (exclusive); end <= start wraps past midnight, equal means all day.",
    )
    weekdays: list[int] = Field(
        default_factory=lambda: list(range(7)),
        description="Weekdays the window starts on, 0=Monday..6=Sunday; a window wrapping midnight ends the next day.",
    )

    @field_validator("weekdays")
    @classmethod
    def _weekdays_valid(cls, days: list[int]) -> list[int]:
        if not days or any(d < 0 or d > 6 for d in days):
            raise ValueError("weekdays must be a non-empty list of 0 (Monday) .. 6 (Sunday)")
        return days


class CountAnomalyConfig(StrictModel):
    enabled: bool = Field(
        default=True, description="Report object counts far above (surge) or below (absence) the learned baseline."
    )
    labels: list[str] = Field(
        default_factory=list, description="Labels to baseline; empty learns every label seen (up to max_labels)."
    )
    max_labels: int = Field(
        default=16, ge=1, le=100, description="Most labels baselined per camera (bounds memory and state size)."
    )
    bucket_s: float = Field(
        default=60.0,
        ge=5.0,
        le=3600.0,
        description="Length of one count sample: counts inside are reduced by `statistic`.",
    )
    statistic: Literal["max", "mean"] = Field(
        default="max", description="Reduction of the per-frame counts inside one bucket."
    )
    hour_of_week_window: int = Field(
        default=60, ge=4, le=1000, description="Newest bucket samples kept per hour-of-week (168 slots)."
    )
    hour_of_day_window: int = Field(
        default=120,
        ge=4,
        le=2000,
        description="Newest bucket samples kept per hour-of-day (24 slots), the first fallback.",
    )
    global_window: int = Field(
        default=1440, ge=16, le=20000, description="Newest bucket samples kept camera-wide, the last fallback."
    )
    min_slot_samples: int = Field(
        default=20, ge=3, description="Samples an hour-of-week or hour-of-day slot needs before it is used."
    )
    warmup_s: float = Field(
        default=604800.0, ge=0, description="Learned bucket time per label before anything is reported (warm-up)."
    )
    fallback_scale_factor: float = Field(
        default=1.5, ge=1.0, description="Robust scale multiplier when hour-of-day or global answers (less certain)."
    )
    surge_z: float = Field(
        default=4.0,
        gt=0,
        description="Robust z-score (x - median) / (1.4826 MAD) at or above which a bucket is a surge.",
    )
    absence_z: float = Field(
        default=3.0, gt=0, description="Robust z-score at or below minus this value marks a bucket as an absence."
    )
    min_scale_objects: float = Field(
        default=1.0, gt=0, description="Floor of the robust scale, in objects (count data often has MAD 0)."
    )
    absence_min_expected: float = Field(
        default=3.0,
        ge=0,
        description="Absence is only reported where the baseline median is at least this many objects.",
    )
    sustain_buckets: int = Field(
        default=3, ge=1, description="Consecutive anomalous buckets before the anomaly starts."
    )
    resolve_buckets: int = Field(default=2, ge=1, description="Consecutive normal buckets before it resolves.")
    severity: Severity = Field(default=Severity.WARNING, description="Severity of count anomalies.")


class RestrictedRule(StrictModel):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        description="Rule name, unique per camera; shown in the anomaly details.",
    )
    zone: str = Field(min_length=1, description="Zone name (from the camera's zones) the labels must not be in.")
    labels: list[str] = Field(
        default_factory=lambda: ["person"], description="Labels forbidden in the zone; empty forbids every label."
    )
    schedule: list[TimeWindow] = Field(
        default_factory=list, description="Local time windows when the rule applies; empty applies always."
    )


class RestrictedZoneConfig(StrictModel):
    enabled: bool = Field(default=True, description="Report forbidden labels inside restricted zones.")
    rules: list[RestrictedRule] = Field(
        default_factory=list, description="Restricted zone rules; none means nothing is restricted."
    )
    min_dwell_s: float = Field(
        default=1.0, ge=0, description="A violating object must be in the zone this long before the anomaly starts."
    )
    resolve_s: float = Field(default=5.0, ge=0, description="The rule resolves after no violation for this long.")
    severity: Severity = Field(default=Severity.CRITICAL, description="Severity of restricted zone anomalies.")

    @model_validator(mode="after")
    def _unique_names(self) -> RestrictedZoneConfig:
        names = [r.name for r in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("restricted zone rule names must be unique")
        return self


class LoiteringConfig(StrictModel):
    enabled: bool = Field(default=True, description="Report objects staying in a zone too long.")
    zones: list[str] = Field(default_factory=list, description="Zones watched; empty watches every zone.")
    labels: list[str] = Field(
        default_factory=lambda: ["person"], description="Labels watched; empty watches every label."
    )
    max_dwell_s: float = Field(default=60.0, gt=0, description="Time in one zone after which a track is loitering.")
    grace_s: float = Field(
        default=3.0, ge=0, description="A track missing from updates this long has left (covers brief tracker misses)."
    )
    max_tracked: int = Field(
        default=256, ge=1, description="Most (track, zone) pairs followed at once; the stalest is dropped."
    )
    severity: Severity = Field(default=Severity.WARNING, description="Severity of loitering anomalies.")


class TamperConfig(StrictModel):
    enabled: bool = Field(default=True, description="Report blackout, defocus, covered lens and camera moved.")
    grey_width_px: int = Field(
        default=320, ge=64, le=1280, description="Width of the grey frame the caller downscales to (aspect kept)."
    )
    check_interval_s: float = Field(default=0.5, gt=0, le=60, description="How often the caller passes a grey frame.")
    sustain_s: float = Field(
        default=2.0, ge=0, description="A tamper condition must hold this long before the anomaly starts."
    )
    resolve_s: float = Field(
        default=3.0, ge=0, description="The condition must be clear this long before the anomaly resolves."
    )
    warmup_s: float = Field(
        default=10.0,
        ge=0,
        description="Learning time of the sharpness baseline and scene reference before blur/moved are judged.",
    )
    blackout_max_mean: float = Field(
        default=10.0, ge=0, le=255, description="Mean luminance (0-255) at or below which the frame is black."
    )
    blackout_resolve_mean: float = Field(
        default=20.0, ge=0, le=255, description="Mean luminance above which a blackout clears (hysteresis)."
    )
    blur_max_ratio: float = Field(
        default=0.3, gt=0, lt=1, description="Sharpness / baseline at or below which the view is defocused."
    )
    blur_resolve_ratio: float = Field(
        default=0.5, gt=0, lt=1, description="Sharpness / baseline above which defocus clears."
    )
    covered_min_uniform: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="Fraction of pixels near the dominant grey level at or above which the lens is covered.",
    )
    covered_resolve_uniform: float = Field(
        default=0.6, gt=0, le=1, description="Uniform fraction below which a covered lens clears."
    )
    moved_max_match: float = Field(
        default=0.65,
        ge=-1,
        lt=1,
        description="Edge-map correlation with the reference at or below which the view moved.",
    )
    moved_resolve_match: float = Field(
        default=0.75, ge=-1, le=1, description="Edge-map correlation above which a moved view clears."
    )
    reference_tau_s: float = Field(
        default=120.0, gt=0, description="Time constant of the slowly updated scene reference and sharpness baseline."
    )
    rebase_after_s: float = Field(
        default=600.0,
        gt=0,
        description="A moved view held this long becomes the new reference and the anomaly resolves.",
    )
    severity: Severity = Field(default=Severity.CRITICAL, description="Severity of tamper anomalies.")

    @model_validator(mode="after")
    def _hysteresis(self) -> TamperConfig:
        if self.blackout_resolve_mean < self.blackout_max_mean:
            raise ValueError("blackout_resolve_mean must be >= blackout_max_mean")
        if self.blur_resolve_ratio < self.blur_max_ratio:
            raise ValueError("blur_resolve_ratio must be >= blur_max_ratio")
        if self.covered_resolve_uniform > self.covered_min_uniform:
            raise ValueError("covered_resolve_uniform must be <= covered_min_uniform")
        if self.moved_resolve_match < self.moved_max_match:
            raise ValueError("moved_resolve_match must be >= moved_max_match")
        return self


class StreamAnomalyConfig(StrictModel):
    enabled: bool = Field(default=True, description="Report camera offline, frozen picture and frame-rate collapse.")
    offline_sustain_s: float = Field(default=10.0, ge=0, description="Offline this long before the anomaly starts.")
    frozen_sustain_s: float = Field(default=5.0, ge=0, description="Frozen this long before the anomaly starts.")
    fps_min_ratio: float = Field(
        default=0.5, gt=0, lt=1, description="Measured fps below this fraction of nominal is a collapse."
    )
    fps_sustain_s: float = Field(
        default=5.0, ge=0, description="Frame-rate collapse this long before the anomaly starts."
    )
    resolve_s: float = Field(default=5.0, ge=0, description="Condition clear this long before the anomaly resolves.")
    severity: Severity = Field(default=Severity.CRITICAL, description="Severity of stream anomalies.")


class RareObjectConfig(StrictModel):
    enabled: bool = Field(
        default=True, description="Report labels this camera has almost never seen, or sees at an unusual hour."
    )
    min_count: int = Field(default=5, ge=1, description="A label seen on fewer than this many tracks so far is rare.")
    warmup_tracks: int = Field(
        default=200, ge=1, description="Tracks the camera must have seen before anything is rare (warm-up)."
    )
    warmup_s: float = Field(
        default=86400.0, ge=0, description="History span needed before anything is rare (warm-up), seconds."
    )
    hour_min_total: int = Field(
        default=100, ge=1, description="Tracks of a label needed before its hour-of-day histogram is judged."
    )
    hour_max_fraction: float = Field(
        default=0.005,
        ge=0,
        lt=1,
        description="Share of a label's sightings in this hour and the two beside it at or below which it is unusual.",
    )
    max_labels: int = Field(default=100, ge=1, le=1000, description="Most labels remembered (bounds state).")
    resolve_s: float = Field(default=10.0, ge=0, description="The anomaly resolves after no such object for this long.")
    severity: Severity = Field(default=Severity.INFO, description="Severity of rare object anomalies.")


class AnomalyConfig(StrictModel):
    enabled: bool = Field(default=True, description="Master switch of this camera's anomaly detection.")
    timezone: str = Field(
        default="UTC", description="IANA zone name for hour-of-week baselines and schedules, e.g. Europe/Berlin."
    )
    count: CountAnomalyConfig = Field(default=CountAnomalyConfig(), description="Object count deviations.")
    restricted_zone: RestrictedZoneConfig = Field(default=RestrictedZoneConfig(), description="Restricted zones.")
    loitering: LoiteringConfig = Field(default=LoiteringConfig(), description="Loitering.")
    tamper: TamperConfig = Field(default=TamperConfig(), description="Camera tamper.")
    stream: StreamAnomalyConfig = Field(default=StreamAnomalyConfig(), description="Stream faults.")
    rare_object: RareObjectConfig = Field(default=RareObjectConfig(), description="Rare objects.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name == "UTC":
            return name
        if not re.match(r"^[A-Za-z0-9_+\-/]+$", name):
            raise ValueError(f"timezone {name!r} is not an IANA zone name (e.g. Europe/Berlin)")
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin (install tzdata if missing)"
            ) from exc
        return name
