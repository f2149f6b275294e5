#!/usr/bin/env bash
# apt-get "$@", waiting for apt's locks instead of failing at once: a fresh Debian / Raspberry Pi OS
# box runs unattended upgrades right after boot, and they hold the locks for minutes.
# DPkg::Lock::Timeout makes apt-get wait for the dpkg lock, but apt (2.6) still fails at once on
# /var/lib/apt/lists/lock (apt-get update) and /var/cache/apt/archives/lock (install, while
# apt-daily downloads upgrades). So a run that fails with "Could not get lock" is run again every
# APT_LOCK_RETRY_S seconds (default 5) until APT_LOCK_TIMEOUT_S (default 900) have passed.
# Run as root. Used by tools/setup.sh; tested by tests/integration/test_setup_apt.py.
set -euo pipefail

timeout_s=${APT_LOCK_TIMEOUT_S:-900}
retry_s=${APT_LOCK_RETRY_S:-5}
deadline=$((SECONDS + timeout_s))
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
exec 3>&1

run_once() {
  # stdout as is; stderr shown live and kept for the lock check (pipefail keeps apt-get's status)
  apt-get -o DPkg::Lock::Timeout="$timeout_s" "$@" 2>&1 1>&3 | tee "$errors" >&2
}

said=""
while true; do
  status=0
  run_once "$@" || status=$?
  if [ "$status" -eq 0 ]; then
    exit 0
  fi
  lock=$(grep -m1 -o "Could not get lock [^ ]*" "$errors" || true)
  lock=${lock%.}  # apt ends the path with the sentence
  if [ -z "$lock" ] || [ "$SECONDS" -ge "$deadline" ]; then
    exit "$status"
  fi
  if [ "$lock" != "$said" ]; then
    echo "apt-get-wait: another apt process holds the lock (${lock#Could not get lock }); retrying every ${retry_s} s, for up to ${timeout_s} s in all" >&2
    said=$lock
  fi
  sleep "$retry_s"
done
