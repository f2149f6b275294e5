"""Writes an applied remote config to the agent's config file atomically, keeping the previous one.

Both the new file and `<name>.previous` are written to a temp file in the same directory,
fsynced, renamed into place and the directory fsynced, so a power cut leaves either the old
or the new file, never a torn one. Called by the remote-config controller on the config thread."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import yaml

from agent.config.loader import load_config
from agent.config.schema import AgentConfig
from agent.errors import AgentError
from agent.remote.document import canonical_dict

PREVIOUS_SUFFIX = ".previous"
NEW_FILE_MODE = 0o600  # the file may hold a broker password
HEADER = "# Written by edge-agent remote config (comments of the original file are not kept).\n"


class PersistError(AgentError):
    """The config file (or its .previous copy) could not be written."""


def previous_path(path: Path) -> Path:
    """`<name>.previous` beside the config file."""
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def render_yaml(cfg: AgentConfig) -> str:
    """The YAML text persisted for `cfg`: the canonical dict (every default), sorted keys."""
    body = yaml.safe_dump(canonical_dict(cfg), sort_keys=True, allow_unicode=True, default_flow_style=False)
    return HEADER + body


def persist_config(path: Path, content: str | AgentConfig) -> None:
    """Make `content` the config file at `path`; the file it replaces becomes `<name>.previous`.

    A str is written verbatim and must be a complete config file (no request envelope);
    an AgentConfig is written with render_yaml. Raises PersistError."""
    text = content if isinstance(content, str) else render_yaml(content)
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else NEW_FILE_MODE
        if path.exists():
            _write_atomic(previous_path(path), path.read_bytes(), mode)
        _write_atomic(path, text.encode("utf-8"), mode)
    except OSError as exc:
        raise PersistError(f"cannot write config {path}: {exc.strerror or exc}; is its directory writable?") from exc


def load_previous(path: Path) -> AgentConfig | None:
    """The config kept in `<name>.previous`, or None if there is none. ConfigError if it is invalid.

    Relative paths in it resolve against the config file's directory, like the file itself."""
    previous = previous_path(path)
    if not previous.exists():
        return None
    return load_config(previous)


def restore_previous(path: Path) -> bool:
    """Roll the file back: `<name>.previous` atomically replaces `path`. False if there is no previous."""
    previous = previous_path(path)
    try:
        if not previous.exists():
            return False
        os.replace(previous, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise PersistError(f"cannot restore {previous} to {path}: {exc.strerror or exc}") from exc
    return True


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)  # no stray temp file; the error propagates
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "PREVIOUS_SUFFIX",
    "PersistError",
    "load_previous",
    "persist_config",
    "previous_path",
    "render_yaml",
    "restore_previous",
]
