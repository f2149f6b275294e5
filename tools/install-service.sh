#!/usr/bin/env bash
# Installs (or upgrades) edge-vision-agent as the systemd service edge-agent.service on
# Debian / Raspberry Pi OS (64-bit). Run as root from a checkout:
#
#   sudo tools/install-service.sh [--enable] [--restart] [--extras metrics] [--python python3]
#
# Creates the edge-agent system user, a venv at /opt/edge-agent/.venv holding the agent
# (installed from a copy in /opt/edge-agent/src: the checkout may be deleted), the unit, and
# /etc/edge-agent with a config template and an empty credential file; never overwrites
# an existing config or credential. Idempotent: running it again upgrades the package.
# It reads no config values: nothing from the agent's config reaches this shell.
# docs/deploy.md describes the result.
set -euo pipefail

readonly SERVICE=edge-agent
readonly SERVICE_USER=edge-agent
readonly PREFIX=/opt/edge-agent
readonly VENV=$PREFIX/.venv
readonly APP_SRC=$PREFIX/src
readonly AGENT_BIN=$VENV/bin/edge-agent
readonly CONFIG_DIR=/etc/edge-agent
readonly CONFIG=$CONFIG_DIR/agent.yaml
readonly CREDENTIAL=$CONFIG_DIR/mqtt-password
readonly STATE_DIR=/var/lib/edge-agent
readonly UNIT_PATH=/etc/systemd/system/$SERVICE.service
readonly SYSUSERS_PATH=/etc/sysusers.d/$SERVICE.conf
readonly MIN_PYTHON=3.11

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly SRC

usage() {
  cat <<EOF
usage: sudo $0 [--enable] [--restart] [--extras LIST] [--python PYTHON]

  --enable        systemctl enable --now $SERVICE (only once the config passes check-config)
  --restart       restart $SERVICE if it is running, to load an upgraded package
  --extras LIST   optional dependency groups to install, comma-separated (e.g. metrics)
  --python PATH   interpreter for a new venv (default python3; needs >= $MIN_PYTHON)
EOF
}

log() { echo "install-service: $*" >&2; }
die() { log "error: $*"; exit 1; }

ENABLE=0
RESTART=0
EXTRAS=""
PYTHON=python3
while [ $# -gt 0 ]; do
  case "$1" in
    --enable) ENABLE=1 ;;
    --restart) RESTART=1 ;;
    --extras) [ $# -ge 2 ] || die "--extras needs a value"; EXTRAS=$2; shift ;;
    --python) [ $# -ge 2 ] || die "--python needs a value"; PYTHON=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
case "$EXTRAS" in
  *[!a-z0-9,_-]*) die "--extras takes names like 'metrics' or 'metrics,other', got '$EXTRAS'" ;;
esac

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
command -v systemctl >/dev/null || die "systemctl not found: this installer needs systemd"
if [ ! -f "$SRC/pyproject.toml" ] || [ ! -f "$SRC/systemd/$SERVICE.service" ]; then
  die "$SRC is not an edge-vision-agent checkout"
fi

create_user() {
  if command -v systemd-sysusers >/dev/null; then
    install -D -m 0644 "$SRC/systemd/$SERVICE.sysusers.conf" "$SYSUSERS_PATH"
    systemd-sysusers "$SYSUSERS_PATH"
  elif ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "edge-vision-agent service" "$SERVICE_USER"
  fi
  getent passwd "$SERVICE_USER" >/dev/null || die "could not create the user $SERVICE_USER"
  # PCIe Coral: the gasket driver's udev rule gives /dev/apex_0 to the group "apex", which
  # only exists once Coral's setup created it (see docs/deploy.md).
  if getent group apex >/dev/null && [[ " $(id -nG "$SERVICE_USER") " != *" apex "* ]]; then
    usermod -a -G apex "$SERVICE_USER"
    log "added $SERVICE_USER to the group apex (PCIe Coral)"
  fi
}

install_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found; pass --python /path/to/python$MIN_PYTHON"
    "$PYTHON" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$MIN_PYTHON'.split('.'))))" \
      || die "$PYTHON is $("$PYTHON" -V 2>&1); the agent needs Python >= $MIN_PYTHON"
    if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then
      log "installing python3-venv"
      bash "$SRC/tools/apt-get-wait.sh" update -q >&2  # waits while unattended upgrades hold apt's locks
      DEBIAN_FRONTEND=noninteractive bash "$SRC/tools/apt-get-wait.sh" install -y -q --no-install-recommends \
        python3-venv >&2
    fi
    log "creating $VENV"
    install -d -m 0755 "$PREFIX"
    "$PYTHON" -m venv "$VENV"
  fi
  stage_source
  local target=$APP_SRC
  if [ -n "$EXTRAS" ]; then
    target="${APP_SRC}[${EXTRAS}]"
  fi
  log "installing the agent from $APP_SRC into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-cache-dir --upgrade --editable "$target" >&2
  # The unit sets PYTHONDONTWRITEBYTECODE and /opt is read-only to the service: compile now.
  "$VENV/bin/python" -m compileall -q "$APP_SRC/agent" >/dev/null
  [ -x "$AGENT_BIN" ] || die "$AGENT_BIN is missing after pip install"
}

# The model catalogue (models/catalog.yaml and its label files) is found beside the agent
# package, so the agent runs from a root-owned copy of the source: an editable install of
# $APP_SRC. The checkout can then be deleted, and no root-owned build files land in it.
stage_source() {
  local staging=$APP_SRC.new
  rm -rf "$staging"
  install -d -m 0755 "$staging"
  tar -C "$SRC" --exclude=__pycache__ -cf - pyproject.toml README.md agent models \
    | tar -C "$staging" --no-same-owner --no-same-permissions -xf -
  rm -rf "$APP_SRC"
  mv "$staging" "$APP_SRC"
}

install_files() {
  install -D -m 0644 "$SRC/systemd/$SERVICE.service" "$UNIT_PATH"
  install -d -m 0755 -o root -g root "$CONFIG_DIR"
  if [ ! -e "$CONFIG" ]; then
    install -m 0640 -o root -g "$SERVICE_USER" "$SRC/config/agent.example.yaml" "$CONFIG"
    log "wrote the template $CONFIG: edit it (device_id, mqtt, model, cameras) before enabling"
  fi
  # LoadCredential= fails the start when its file is missing; an empty file is harmless
  # until mqtt.password_credential names it.
  if [ ! -e "$CREDENTIAL" ]; then
    install -m 0600 -o root -g root /dev/null "$CREDENTIAL"
  fi
  # systemd creates it too (StateDirectory=); made here so `models pull` works before the first start.
  install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
}

check_config() {
  if ! runuser -u "$SERVICE_USER" -- test -r "$CONFIG"; then
    log "warning: $SERVICE_USER cannot read $CONFIG; fix with: chgrp $SERVICE_USER $CONFIG && chmod 0640 $CONFIG"
    return 1
  fi
  # From /: the service user may not be allowed into the directory this script was run from.
  (cd / && runuser -u "$SERVICE_USER" -- "$AGENT_BIN" check-config "$CONFIG" >&2)
}

was_active=0
systemctl is-active --quiet "$SERVICE" && was_active=1
create_user
install_venv
install_files
systemctl daemon-reload
config_ok=1
check_config || config_ok=0

if [ "$ENABLE" -eq 1 ]; then
  [ "$config_ok" -eq 1 ] || die "not enabling $SERVICE: fix $CONFIG first (edge-agent check-config $CONFIG)"
  systemctl enable --now "$SERVICE"
  log "enabled and started $SERVICE; follow it with: journalctl -u $SERVICE -f"
fi
if [ "$RESTART" -eq 1 ]; then
  systemctl try-restart "$SERVICE"
  log "restarted $SERVICE if it was running"
elif [ "$was_active" -eq 1 ]; then
  log "$SERVICE is running the previous version; load this one with: systemctl restart $SERVICE"
fi
if [ "$ENABLE" -eq 0 ] && ! systemctl is-enabled --quiet "$SERVICE" 2>/dev/null; then
  log "installed; when $CONFIG is ready: systemctl enable --now $SERVICE"
fi
