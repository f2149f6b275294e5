"""The runtime toggles file, `<state_dir>/toggles.json`: what operators switched over MQTT, per camera.

Only toggles that were set are kept, so the others follow the YAML config. The operator's YAML
is never rewritten. Read once at start and written atomically after each change, both on the
main thread. A file that cannot be read or does not hold what we write is logged and ignored:
every camera then starts from its YAML defaults."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from agent.storage.atomic_file import write_atomic
from agent.toggles.state import Toggle

log = logging.getLogger(__name__)

TOGGLES_FILE = "toggles.json"
FILE_VERSION = 1

Overrides = dict[str, dict[Toggle, bool]]
_NAMES = frozenset(toggle.value for toggle in Toggle)


class ToggleFileError(ValueError):
    """The toggles file does not hold what save_toggles writes."""


def toggles_path(state_dir: Path) -> Path:
    return state_dir / TOGGLES_FILE


def load_toggles(path: Path) -> Overrides:
    """The toggles set by an earlier run; empty if there is no file, or (with a warning) a broken one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return parse_document(document)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # JSONDecodeError and ToggleFileError are ValueErrors
        log.warning("ignoring %s (%s): every camera starts with its toggles as the config file sets them", path, exc)
        return {}


def parse_document(document: object) -> Overrides:
    """The per-camera toggles of a decoded file; ToggleFileError if anything in it is not ours."""
    if not isinstance(document, dict) or document.get("version") != FILE_VERSION:
        raise ToggleFileError(f"not a version {FILE_VERSION} toggles document")
    cameras = document.get("cameras")
    if not isinstance(cameras, dict):
        raise ToggleFileError("it has no 'cameras' object")
    overrides: Overrides = {}
    for camera, values in cameras.items():
        if not isinstance(values, dict):
            raise ToggleFileError(f"camera {camera!r} does not map toggles to true/false")
        overrides[camera] = {}
        for name, on in values.items():
            if name not in _NAMES or not isinstance(on, bool):
                raise ToggleFileError(f"camera {camera!r}: {name!r}: {on!r} is not a known toggle set to true/false")
            overrides[camera][Toggle(name)] = on
    return overrides


def save_toggles(path: Path, overrides: Mapping[str, Mapping[Toggle, bool]]) -> None:
    """Replace the file atomically; raises OSError."""
    cameras = {
        camera: {t.value: on for t, on in sorted(values.items())} for camera, values in sorted(overrides.items())
    }
    document = {"version": FILE_VERSION, "cameras": cameras}
    write_atomic(path, json.dumps(document, indent=1).encode("utf-8"))
