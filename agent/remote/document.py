"""Turns a remote config document (set or merge patch) into a validated AgentConfig or a list of issues.

Uses the file loader's parser and limits, so a remote document is exactly as strict as a
file; adds the remote-only policy (same device_id, paths inside allowed directories).
Also the canonical form, the version hash and secret redaction. Pure; called on the
config thread (agent.remote.controller)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.catalog.resolve import model_dir_of
from agent.config.checks import check_config
from agent.config.loader import ParseLimits, parse_yaml, validate_document
from agent.config.paths import is_model_file_path, resolve_relative_paths
from agent.config.schema import AgentConfig
from agent.config.sources import classify_source
from agent.errors import ConfigError
from agent.remote.merge_patch import apply_merge_patch
from agent.remote.protocol import CONFIG_LEVEL, ENVELOPE_LOC, ConfigIssue, salvage_request_id, split_envelope

REDACTED = "***"
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_?key|credential)", re.IGNORECASE)
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*:)[^@/\s]*@")
QUERY_SECRET = re.compile(r"(?P<head>[?&][^=&#\s]*(?:token|password|secret|key|auth|sig)[^=&#\s]*=)[^&#\s]*", re.I)
VALUE_ERROR_PREFIX = "Value error, "


@dataclass(frozen=True, slots=True)
class RemotePolicy:
    """What a remote document may do: where its relative paths point and which directories it may name.

    `known_paths` are (field, path) pairs the running config already has: a field keeping its
    path is allowed even outside the directories (e.g. a CA bundle in /etc/ssl)."""

    base_dir: Path
    allowed_dirs: tuple[Path, ...]
    known_paths: frozenset[tuple[str, str]] = frozenset()
    limits: ParseLimits = field(default_factory=ParseLimits)

    @classmethod
    def for_running(cls, config_path: Path, running: AgentConfig, limits: ParseLimits | None = None) -> RemotePolicy:
        """The default policy: the config file's directory, state_dir and model_dir of the running config."""
        base = Path(os.path.normpath(config_path.parent.absolute()))
        allowed = tuple(Path(os.path.normpath(base / d)) for d in (base, running.state_dir, model_dir_of(running)))
        known = frozenset((loc, str(path)) for loc, path in config_paths(running))
        return cls(base, allowed, known, limits if limits is not None else ParseLimits())


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """A parsed request: `config` is set exactly when `errors` is empty. `request_id` is echoed in the state."""

    request_id: str | None
    config: AgentConfig | None
    errors: tuple[ConfigIssue, ...]


def parse_set(payload: bytes, running: AgentConfig, policy: RemotePolicy, source: str = "config/set") -> RemoteResult:
    """A full config document (YAML or JSON, optional top-level request_id) -> validated config or issues.

    A secret field sent back as "***" (as config/current shows it) keeps the running value."""
    return _parse(payload, running, policy, source, patch=False)


def parse_patch(
    payload: bytes, running: AgentConfig, policy: RemotePolicy, source: str = "config/patch"
) -> RemoteResult:
    """An RFC 7386 merge patch (JSON, or YAML; optional top-level request_id) applied to the running config."""
    return _parse(payload, running, policy, source, patch=True)


def _parse(payload: bytes, running: AgentConfig, policy: RemotePolicy, source: str, patch: bool) -> RemoteResult:
    try:
        document, lines = parse_yaml(payload, source, policy.limits)
    except ConfigError as exc:
        unparsable = tuple(ConfigIssue(ENVELOPE_LOC, line) for line in exc.errors)
        return RemoteResult(salvage_request_id(payload), None, unparsable)
    envelope = split_envelope(document)
    if envelope.errors:
        return RemoteResult(None, None, envelope.errors)
    current = canonical_dict(running)
    if patch:
        body, lines = apply_merge_patch(current, envelope.body), {}
    else:
        body = envelope.body
    try:
        parsed = validate_document(restore_redacted(body, current), lines, source)
    except ConfigError as exc:
        return RemoteResult(envelope.request_id, None, _issues_of(exc))
    config = resolve_relative_paths(parsed, policy.base_dir)
    issues = check_identity(config, running) + check_paths(config, policy.allowed_dirs, policy.known_paths)
    if not issues:  # only then: never probe the disk at paths the policy refuses
        issues = [ConfigIssue(f.dotted, f.msg) for f in check_config(config) if f.blocking]
    return RemoteResult(envelope.request_id, None if issues else config, tuple(issues))


def _issues_of(exc: ConfigError) -> tuple[ConfigIssue, ...]:
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        return tuple(
            ConfigIssue(".".join(str(part) for part in err["loc"]) or ENVELOPE_LOC, _clean(err["msg"]))
            for err in cause.errors()
        )
    return tuple(ConfigIssue(ENVELOPE_LOC, line) for line in exc.errors)


def _clean(msg: str) -> str:
    return msg.removeprefix(VALUE_ERROR_PREFIX)


# ----- canonical form and version ----------------------------------------------------------


def canonical_dict(cfg: AgentConfig) -> dict[str, Any]:
    """Plain JSON-able data of the config, every default included (what is persisted and patched)."""
    return cfg.model_dump(mode="json")


def canonical_json(cfg: AgentConfig) -> bytes:
    """Sorted-key compact JSON of the config: equal configs give equal bytes."""
    return json.dumps(canonical_dict(cfg), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def config_version(cfg: AgentConfig) -> str:
    """sha256 (hex) of the canonical JSON: the `version` reported on config/state."""
    return hashlib.sha256(canonical_json(cfg)).hexdigest()


# ----- secrets -------------------------------------------------------------------------------


def redact(cfg: AgentConfig) -> dict[str, Any]:
    """The canonical dict with secrets replaced by "***": password-like fields (when set),
    passwords in URLs (scheme://user:***@host) and token-like URL query parameters."""
    redacted: dict[str, Any] = _redact_value(canonical_dict(cfg), secret=False)
    return redacted


def _redact_value(value: Any, secret: bool) -> Any:
    if isinstance(value, dict):
        return {key: _redact_value(item, secret or bool(SECRET_KEY.search(str(key)))) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_value(item, secret) for item in value]
    if secret and value is not None:
        return REDACTED
    return redact_text(value) if isinstance(value, str) else value


def redact_text(text: str) -> str:
    """`text` with URL passwords and token-like query values replaced by ***."""
    return QUERY_SECRET.sub(rf"\g<head>{REDACTED}", URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text))


def restore_redacted(document: Any, current: Any, secret: bool = False) -> Any:
    """Put running secrets back wherever a submitted value equals what config/current showed for it.

    So a config fetched with config/get, edited and sent back keeps its passwords."""
    if isinstance(document, dict) and isinstance(current, dict):
        return {
            key: restore_redacted(value, current.get(key), secret or bool(SECRET_KEY.search(str(key))))
            for key, value in document.items()
        }
    if isinstance(document, list) and isinstance(current, list) and len(document) == len(current):
        return [restore_redacted(item, old, secret) for item, old in zip(document, current, strict=True)]
    was_shown_as = None if isinstance(current, dict | list) else _redact_value(current, secret)
    if isinstance(document, str) and REDACTED in document and current is not None and was_shown_as == document:
        return current
    return document


# ----- remote-only policy ----------------------------------------------------------------------


def check_identity(cfg: AgentConfig, running: AgentConfig) -> list[ConfigIssue]:
    """A remote config cannot rename the device, name a camera `config` (it would publish on config
    topics) or widen the directories remote documents may use."""
    issues = []
    if cfg.device_id != running.device_id:
        issues.append(ConfigIssue("device_id", f"must stay {running.device_id!r}; rename a device in its file"))
    if CONFIG_LEVEL in cfg.cameras:
        issues.append(ConfigIssue(f"cameras.{CONFIG_LEVEL}", "camera name 'config' is reserved for config topics"))
    if cfg.remote_config.allowed_dirs != running.remote_config.allowed_dirs:
        # Widening where a remote document may point is an escalation: only an edit on disk may do it.
        issues.append(
            ConfigIssue("remote_config.allowed_dirs", "cannot be changed remotely; edit the file on the device")
        )
    return issues + check_camera_limit(cfg, running)


def check_camera_limit(cfg: AgentConfig, running: AgentConfig) -> list[ConfigIssue]:
    """At most remote_config.max_cameras enabled cameras; the limit itself may only go down remotely."""
    limit, allowed = cfg.remote_config.max_cameras, running.remote_config.max_cameras
    if limit > allowed:
        msg = f"cannot be raised remotely above {allowed}; edit the file on the device"
        return [ConfigIssue("remote_config.max_cameras", msg)]
    enabled = sum(1 for camera in cfg.cameras.values() if camera.enabled)
    if enabled > limit:
        msg = f"{enabled} enabled cameras exceed remote_config.max_cameras ({limit})"
        return [ConfigIssue("cameras", msg)]
    return []


def check_paths(
    cfg: AgentConfig, allowed_dirs: tuple[Path, ...], known_paths: frozenset[tuple[str, str]] = frozenset()
) -> list[ConfigIssue]:
    """Issues for every file path of `cfg` (already resolved) outside `allowed_dirs`, unless the
    same field had the same path before (`known_paths` holds (field, path) pairs).

    Checked lexically after normalisation (.. cannot escape); symlinks inside an allowed
    directory are trusted, since only a local administrator can create them."""
    allowed = [Path(os.path.normpath(d)) for d in allowed_dirs if d.is_absolute()]
    issues = []
    for loc, path in config_paths(cfg):
        text = str(path)
        if (loc, text) in known_paths:
            continue
        if "\x00" in text or not path.is_absolute():
            issues.append(ConfigIssue(loc, f"{text!r} must be an absolute path without NUL bytes"))
            continue
        normal = Path(os.path.normpath(path))
        if not any(normal == d or normal.is_relative_to(d) for d in allowed):
            shown = ", ".join(str(d) for d in allowed)
            issues.append(ConfigIssue(loc, f"{text} is outside the directories a remote config may use ({shown})"))
    return issues


def config_paths(cfg: AgentConfig) -> list[tuple[str, Path]]:
    """(dotted field, path) for every Path field at any depth, model.path when it is a file, and the
    file every file camera will open (classified as the capture thread classifies it: file:// URLs
    and paths that leave /dev through .. included)."""
    found = list(_path_fields(cfg, ""))
    if is_model_file_path(cfg.model.path):
        found.append(("model.path", Path(cfg.model.path)))
    for name, camera in cfg.cameras.items():
        path = classify_source(camera.source).file_path
        if path is not None:
            found.append((f"cameras.{name}.source", path))
    return found


def _path_fields(value: Any, loc: str) -> Iterator[tuple[str, Path]]:
    if isinstance(value, Path):
        yield loc, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _path_fields(getattr(value, name), f"{loc}.{name}" if loc else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _path_fields(item, f"{loc}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _path_fields(item, f"{loc}.{index}")


__all__ = [
    "REDACTED",
    "RemotePolicy",
    "RemoteResult",
    "canonical_dict",
    "canonical_json",
    "check_camera_limit",
    "check_identity",
    "check_paths",
    "config_paths",
    "config_version",
    "parse_patch",
    "parse_set",
    "redact",
    "redact_text",
]
