"""systemd/edge-agent.service: required directives, agreement with the installer, the docs and the
CLI, and (where systemd's tools are installed) systemd-analyze verify/security and systemd-sysusers."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from agent.cli.main import EXIT_CONFIG, build_parser
from agent.publish.credentials import CREDENTIALS_ENV
from tests.support.assets import REPO_ROOT

UNIT = REPO_ROOT / "systemd" / "edge-agent.service"
SYSUSERS = REPO_ROOT / "systemd" / "edge-agent.sysusers.conf"
INSTALLER = REPO_ROOT / "tools" / "install-service.sh"
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
MAX_EXPOSURE = 25  # systemd-analyze security's 0-100 scale; the unit scores 18 ("1.8 OK")
TOOL_TIMEOUT_S = 60

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """Sections -> key -> every value in order (systemd allows repeated keys); comments and blanks skipped."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], defaultdict(list))
            continue
        assert section is not None, f"directive outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line}"
        section[key.strip()].append(value.strip())
    return unit


def installer_constants() -> dict[str, str]:
    """The installer's `readonly NAME=value` constants, with $NAME references expanded."""
    constants: dict[str, str] = {}
    for match in re.finditer(r"^readonly (\w+)=(\S+)$", INSTALLER.read_text(), re.MULTILINE):
        value = re.sub(r"\$(\w+)", lambda ref: constants[ref.group(1)], match.group(2))
        constants[match.group(1)] = value
    return constants


@pytest.fixture(scope="module")
def unit() -> Unit:
    return parse_unit(UNIT.read_text())


def one(unit: Unit, section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key} must be set exactly once, got {values}"
    return values[0]


def words(unit: Unit, section: str, key: str) -> set[str]:
    return {word for value in unit[section].get(key, []) for word in value.split()}


def timespan_s(text: str) -> float:
    """Seconds of a systemd time span such as 30, 30s, 1min 30s, 2min."""
    units = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    assert parts, f"not a time span: {text!r}"
    return sum(float(number) * units[suffix] for number, suffix in parts)


def test_service_speaks_sd_notify_with_a_watchdog(unit: Unit) -> None:
    """Type=notify, only the main process may notify, and a watchdog the supervisor can feed."""
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert 10.0 <= timespan_s(one(unit, "Service", "WatchdogSec")) <= 120.0


def test_restarts_are_budgeted(unit: Unit) -> None:
    """on-failure restarts with a delay, a start limit in [Unit], and no restart on a bad config."""
    assert one(unit, "Service", "Restart") == "on-failure"
    assert timespan_s(one(unit, "Service", "RestartSec")) > 0
    assert int(one(unit, "Unit", "StartLimitBurst")) >= 1
    assert timespan_s(one(unit, "Unit", "StartLimitIntervalSec")) > 0
    assert "StartLimitBurst" not in unit["Service"], "StartLimit* belongs in [Unit]"
    assert str(EXIT_CONFIG) in words(unit, "Service", "RestartPreventExitStatus")
    assert one(unit, "Service", "KillMode") == "mixed"
    assert timespan_s(one(unit, "Service", "TimeoutStopSec")) > 0


def test_runs_as_the_dedicated_user_with_camera_access(unit: Unit) -> None:
    """User= is the account sysusers.conf creates and the installer names; it joins the video group."""
    user = one(unit, "Service", "User")
    declared = [line.split() for line in SYSUSERS.read_text().splitlines() if line.startswith("u ")]
    assert [fields[1] for fields in declared] == [user]
    assert installer_constants()["SERVICE_USER"] == user
    assert "video" in words(unit, "Service", "SupplementaryGroups")
    assert "DynamicUser" not in unit["Service"]


def test_directories_and_credential_match_the_installer(unit: Unit) -> None:
    """StateDirectory, ConfigurationDirectory and LoadCredential name the paths the installer creates."""
    constants = installer_constants()
    assert "/var/lib/" + one(unit, "Service", "StateDirectory") == constants["STATE_DIR"]
    assert "/etc/" + one(unit, "Service", "ConfigurationDirectory") == constants["CONFIG_DIR"]
    name, _, path = one(unit, "Service", "LoadCredential").partition(":")
    assert path == constants["CREDENTIAL"]
    assert f"password_credential: {name}" in DEPLOY_DOC.read_text()
    assert CREDENTIALS_ENV == "CREDENTIALS_DIRECTORY"


def test_execstart_agrees_with_the_installer_the_docs_and_the_cli(unit: Unit) -> None:
    """ExecStart runs the venv's edge-agent on /etc/edge-agent/agent.yaml with arguments the CLI accepts."""
    binary, *args = shlex.split(one(unit, "Service", "ExecStart"))
    constants = installer_constants()
    assert binary == constants["AGENT_BIN"]
    parsed = build_parser().parse_args(args)
    assert (parsed.command, parsed.config) == ("run", constants["CONFIG"])
    doc = DEPLOY_DOC.read_text()
    assert f"{binary} {' '.join(args)}" in doc
    assert constants["VENV"] in doc


def test_sandbox_directives(unit: Unit) -> None:
    """The file system, privileges, sockets and devices are locked down as documented."""
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
        "DevicePolicy": "closed",
        "PrivateDevices": "no",
    }
    assert {key: one(unit, "Service", key) for key in expected} == expected
    families = words(unit, "Service", "RestrictAddressFamilies")
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= families
    assert not [family for family in families if family.startswith("~")], "must be an allow list"
    assert "char-video4linux rw" in unit["Service"]["DeviceAllow"]


def test_installer_is_valid_bash() -> None:
    """bash parses the installer (and shellcheck, where installed, finds nothing)."""
    subprocess.run(["bash", "-n", str(INSTALLER)], check=True, timeout=TOOL_TIMEOUT_S)
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", str(INSTALLER)], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
        assert result.returncode == 0, result.stdout


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (systemd's tools); this check only runs where it is")
    return path


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    """systemd-analyze verify reports no unknown keys or bad values (ExecStart pointed at a stub)."""
    analyze = require_tool("systemd-analyze")
    stub = tmp_path / "edge-agent"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    binary = installer_constants()["AGENT_BIN"]
    copy = tmp_path / "edge-agent.service"
    copy.write_text(UNIT.read_text().replace(f"ExecStart={binary} ", f"ExecStart={stub} "))
    result = subprocess.run(
        [analyze, "verify", "--man=no", "--generators=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert (result.returncode, result.stderr.strip()) == (0, "")


def test_systemd_analyze_security_exposure_stays_low() -> None:
    """The offline security review rates the unit at most MAX_EXPOSURE (of 100)."""
    analyze = require_tool("systemd-analyze")
    result = subprocess.run(
        [analyze, "security", "--offline=true", "--man=no", f"--threshold={MAX_EXPOSURE}", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_sysusers_creates_a_nologin_user_idempotently(tmp_path: Path) -> None:
    """systemd-sysusers, run twice in a scratch root, creates one edge-agent user with no login shell."""
    sysusers = require_tool("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\n")
    for _ in range(2):
        subprocess.run(
            [sysusers, f"--root={tmp_path}", str(SYSUSERS)], check=True, capture_output=True, timeout=TOOL_TIMEOUT_S
        )
    entries = [line.split(":") for line in (tmp_path / "etc" / "passwd").read_text().splitlines()]
    users = [entry for entry in entries if entry[0] == "edge-agent"]
    assert len(users) == 1
    assert (users[0][5], users[0][6]) == (installer_constants()["STATE_DIR"], "/usr/sbin/nologin")
    assert 0 < int(users[0][2]) < 1000
