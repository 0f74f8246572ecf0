#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the status page's end-to-end
# test (test/page_e2e_test.go) drives it headless. Installs it with apt-get
# when running as root; otherwise says what to do. In CI the test fails
# without it, so this runs first.
set -euo pipefail
for b in chromium chromium-browser; do
  command -v "$b" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing and this is not root: run 'sudo apt-get install -y chromium'," >&2
  echo "or run make as root. The browser test of the status page will be skipped (it fails in CI)." >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and apt-get is not available: install chromium by hand." >&2
  exit 1
fi
echo "installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
