"""persist_config writes the config file atomically, keeps the replaced one as .previous, and the
written file loads back to the same config version."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.config.schema import AgentConfig
from agent.remote.document import config_version
from agent.remote.persist import (
    PersistError,
    load_previous,
    persist_config,
    previous_path,
    render_yaml,
    restore_previous,
)

ORIGINAL = """\
# hand-written comment
device_id: dev1
state_dir: ./state
mqtt:
  password: pw
model:
  path: ssd-mobilenet
cameras:
  front:
    source: /dev/video0
    zones:
      door:
        points: [[0, 0], [100, 0], [100, 50]]
  "1":
    source: "1"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(ORIGINAL)
    path.chmod(0o640)
    return path


def test_written_config_loads_back_to_same_version(config_file: Path) -> None:
    """The canonical YAML written for a config loads (via the file loader) to an equal config."""
    cfg = load_config(config_file)
    changed = cfg.model_copy(update={"log_level": "DEBUG"})
    persist_config(config_file, changed)
    reloaded = load_config(config_file)
    assert reloaded == changed
    assert config_version(reloaded) == config_version(changed)


def test_previous_keeps_the_replaced_file_verbatim(config_file: Path) -> None:
    """The file replaced by a persist is kept byte for byte as <name>.previous, comments included."""
    cfg = load_config(config_file)
    persist_config(config_file, cfg.model_copy(update={"log_level": "ERROR"}))
    assert previous_path(config_file).read_text() == ORIGINAL
    previous = load_previous(config_file)
    assert previous == cfg
    assert "hand-written comment" not in config_file.read_text()


def test_each_persist_shifts_previous(config_file: Path) -> None:
    """After two persists, .previous holds the first persisted version, not the original."""
    cfg = load_config(config_file)
    first = cfg.model_copy(update={"log_level": "ERROR"})
    persist_config(config_file, first)
    persist_config(config_file, cfg.model_copy(update={"log_level": "WARNING"}))
    assert load_previous(config_file) == first


def test_restore_previous_rolls_the_file_back(config_file: Path) -> None:
    """restore_previous puts .previous back in place; with no .previous it reports False."""
    cfg = load_config(config_file)
    persist_config(config_file, cfg.model_copy(update={"log_level": "ERROR"}))
    assert restore_previous(config_file)
    assert config_file.read_text() == ORIGINAL
    assert not previous_path(config_file).exists()
    assert not restore_previous(config_file)


def test_mode_is_kept_and_no_temp_files_remain(config_file: Path) -> None:
    """The file keeps its permission bits; no temporary files are left in the directory."""
    persist_config(config_file, load_config(config_file))
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o640
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["agent.yaml", "agent.yaml.previous"]


def test_new_file_is_private_and_has_no_previous(tmp_path: Path, config_file: Path) -> None:
    """A config written where none existed is mode 0600 (it may hold a password) with no .previous."""
    target = tmp_path / "new.yaml"
    persist_config(target, render_yaml(load_config(config_file)))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert load_previous(target) is None
    assert isinstance(load_config(target), AgentConfig)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_directory_raises_persist_error(tmp_path: Path, config_file: Path) -> None:
    """A directory that cannot be written gives PersistError naming the file, and the old file is intact."""
    config_file.parent.chmod(0o500)
    try:
        with pytest.raises(PersistError, match=r"agent\.yaml"):
            persist_config(config_file, "device_id: x\n")
    finally:
        config_file.parent.chmod(0o700)
    assert config_file.read_text() == ORIGINAL


def test_write_failure_leaves_old_file_and_no_temp(tmp_path: Path, config_file: Path) -> None:
    """When the target cannot be replaced (it is a directory), the error is PersistError and no temp file stays."""
    blocked = tmp_path / "blocked.yaml"
    blocked.mkdir()
    with pytest.raises(PersistError, match=r"blocked\.yaml"):
        persist_config(blocked, "device_id: x\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
