#!/usr/bin/env bash
# Makes sure Debian's prometheus package is installed: its promtool checks
# and unit-tests configs/prometheus/, and its prometheus binary is the real
# server the fleet end-to-end test scrapes agents with. Installs it with
# apt-get when running as root; otherwise says what to do (the tests skip,
# except under CI=true, where a missing tool fails them).
set -euo pipefail
missing=()
for b in prometheus promtool; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Prometheus is missing (${missing[*]}) and this is not root: run 'sudo apt-get install -y prometheus'," >&2
  echo "or run make as root. Tests that need it will be skipped (and fail under CI=true)." >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Prometheus is missing (${missing[*]}) and apt-get is not available: install prometheus by hand." >&2
  exit 1
fi
echo "installing prometheus with apt-get (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The package's own service, where an init system starts it, is left
# alone: the tests run their own server on a free loopback port.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
