"""Bad configs: every error names the file, the exact line and the dotted field path."""

from __future__ import annotations

import pytest

from agent.config.loader import ParseLimits, load_config_text
from agent.errors import ConfigError
from tests.support.config_text import MINIMAL_CONFIG, SOURCE

BASE = MINIMAL_CONFIG  # lines 1-6; cases append from line 7 or replace lines

ALIAS_BOMB = (
    BASE
    + "x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    + "".join(f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
)

CASES: list[tuple[str, str | bytes, int, str]] = [
    # (id, document, expected line, expected "dotted.path: message" fragment)
    ("wrong-type", BASE + "    detect_fps: fast\n", 7, "cameras.front.detect_fps: Input should be a valid number"),
    ("unknown-top-key", BASE + "colour: red\n", 7, "colour: Extra inputs are not permitted"),
    (
        "unknown-nested-key",
        BASE + "mqtt:\n  port: 1883\n  hots: broker\n",
        9,
        "mqtt.hots: Extra inputs are not permitted",
    ),
    ("missing-required-top", "device_id: dev1\ncameras:\n  front: {source: a.avi}\n", 1, "model: Field required"),
    (
        "missing-required-nested",
        BASE.replace("    source: /dev/video0\n", "    loop: true\n"),
        5,
        "cameras.front.source: Field required",
    ),
    ("out-of-range", BASE + "mqtt:\n  port: 70000\n", 8, "mqtt.port: Input should be less than or equal to 65535"),
    (
        "bad-camera-name",
        BASE + "  front door:\n    source: b.avi\n",
        7,
        "cameras.front door.[key]: String should match",
    ),
    ("bad-device-id", BASE.replace("dev1", "dev/1"), 1, "device_id: String should match pattern"),
    (
        "password-and-file",
        BASE + "mqtt:\n  password: secret\n  username: u\n  password_file: /run/pw\n",
        10,
        "mqtt: give at most one of password, password_file",
    ),
    (
        "cert-without-key",
        BASE + "mqtt:\n  tls:\n    enabled: true\n    cert_file: /etc/c.pem\n",
        10,
        "mqtt.tls: cert_file and key_file must be given together",
    ),
    (
        "camera-backoff-order",
        BASE + "    reconnect_initial_s: 5\n    reconnect_max_s: 1\n",
        8,
        "cameras.front: reconnect_max_s must be >= reconnect_initial_s",
    ),
    (
        "empty-cameras",
        "device_id: dev1\nmodel: {path: m}\ncameras: {}\n",
        3,
        "cameras: at least one camera is required",
    ),
    ("bad-model-kind", BASE.replace("  path:", "  kind: resnet\n  path:"), 3, "model.kind: Input should be 'auto'"),
    (
        "list-item-type",
        BASE + "    objects:\n      - person\n      - [car]\n",
        9,
        "cameras.front.objects.1: Input should be a valid string",
    ),
    ("yaml-syntax", BASE + "    loop: true\n   realtime: false\n", 8, "invalid YAML"),
    ("unclosed-flow", BASE + "    objects: [person, car\n", 8, "invalid YAML"),
    ("tab-indent", BASE + "\tloop: true\n", 7, "invalid YAML: found character '\\t' that cannot start any token"),
    ("top-level-list", "- device_id: dev1\n- cameras: {}\n", 1, "the top level must be a mapping, got list"),
    ("top-level-scalar", "\n\njust text\n", 3, "the top level must be a mapping, got str"),
    ("empty-document", "# nothing here\n", 1, "the document is empty"),
    ("oversize", BASE + "# padding\n" * 30_000, 7 + (262_144 - len(BASE)) // 10, "bytes; the limit is 262144"),
    ("alias-bomb", ALIAS_BOMB, 11, "x4: more than 50000 YAML nodes, counting every alias expansion"),
    (
        "python-tag",
        BASE.replace("source: /dev/video0", "source: !!python/object/apply:os.system ['id']"),
        6,
        "cameras.front.source: invalid YAML: could not determine a constructor for the tag",
    ),
    ("depth-bomb", BASE + "deep: " + "[" * 40 + "]" * 40 + "\n", 7, "nesting deeper than 32 levels"),
    ("recursion-bomb", BASE + "deep: " + "[" * 50_000 + "\n", 7, "nesting deeper than 32 levels"),
    ("non-utf8", BASE.encode() + b"name: caf\xe9\n", 7, "not UTF-8 text"),
    ("duplicate-key", BASE + "    source: /dev/video1\n", 7, "cameras.front.source: duplicate key"),
]


@pytest.mark.parametrize(("document", "line", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_names_line_and_field(document: str | bytes, line: int, fragment: str) -> None:
    """Each bad config raises ConfigError with a `cfg.yaml:LINE: ...fragment` line."""
    with pytest.raises(ConfigError) as caught:
        load_config_text(document, source=SOURCE)
    errors = caught.value.errors
    assert any(e.startswith(f"{SOURCE}:{line}: ") and fragment in e for e in errors), errors


def test_every_error_is_reported_sorted_by_line() -> None:
    """Several independent mistakes are all reported, one line each, in file order."""
    document = BASE + "    detect_fps: 0\n    ring_slots: 1\nmqtt:\n  port: 0\nlog_level: LOUD\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(document, source=SOURCE)
    errors = caught.value.errors
    assert [e.split(": ", 2)[:2] for e in errors] == [
        [f"{SOURCE}:7", "cameras.front.detect_fps"],
        [f"{SOURCE}:8", "cameras.front.ring_slots"],
        [f"{SOURCE}:10", "mqtt.port"],
        [f"{SOURCE}:11", "log_level"],
    ]


def test_node_limit_is_configurable() -> None:
    """A plain document bigger than max_nodes is refused with the line where the limit was passed."""
    document = BASE + "    objects:\n" + "".join(f"      - l{i}\n" for i in range(20))
    with pytest.raises(ConfigError, match=r"^cfg\.yaml:7: cameras\.front\.objects: more than 10 YAML nodes"):
        load_config_text(document, source=SOURCE, limits=ParseLimits(max_nodes=10))


def test_valid_base_config_loads() -> None:
    """The base document of the table is itself valid, so each case fails for its own reason."""
    cfg = load_config_text(BASE, source=SOURCE)
    assert cfg.cameras["front"].source == "/dev/video0"
