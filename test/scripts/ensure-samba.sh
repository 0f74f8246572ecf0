#!/usr/bin/env bash
# Makes sure the Samba tools the tests and the demo use are installed:
# smbd, testparm, smbcontrol, smbpasswd (package samba), smbclient and
# python3-impacket (the conformance suite's impacket client).
# Installs them with apt-get when running as root; otherwise says what to do.
set -euo pipefail
missing=()
for b in smbd testparm smbcontrol smbpasswd smbclient; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
# The conformance suite (test/conformance) runs impacket as a real client,
# with Debian's python3 (a python3 earlier on PATH may lack it).
/usr/bin/python3 -c 'import impacket.smbconnection' >/dev/null 2>&1 || missing+=("python3-impacket")
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Samba is missing (${missing[*]}) and this is not root: run 'sudo apt-get install -y samba smbclient'," >&2
  echo "or run make as root. Tests that need a real smbd will be skipped." >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Samba is missing (${missing[*]}) and apt-get is not available: install samba and smbclient by hand." >&2
  exit 1
fi
echo "installing samba, smbclient and python3-impacket with apt-get (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends samba smbclient python3-impacket >/dev/null
# The Debian package starts smbd/nmbd where an init system runs; the agent's
# tests start their own smbd on free loopback ports, so the system one is
# left alone either way.
