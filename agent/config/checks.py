"""Cross-checks of a valid config against the outside world: labels against the model's label file,
file sources against the disk. One entry, `check_config`, serves check-config, start-up, SIGHUP reload
and remote config apply. Called on the main thread (the CLI, and the supervisor's config controller)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from agent.catalog.resolve import Catalog, resolve_model, resolve_reid_model
from agent.config.anomaly import AnomalyConfig
from agent.config.loader import LineIndex, format_error, load_config
from agent.config.schema import AgentConfig, CameraConfig
from agent.config.sources import classify_source
from agent.config.suggest import did_you_mean
from agent.detect.labels import is_reportable, load_labels
from agent.errors import AgentError, ConfigError

log = logging.getLogger(__name__)
Loc = tuple[str | int, ...]
Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at a config field. `blocking` False: a warning (the check itself could not run)."""

    loc: Loc
    msg: str
    blocking: bool = True

    @property
    def dotted(self) -> str:
        return ".".join(str(part) for part in self.loc)


def check_config(cfg: AgentConfig, catalog: Catalog | None = None) -> tuple[Finding, ...]:
    """Every finding of `cfg` (already schema-valid, relative paths resolved), in config order."""
    return (*_label_findings(cfg, catalog), *_source_findings(cfg), *_second_stage_findings(cfg), *_reid_findings(cfg))


def raise_findings(cfg: AgentConfig, lines: LineIndex, source: str, warn: Warn = log.warning) -> None:
    """ConfigError with one `file:line: field: message` line per blocking finding; warnings go to `warn`."""
    findings = check_config(cfg)
    for finding in findings:
        if not finding.blocking:
            warn(format_error(finding.loc, finding.msg, lines, source))
    errors = [f for f in findings if f.blocking]
    if errors:
        located = [format_error(f.loc, f.msg, lines, source) for f in errors]
        located.sort(key=lambda text: int(text[len(source) + 1 :].split(":", 1)[0]))  # file order
        raise ConfigError(f"{source}: {len(errors)} error(s) in config", located)


def load_checked_config(path: Path, warn: Warn = log.warning) -> AgentConfig:
    """load_config, then check_config; every problem is one line of the ConfigError."""
    return load_config(path, check=functools.partial(raise_findings, warn=warn))


def _label_findings(cfg: AgentConfig, catalog: Catalog | None) -> Iterator[Finding]:
    where: Loc = ("model", "labels") if cfg.model.labels is not None else ("model", "path")
    try:
        resolved = resolve_model(cfg, catalog)
        known = tuple(label for label in load_labels(resolved.labels_path) if is_reportable(label))
    except AgentError as exc:
        # The operator's own label path must exist. Model problems stay warnings here: a catalogue
        # model may be pulled later, and start-up (or a remote apply's rollback) reports them anyway.
        blocking = cfg.model.labels is not None
        yield Finding(where, f"labels not checked: {exc}", blocking=blocking)
        return
    model = cfg.model.path
    for loc, label in _labels_used(cfg):
        if label not in known:
            hint = did_you_mean(label, known)
            yield Finding(loc, f"{label!r} is not a label of model {model} ({resolved.labels_path}){hint}")


def _labels_used(cfg: AgentConfig) -> Iterator[tuple[Loc, str]]:
    """Every label named in the config, with its location: objects, filters, zones, lines, anomalies,
    and the Home Assistant discovery labels (an entity for a label the model lacks never changes)."""
    for name, camera in cfg.cameras.items():
        yield from _camera_labels(("cameras", name), camera)
    if _written(cfg.discovery, "labels"):
        yield from _indexed(("discovery", "labels"), cfg.discovery.labels)
    for i, classifier in enumerate(cfg.classifiers):
        yield from _indexed(("classifiers", i, "labels"), classifier.labels)
    if cfg.datasets.enabled:
        yield from _indexed(("datasets", "labels"), cfg.datasets.labels)


def _camera_labels(at: Loc, camera: CameraConfig) -> Iterator[tuple[Loc, str]]:
    yield from _indexed((*at, "objects"), camera.objects)
    for label in camera.filters:
        yield (*at, "filters", label), label
    for zone, zone_cfg in camera.zones.items():
        yield from _indexed((*at, "zones", zone, "objects"), zone_cfg.objects)
    for line, line_cfg in camera.lines.items():
        yield from _indexed((*at, "lines", line, "objects"), line_cfg.objects)
    yield from _anomaly_labels((*at, "anomalies"), camera.anomalies)
    if camera.tracker.reid is not None:
        yield from _indexed((*at, "tracker", "reid", "labels"), camera.tracker.reid.labels)


def _anomaly_labels(at: Loc, anomalies: AnomalyConfig) -> Iterator[tuple[Loc, str]]:
    # Defaulted lists (["person"]) are not the operator's words: only labels they wrote are checked.
    yield from _indexed((*at, "count", "labels"), anomalies.count.labels)
    for i, rule in enumerate(anomalies.restricted_zone.rules):
        if _written(rule, "labels"):
            yield from _indexed((*at, "restricted_zone", "rules", i, "labels"), rule.labels)
    if _written(anomalies.loitering, "labels"):
        yield from _indexed((*at, "loitering", "labels"), anomalies.loitering.labels)


def _written(section: BaseModel, field: str) -> bool:
    """Whether the operator chose `field`: set, and not to its default. A remote patch is merged onto
    the running config's full document, which sets every field, so "set" alone would check defaults
    (["person", "car"]) against a model that may lack them and reject every patch."""
    if field not in section.model_fields_set:
        return False
    default = type(section).model_fields[field].get_default(call_default_factory=True)
    value = getattr(section, field)
    if isinstance(value, list | tuple) and isinstance(default, list | tuple):
        return tuple(value) != tuple(default)
    return bool(value != default)


def _indexed(at: Loc, labels: tuple[str, ...] | list[str]) -> Iterator[tuple[Loc, str]]:
    for i, label in enumerate(labels):
        yield (*at, i), label


def _source_findings(cfg: AgentConfig) -> Iterator[Finding]:
    for name, camera in cfg.cameras.items():
        path = classify_source(camera.source).file_path
        if path is None or not camera.enabled:
            continue
        loc: Loc = ("cameras", name, "source")
        if not path.exists():
            yield Finding(loc, f"video file {path} does not exist")
        elif not path.is_file():
            yield Finding(loc, f"video source {path} is not a file")
        elif not os.access(path, os.R_OK):
            yield Finding(loc, f"video file {path} is not readable by this user")


def _second_stage_findings(cfg: AgentConfig) -> Iterator[Finding]:
    """Classifier and state model files exist; the cameras they and dataset capture name are configured.
    Whether a model file is sound (checksum, backbone) is checked when the agent loads it."""
    models: list[tuple[Loc, Path]] = [(("classifiers", i, "model"), c.model) for i, c in enumerate(cfg.classifiers)]
    for name, camera in cfg.cameras.items():
        models.extend((("cameras", name, "states", state, "model"), s.model) for state, s in camera.states.items())
    for loc, path in models:
        if not path.is_file():
            yield Finding(loc, f"classifier file {path} does not exist (make one with `edge-agent train`)")
    named: list[tuple[Loc, tuple[str, ...]]] = [
        (("classifiers", i, "cameras"), c.cameras) for i, c in enumerate(cfg.classifiers)
    ]
    named.append((("datasets", "cameras"), cfg.datasets.cameras))
    for at, names in named:
        for loc, wanted in _indexed(at, names):
            if wanted not in cfg.cameras:
                yield Finding(loc, f"{wanted!r} is not a configured camera{did_you_mean(wanted, tuple(cfg.cameras))}")


def _reid_findings(cfg: AgentConfig) -> Iterator[Finding]:
    """A camera's re-id model must be on disk, and its labels among the labels the camera reports."""
    for name, camera in cfg.cameras.items():
        reid = camera.tracker.reid
        if reid is None or not camera.enabled:
            continue
        at: Loc = ("cameras", name, "tracker", "reid")
        try:
            resolve_reid_model(cfg, reid.model)
        except AgentError as exc:
            yield Finding((*at, "model"), str(exc))
        for i, label in enumerate(reid.labels):
            if camera.objects and label not in camera.objects:
                yield Finding((*at, "labels", i), f"{label!r} is not in this camera's objects {camera.objects}")
