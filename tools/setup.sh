#!/usr/bin/env bash
# Installs everything the agent, its demo and its tests need on a fresh Debian /
# Raspberry Pi OS machine: system packages (mosquitto, GStreamer RTSP server for
# the RTSP tests) and a venv at .venv with the agent installed in editable mode.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  mosquitto mosquitto-clients openssl
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  chromium  # the web page tests drive Debian's browser through Playwright (no browser download)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # apt-get-wait.sh: unattended upgrades hold apt's locks for minutes after a fresh boot.
  # env, not a prefix: sudo drops the caller's environment.
  $SUDO bash tools/apt-get-wait.sh update -q >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive bash tools/apt-get-wait.sh install -y -q --no-install-recommends \
    "${missing[@]}" >&2
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.edge-agent-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the agent and its dev dependencies into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check -e ".[dev,onnx,recognition,web]" >&2
  # norfair (a peer tracker in the tracking benchmark) pins numpy<2, which would downgrade numpy and
  # OpenCV for the whole venv; it runs on numpy 2 (checked by the tracking evaluation), so it comes
  # without its pins, its dependencies being in [dev].
  .venv/bin/pip install -q --disable-pip-version-check --no-deps "norfair>=2.2,<3" >&2
  touch "$stamp"
fi
