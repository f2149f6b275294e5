"""agent.config.checks and agent.config.suggest: labels against the real model's label file, file
sources against the disk, and "did you mean" hints, as tables of inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config_text
from agent.config.checks import check_config, load_checked_config
from agent.config.schema import AgentConfig
from agent.config.suggest import did_you_mean, field_names_at
from agent.errors import ConfigError
from tests.support import assets

BASE = "device_id: dev1\nmodel:\n  path: {model}\n  labels: {labels}\ncameras:\n  front:\n    source: {video}\n"


def config(camera_yaml: str = "", labels: Path | None = None) -> AgentConfig:
    text = BASE.format(
        model=assets.model(assets.SSD_MODEL),
        labels=labels or assets.model(assets.SSD_LABELS),
        video=assets.video(assets.PEDESTRIANS),
    )
    return load_config_text(text + camera_yaml)


@pytest.mark.parametrize(
    ("word", "choices", "hint"),
    [
        ("persn", ["person", "car"], " (did you mean 'person'?)"),
        ("zonez", ["zones", "lines"], " (did you mean 'zones'?)"),
        ("xyz", ["person", "car"], ""),
        ("cars", ["car", "carrot"], " (did you mean 'car' or 'carrot'?)"),
    ],
)
def test_did_you_mean(word: str, choices: list[str], hint: str) -> None:
    """Close matches are offered, nothing for a word far from every choice."""
    assert did_you_mean(word, choices) == hint


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("modle",), "model"),
        (("cameras", "front", "zonez"), "zones"),
        (("cameras", "front", "zones", "door", "objectz"), "objects"),
        (("cameras", "f", "anomalies", "restricted_zone", "rules", 0, "lables"), "labels"),
    ],
)
def test_field_names_at_steps_over_names_and_indexes(loc: tuple[str | int, ...], expected: str) -> None:
    """The section holding an unknown key is found through camera names, zone names and list indexes."""
    assert expected in field_names_at(AgentConfig, loc)


def test_unknown_key_error_says_did_you_mean() -> None:
    """A typo'd key fails schema validation with a hint naming the real field."""
    with pytest.raises(ConfigError) as caught:
        config("    zonez: {}\n")
    assert any(
        "cameras.front.zonez: Extra inputs are not permitted (did you mean 'zones'?)" in e for e in caught.value.errors
    )


LABEL_CASES = [
    ("    objects: [persn]\n", "cameras.front.objects.0", "'person'"),
    ("    filters: {persn: {min_score: 0.5}}\n", "cameras.front.filters.persn", "'person'"),
    (
        "    zones: {door: {points: [[0, 0], [1, 0], [1, 1]], objects: [bycicle]}}\n",
        "cameras.front.zones.door.objects.0",
        "'bicycle'",
    ),
    ("    lines: {gate: {a: [0, 0], b: [1, 1], objects: [dgo]}}\n", "cameras.front.lines.gate.objects.0", "'dog'"),
    ("    anomalies: {count: {labels: [trukc]}}\n", "cameras.front.anomalies.count.labels.0", "'truck'"),
    ("    anomalies: {loitering: {labels: [persn]}}\n", "cameras.front.anomalies.loitering.labels.0", "'person'"),
    (
        "    zones: {door: {points: [[0, 0], [1, 0], [1, 1]]}}\n"
        "    anomalies: {restricted_zone: {rules: [{name: r, zone: door, labels: [kat]}]}}\n",
        "cameras.front.anomalies.restricted_zone.rules.0.labels.0",
        "'cat'",
    ),
    ("discovery: {labels: [person, cr]}\n", "discovery.labels.1", "'car'"),
]


@pytest.mark.parametrize(("camera_yaml", "dotted", "hint"), LABEL_CASES)
def test_every_label_field_is_checked(camera_yaml: str, dotted: str, hint: str) -> None:
    """Each label-list in the config is checked against the model's labels, with a hint."""
    findings = check_config(config(camera_yaml))
    assert [(f.dotted, f.blocking) for f in findings] == [(dotted, True)]
    assert f"did you mean {hint}?" in findings[0].msg


def test_known_labels_and_defaults_pass() -> None:
    """Real labels give no finding, and neither do defaulted label lists."""
    assert check_config(config("    objects: [person, car]\n    filters: {dog: {min_score: 0.6}}\n")) == ()


@pytest.mark.parametrize(
    ("source", "message"),
    [("{tmp}/absent.mp4", "does not exist"), ("{tmp}", "is not a file"), ("file://{tmp}/absent.mp4", "does not exist")],
)
def test_file_source_must_be_a_file(tmp_path: Path, source: str, message: str) -> None:
    """A file source that is missing or a directory is a finding at cameras.<name>.source."""
    cfg = config(f"  back:\n    source: {source.format(tmp=tmp_path)}\n")
    findings = check_config(cfg)
    assert [f.dotted for f in findings] == ["cameras.back.source"]
    assert message in findings[0].msg


def test_missing_label_file_is_a_finding(tmp_path: Path) -> None:
    """An operator's label path that does not exist is a clear blocking finding, not a traceback."""
    findings = check_config(config(labels=tmp_path / "none.txt"))
    assert [(f.dotted, f.blocking) for f in findings] == [("model.labels", True)]
    assert "does not exist" in findings[0].msg


def test_checked_load_locates_findings(tmp_path: Path) -> None:
    """load_checked_config reports findings as file:line: field: message, in file order."""
    path = tmp_path / "agent.yaml"
    path.write_text(
        BASE.format(model=assets.model(assets.SSD_MODEL), labels=assets.model(assets.SSD_LABELS), video="absent.mp4")
        + "    objects: [persn]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_checked_config(path)
    assert caught.value.errors[0] == f"{path}:7: cameras.front.source: video file {tmp_path}/absent.mp4 does not exist"
    assert caught.value.errors[1].startswith(f"{path}:8: cameras.front.objects.0: 'persn' is not a label of model")
