"""Remote documents are parsed as strictly as files, checked against the remote policy, versioned,
redacted, and carried by the protocol's topics and payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.config.loader import ParseLimits, load_config
from agent.config.schema import AgentConfig
from agent.remote.document import (
    REDACTED,
    RemotePolicy,
    RemoteResult,
    canonical_json,
    check_paths,
    config_version,
    parse_patch,
    parse_set,
    redact,
)
from agent.remote.protocol import (
    ApplyStatus,
    ConfigIssue,
    ConfigState,
    ConfigTopics,
    RequestKind,
    current_message,
    decode_state,
    parse_get_request,
    split_envelope,
    state_message,
)
from tests.support.schemas import validate_payload

CONFIG = """\
device_id: dev1
state_dir: ./state
mqtt:
  username: cam
  password: s3cret-pw
model:
  path: ssd-mobilenet
cameras:
  front:
    source: rtsp://viewer:cam-pw@10.0.0.5:554/stream
  back:
    source: /dev/video0
"""


@pytest.fixture
def running(tmp_path: Path) -> tuple[AgentConfig, RemotePolicy]:
    path = tmp_path / "agent.yaml"
    path.write_text(CONFIG)
    cfg = load_config(path)
    return cfg, RemotePolicy.for_running(path, cfg)


def _set(doc: dict[str, Any] | str, running: tuple[AgentConfig, RemotePolicy]) -> RemoteResult:
    payload = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    return parse_set(payload, running[0], running[1])


def _patch(doc: dict[str, Any], running: tuple[AgentConfig, RemotePolicy]) -> RemoteResult:
    return parse_patch(json.dumps(doc).encode(), running[0], running[1])


def _locs(result: RemoteResult) -> list[str]:
    return [issue.loc for issue in result.errors]


# ----- set -----------------------------------------------------------------------------------


def test_set_yaml_with_request_id(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """A YAML set document validates; its request_id is taken out of the body and returned."""
    result = _set("request_id: r-1\n" + CONFIG.replace("back:", "side:"), running)
    assert result.errors == ()
    assert result.request_id == "r-1"
    assert result.config is not None
    assert sorted(result.config.cameras) == ["front", "side"]


def test_set_resolves_relative_paths_against_config_dir(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """A relative path in a remote document means the same as in the file: beside the config file."""
    cfg, policy = running
    (policy.base_dir / "state").mkdir(exist_ok=True)
    (policy.base_dir / "state" / "clip.mp4").write_bytes(b"")  # a file source must exist (config checks)
    result = _set(CONFIG + "    zones: {}\n  clip:\n    source: state/clip.mp4\n", running)
    assert result.errors == ()
    assert result.config is not None
    assert result.config.cameras["clip"].source == str(policy.base_dir / "state" / "clip.mp4")
    assert result.config.state_dir == cfg.state_dir


def test_set_invalid_fields_give_located_issues(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """Every validation error comes back as a dotted loc and a message, with no config."""
    doc = CONFIG.replace("source: /dev/video0", "source: /dev/video0\n    detect_fps: -1\n    bogus: 1")
    result = _set("request_id: r-2\n" + doc, running)
    assert result.config is None
    assert result.request_id == "r-2"
    assert sorted(_locs(result)) == ["cameras.back.bogus", "cameras.back.detect_fps"]
    assert all(issue.msg for issue in result.errors)


@pytest.mark.parametrize(
    "payload",
    [
        b"device_id: [unclosed",
        b"",
        b"- a list\n- not a mapping\n",
        b"\xff\xfe not utf-8",
        b"a: !!python/object/apply:os.system ['echo pwned']\n",
        b"a: !!python/name:os.system\n",
        b"a: 2001-13-45\n",
        b"a: !!int nope\n",
        b"k: v\nk: w\n",
    ],
    ids=["syntax", "empty", "list", "binary", "python-apply", "python-name", "bad-date", "bad-int", "dup"],
)
def test_unparsable_documents_are_issues(running: tuple[AgentConfig, RemotePolicy], payload: bytes) -> None:
    """Syntax errors, Python tags, bad tagged scalars, non-mappings and duplicate keys are issues, not exceptions."""
    result = parse_set(payload, running[0], running[1])
    assert result.config is None
    assert result.errors
    assert _locs(result) == ["<document>"] * len(result.errors)


def test_python_tag_is_never_constructed(running: tuple[AgentConfig, RemotePolicy], tmp_path: Path) -> None:
    """A !!python/object/apply document runs nothing: SafeLoader refuses the tag."""
    marker = tmp_path / "pwned"
    payload = f"a: !!python/object/apply:os.system ['touch {marker}']\n".encode()
    result = parse_set(payload, running[0], running[1])
    assert "python/object/apply" in result.errors[0].msg
    assert not marker.exists()


def test_size_and_alias_limits_apply(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """The file loader's size and alias-expansion limits hold for remote documents."""
    cfg, policy = running
    small = RemotePolicy(policy.base_dir, policy.allowed_dirs, policy.known_paths, ParseLimits(max_bytes=100))
    too_big = parse_set(CONFIG.encode(), cfg, small)
    assert "the limit is 100" in too_big.errors[0].msg
    bomb = b"a: &a [x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{c}: &{c} [{', '.join(['*' + chr(ord(c) - 1)] * 8)}]\n".encode() for c in "bcdefg"
    )
    assert "alias" in parse_set(bomb, cfg, policy).errors[0].msg


@pytest.mark.parametrize("bad", [123, "", "has space", "x" * 129, "tab\there"])
def test_bad_request_id_is_rejected(running: tuple[AgentConfig, RemotePolicy], bad: Any) -> None:
    """A request_id that is not 1-128 printable ASCII characters is an issue at loc request_id."""
    result = _set({"request_id": bad, "device_id": "dev1"}, running)
    assert result.config is None
    assert _locs(result) == ["request_id"]


def test_device_cannot_be_renamed_remotely(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """Changing device_id (or naming a camera `config`) is refused by the remote policy."""
    result = _set(CONFIG.replace("dev1", "dev2").replace("back:", "config:"), running)
    assert result.config is None
    assert sorted(_locs(result)) == ["cameras.config", "device_id"]


# ----- path policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"mqtt": {"password": None, "password_file": "/etc/shadow"}}, "mqtt.password_file"),
        ({"mqtt": {"tls": {"ca_file": "../../etc/ssl/ca.pem"}}}, "mqtt.tls.ca_file"),
        ({"model": {"path": "/tmp/evil.tflite"}}, "model.path"),
        ({"model": {"labels": "state/../../labels.txt"}}, "model.labels"),
        ({"state_dir": "/var/tmp/elsewhere"}, "state_dir"),
        ({"model_dir": "/opt/models"}, "model_dir"),
        ({"cameras": {"clip": {"source": "/home/user/video.mp4"}}}, "cameras.clip.source"),
        # Issue 12, defect 1: each of these was applied and opened before sources were classified once.
        ({"cameras": {"clip": {"source": "file:///home/user/video.mp4"}}}, "cameras.clip.source"),
        ({"cameras": {"clip": {"source": "FILE:///etc/shadow"}}}, "cameras.clip.source"),
        ({"cameras": {"clip": {"source": "/dev/../home/user/video.mp4"}}}, "cameras.clip.source"),
        ({"cameras": {"clip": {"source": "/dev/video0/../../etc/shadow"}}}, "cameras.clip.source"),
        ({"cameras": {"clip": {"source": "//home/user/video.mp4"}}}, "cameras.clip.source"),
        ({"cameras": {"clip": {"source": "  file:///home/user/video.mp4"}}}, "cameras.clip.source"),
        ({"cameras": {"clip": {"source": "/home/user/a://b.mp4"}}}, "cameras.clip.source"),
    ],
)
def test_paths_outside_allowed_dirs_are_rejected(
    running: tuple[AgentConfig, RemotePolicy], patch: dict[str, Any], loc: str
) -> None:
    """A remote config may not name files outside the config dir, state_dir and model_dir (.. included)."""
    result = _patch(patch, running)
    assert result.config is None
    assert _locs(result) == [loc]
    assert "outside the directories" in result.errors[0].msg


def test_paths_inside_allowed_dirs_are_accepted(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """Files in the config dir, state_dir and model_dir (relative or absolute) are allowed."""
    cfg, policy = running
    (cfg.state_dir / "models").mkdir(parents=True, exist_ok=True)  # the config checks want them to exist
    (cfg.state_dir / "models" / "x.tflite").write_bytes(b"")
    (policy.base_dir / "state" / "labels.txt").write_text("person\n")
    (policy.base_dir / "clip.mp4").write_bytes(b"")
    patch = {
        "mqtt": {"password": None, "password_file": "mqtt.pw"},
        "model": {"path": str(cfg.state_dir / "models" / "x.tflite"), "labels": "state/labels.txt"},
        "cameras": {"clip": {"source": "./clip.mp4"}, "url": {"source": f"file://{policy.base_dir}/clip.mp4"}},
    }
    result = _patch(patch, running)
    assert result.errors == ()
    assert result.config is not None
    assert result.config.mqtt.password_file == policy.base_dir / "mqtt.pw"


def test_paths_already_in_use_stay_allowed(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """A field keeping the path it already has (e.g. a CA in /etc/ssl) passes even outside the directories."""
    cfg, _ = running
    outside = cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update={"password_file": Path("/etc/agent.pw")})})
    allowed = (cfg.state_dir,)
    assert check_paths(outside, allowed, frozenset({("mqtt.password_file", "/etc/agent.pw")})) == []
    assert [i.loc for i in check_paths(outside, allowed)] == ["mqtt.password_file"]
    moved = frozenset({("mqtt.tls.ca_file", "/etc/agent.pw")})  # known, but for another field
    assert [i.loc for i in check_paths(outside, allowed, moved)] == ["mqtt.password_file"]


# ----- patch ---------------------------------------------------------------------------------


def test_patch_changes_only_named_fields(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """A merge patch changes one field, deletes a camera with null, and keeps everything else."""
    cfg, _ = running
    result = _patch({"request_id": "p1", "cameras": {"front": {"detect_fps": 2.5}, "back": None}}, running)
    assert result.request_id == "p1"
    assert result.config is not None
    assert list(result.config.cameras) == ["front"]
    assert result.config.cameras["front"].detect_fps == 2.5
    assert result.config.cameras["front"].source == cfg.cameras["front"].source
    assert result.config.mqtt == cfg.mqtt


def test_patch_that_breaks_validation_is_rejected(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """Deleting every camera or a required field makes the patched config invalid: issues, no config."""
    result = _patch({"request_id": "p2", "cameras": {"front": None, "back": None}, "model": None}, running)
    assert result.config is None
    assert result.request_id == "p2"
    assert sorted(_locs(result)) == ["cameras", "model"]


# ----- canonical form, version, redaction ------------------------------------------------------


def test_version_ignores_key_order_and_tracks_content(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """Equal configs have equal versions whatever the document order; any change changes it."""
    cfg, _ = running
    reordered = AgentConfig.model_validate(dict(reversed(list(json.loads(canonical_json(cfg)).items()))))
    assert config_version(reordered) == config_version(cfg)
    assert len(config_version(cfg)) == 64
    changed = cfg.model_copy(update={"log_level": "DEBUG"})
    assert config_version(changed) != config_version(cfg)


def test_redact_hides_every_secret(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """Passwords, URL passwords and token query values never appear in the redacted dict; unset stays null."""
    cfg, _ = running
    front = cfg.cameras["front"].model_copy(update={"source": "https://cam.lan/mjpg?user=a&access_token=tok123"})
    cfg = cfg.model_copy(update={"cameras": {**cfg.cameras, "rtsp": cfg.cameras["front"], "front": front}})
    redacted = redact(cfg)
    text = json.dumps(redacted)
    for secret in ("s3cret-pw", "cam-pw", "tok123"):
        assert secret not in text
    assert redacted["mqtt"]["password"] == REDACTED
    assert redacted["mqtt"]["password_file"] is None
    assert redacted["cameras"]["rtsp"]["source"] == "rtsp://viewer:***@10.0.0.5:554/stream"
    assert redacted["cameras"]["front"]["source"] == "https://cam.lan/mjpg?user=a&access_token=***"


def test_redacted_config_sent_back_keeps_secrets(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """config/get's redacted output, edited and sent as a set, keeps the running secrets."""
    cfg, _ = running
    doc = redact(cfg)
    doc["log_level"] = "DEBUG"
    result = _set(doc, running)
    assert result.errors == ()
    assert result.config is not None
    assert result.config.mqtt.password == "s3cret-pw"
    assert result.config.cameras["front"].source == cfg.cameras["front"].source
    assert result.config.log_level == "DEBUG"


# ----- protocol ------------------------------------------------------------------------------


def test_topics_and_classification() -> None:
    """Config topics sit under <p>/<d>/config; group patches are PATCH; foreign topics are None."""
    topics = ConfigTopics("site/a", "dev1", ("north", "all"))
    assert topics.request(RequestKind.SET) == "site/a/dev1/config/set"
    assert topics.state() == "site/a/dev1/config/state"
    assert topics.current() == "site/a/dev1/config/current"
    assert topics.subscriptions() == (
        "site/a/dev1/config/set",
        "site/a/dev1/config/patch",
        "site/a/dev1/config/get",
        "site/a/groups/north/config/patch",
        "site/a/groups/all/config/patch",
    )
    assert topics.classify("site/a/groups/all/config/patch") is RequestKind.PATCH
    assert topics.classify("site/a/dev1/config/get") is RequestKind.GET
    assert topics.classify("site/a/groups/south/config/patch") is None
    assert topics.classify("site/a/dev2/config/set") is None
    with pytest.raises(ValueError, match="reserved"):
        ConfigTopics("site/a", "groups")


@pytest.mark.parametrize(("prefix", "device", "groups"), [("p", "a/b", ()), ("p/#", "d", ()), ("p", "d", ("g+",))])
def test_topics_reject_bad_levels(prefix: str, device: str, groups: tuple[str, ...]) -> None:
    """A device id or group with / + # (or a prefix with wildcards) cannot build topics."""
    with pytest.raises(ValueError, match=r"cannot contain|must be non-empty"):
        ConfigTopics(prefix, device, groups)


def test_envelope_and_get_request() -> None:
    """request_id is optional, stripped from the body; a get payload may be empty or a JSON object."""
    assert split_envelope({"request_id": "r", "a": 1}).body == {"a": 1}
    assert split_envelope({"a": 1}).request_id is None
    assert parse_get_request(b"").request_id is None
    assert parse_get_request(b'{"request_id": "g-1"}').request_id == "g-1"
    assert parse_get_request(b"[1]").errors
    assert parse_get_request(b"{nope").errors


def test_state_payload_matches_schema_and_round_trips() -> None:
    """The retained state message validates against its schema and decodes back to the same state."""
    state = ConfigState(
        "ab" * 32, 1_700_000_000.1234, ApplyStatus.REJECTED, (ConfigIssue("model", "Field required"),), "r-9"
    )
    msg = state_message(ConfigTopics("p", "d"), state)
    assert (msg.topic, msg.retain, msg.qos, msg.durable) == ("p/d/config/state", True, 1, False)
    obj = validate_payload("config-state", msg.payload)
    assert obj["errors"] == [{"loc": "model", "msg": "Field required"}]
    decoded = decode_state(msg.payload)
    assert decoded is not None
    assert (decoded.status, decoded.request_id, decoded.errors) == (state.status, "r-9", state.errors)
    assert decode_state(b"not json") is None
    assert decode_state(b'{"schema_version": 99}') is None


def test_current_payload_matches_schema_without_secrets(running: tuple[AgentConfig, RemotePolicy]) -> None:
    """config/current carries the redacted config, the version and the echoed request_id, never retained."""
    cfg, _ = running
    msg = current_message(ConfigTopics("p", "dev1"), redact(cfg), config_version(cfg), "g-2", 1_700_000_000.0)
    assert (msg.topic, msg.retain) == ("p/dev1/config/current", False)
    obj = validate_payload("config-current", msg.payload)
    assert obj["request_id"] == "g-2"
    assert obj["version"] == config_version(cfg)
    assert b"s3cret-pw" not in msg.payload
    assert b"cam-pw" not in msg.payload
