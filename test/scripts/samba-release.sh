#!/usr/bin/env bash
# A Samba release the tests can run without installing it on the host.
#
#   samba-release.sh build   VERSION   build (once) and cache that release's root
#   samba-release.sh bindir  VERSION   build if needed, print the wrappers dir
#   samba-release.sh list              the releases this script knows
#   samba-release.sh clean   VERSION   remove the cached root
#
# VERSION is a Samba release series; each comes from a Debian suite, built by
# `debootstrap --variant=minbase` into /var/cache/smb-agent-samba/<VERSION>
# (SAMBA_RELEASE_CACHE overrides the place):
#   4.13  bullseye                  4.17  bookworm
#   4.22  trixie                    4.24  trixie + trixie-backports
# For a backport the base suite is bootstrapped and the backport installed
# inside it with `apt-get install -t SUITE-backports`.
#
# The packages come from the Debian mirror this machine's apt already uses
# (the first URI in /etc/apt/sources.list{,.d/*} that serves the host's own
# Debian suite); SAMBA_RELEASE_MIRROR overrides it.
#
# How a release is run: <cache>/<VERSION>/bin holds one wrapper per tool
# (testparm smbd smbpasswd smbcontrol smbclient nmbd pdbedit net). The
# first wrapper to run makes a mount namespace for the release, pinned at
# /run/smb-agent-samba/<VERSION>.mnt (so it lasts until reboot, or until
# `clean`), in which the host's /dev /proc /tmp /run and /etc/passwd
# /etc/group /etc/hosts are bind-mounted into the root. Every wrapper then
# execs `nsenter --mount=THAT chroot ROOT` and the tool with a plain PATH:
# no fork, so the PID a test starts is smbd's own and stopping it by PID
# works; a tool the release runs in turn (samba-dcerpcd, smbd's helpers) is
# the release's own, never the wrapper again; the host never sees the
# binds, so removing the cache cannot walk into the host's /tmp. /etc/passwd
# and /etc/group are bind-mounted, not copied, so a user a test creates on
# the host has the same name and uid inside the root at once, with nothing
# to keep in sync. Paths a test hands to a tool (configs, shares, sockets,
# pid files) live under /tmp or /run, the host's own directories; a tool
# started from a working directory under them keeps it, otherwise it runs
# in /.
set -euo pipefail
export LC_ALL=C

CACHE=${SAMBA_RELEASE_CACHE:-/var/cache/smb-agent-samba}
TOOLS=(testparm smbd smbpasswd smbcontrol smbclient nmbd pdbedit net)

die() { echo "samba-release: $*" >&2; exit 1; }

suite_of() {
  case "$1" in
    4.13) echo bullseye ;;
    4.17) echo bookworm ;;
    4.22) echo trixie ;;
    4.24) echo trixie-backports ;;
    *) die "unknown release '$1' (known: 4.13 4.17 4.22 4.24)" ;;
  esac
}

# The mirror serving the host's own Debian suite, read from apt's sources in
# both formats (one-line "deb URI SUITE ..." and deb822 "URIs:/Suites:").
host_mirror() {
  if [ -n "${SAMBA_RELEASE_MIRROR:-}" ]; then echo "$SAMBA_RELEASE_MIRROR"; return; fi
  local codename files
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release; set SAMBA_RELEASE_MIRROR"
  files=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$files" ] || die "no apt sources found; set SAMBA_RELEASE_MIRROR"
  # shellcheck disable=SC2086
  awk -v want="$codename" '
    /^[[:space:]]*#/ { next }
    $1 == "deb" {
      i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i+1) == want) { print $i; exit }
      next
    }
    /^URIs:/   { uri = $2 }
    /^Suites:/ { for (j = 2; j <= NF; j++) if ($j == want && uri != "") { print uri; exit } }
    /^[[:space:]]*$/ { uri = "" }
  ' $files | head -n1 | grep . || die "no apt source serves '$codename'; set SAMBA_RELEASE_MIRROR"
}

# Runs a command inside ROOT with the host binds, as the wrappers do.
in_root() {
  local root=$1; shift
  unshare -m sh -c '
    set -e
    root=$1; shift
    for d in /dev /proc /sys; do mount --rbind "$d" "$root$d"; done
    mount --make-rslave "$root/dev" "$root/proc" "$root/sys" 2>/dev/null || true
    exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
  ' sh "$root" "$@"
}

write_wrappers() {
  local dir=$1 root=$2 ver tool
  ver=$(basename "$dir")
  mkdir -p "$dir/bin"
  cat >"$dir/bin/.enter.tmp" <<EOF
#!/bin/sh
# Sourced by the wrappers of Samba $ver (made by test/scripts/samba-release.sh).
# The root's mounts (the host's /dev /proc /tmp /run, /etc/passwd /etc/group
# /etc/hosts) live in one persistent mount namespace per release, pinned at
# \$ns and made once per boot, so that a tool starts with a single nsenter
# instead of a round of mounts, and the host never sees them (removing the
# cache cannot walk into the host's /tmp).
r=$root
d=/run/smb-agent-samba
ns=\$d/$ver.mnt
if [ ! -e "\$ns.ok" ]; then
  mkdir -p "\$d" || exit 127
  (
    flock 9
    [ -e "\$ns.ok" ] && exit 0
    if ! mountpoint -q "\$d"; then mount --bind "\$d" "\$d" && mount --make-private "\$d" || exit 1; fi
    : >"\$ns"
    unshare --mount="\$ns" sh -c '
      r=\$1
      mount --make-rprivate / &&
      mount --rbind /dev "\$r/dev" && mount --bind /proc "\$r/proc" &&
      mount --bind /tmp "\$r/tmp" && mount --bind /run "\$r/run" &&
      for f in /etc/passwd /etc/group /etc/hosts; do mount --bind "\$f" "\$r\$f" || exit 1; done
    ' sh "\$r" || exit 1
    : >"\$ns.ok"
  ) 9>"\$d/$ver.lock" || { echo "samba $ver: cannot set up the mount namespace \$ns" >&2; exit 127; }
fi
case \$(pwd -P) in
  /tmp|/tmp/*|/run|/run/*) wd=\$(pwd -P) ;;
  *) wd=/ ;;
esac
EOF
  mv -f "$dir/bin/.enter.tmp" "$dir/bin/.enter"
  for tool in "${TOOLS[@]}"; do
    local path=/usr/sbin/$tool
    [ -x "$root$path" ] || path=/usr/bin/$tool
    cat >"$dir/bin/.$tool.tmp" <<EOF
#!/bin/sh
# Runs Samba $ver's $tool from $root (made by test/scripts/samba-release.sh).
if [ "\$(id -u)" != 0 ]; then
  # Entering the root needs root. What a non-root caller may still ask is
  # the version, recorded from this smbd when the root was built.
  case "\$*" in --version|-V) exec cat "$dir/version" ;; esac
  echo "$tool: Samba $ver from $root runs as root only" >&2; exit 126
fi
. "$dir/bin/.enter"
PATH=/usr/sbin:/usr/bin:/sbin:/bin exec nsenter --mount="\$ns" chroot "\$r" /bin/sh -c 'cd "\$0" && exec "\$@"' "\$wd" $path "\$@"
EOF
    chmod 0755 "$dir/bin/.$tool.tmp"
    mv -f "$dir/bin/.$tool.tmp" "$dir/bin/$tool"
  done
}

# Drops the release's persistent mount namespace (the wrappers make a new
# one on their next run): its binds point into the root being replaced.
reset_ns() {
  local ns=/run/smb-agent-samba/$1.mnt
  rm -f "$ns.ok"
  if [ -e "$ns" ]; then umount "$ns" 2>/dev/null || true; rm -f "$ns"; fi
}

build() {
  local ver=$1 suite base dir tmp mirror start
  suite=$(suite_of "$ver")
  base=${suite%-backports}
  dir=$CACHE/$ver
  if [ -f "$dir/ready" ]; then write_wrappers "$dir" "$dir/root"; return 0; fi
  [ "$(id -u)" -eq 0 ] || die "building a release root needs root (debootstrap, chroot)"
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
  command -v unshare >/dev/null || die "unshare is missing: apt-get install util-linux"
  mirror=$(host_mirror)
  mkdir -p "$CACHE"
  # One builder per release at a time; a second caller waits for the first.
  exec 9>"$CACHE/.$ver.lock"
  flock 9
  if [ -f "$dir/ready" ]; then return 0; fi
  start=$(date +%s)
  tmp=$CACHE/.$ver.build
  rm -rf "$tmp"; mkdir -p "$tmp"
  local include=samba,samba-common-bin,smbclient
  [ "$suite" != "$base" ] && include=ca-certificates
  echo "samba-release: debootstrap $base from $mirror into $tmp/root" >&2
  debootstrap --variant=minbase --include="$include" "$base" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap $base failed (log: $tmp/debootstrap.log)"; }
  # Packages must not start services inside the root.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/root/usr/sbin/policy-rc.d"
  chmod 0755 "$tmp/root/usr/sbin/policy-rc.d"
  if [ "$suite" != "$base" ]; then
    echo "deb $mirror $suite main" >"$tmp/root/etc/apt/sources.list.d/backports.list"
    in_root "$tmp/root" apt-get update -q >>"$tmp/debootstrap.log" 2>&1 ||
      die "apt-get update in $base failed (log: $tmp/debootstrap.log)"
    in_root "$tmp/root" apt-get install -y -q --no-install-recommends -t "$suite" \
      samba samba-common-bin smbclient >>"$tmp/debootstrap.log" 2>&1 ||
      { tail -n 20 "$tmp/debootstrap.log" >&2; die "installing samba from $suite failed (log: $tmp/debootstrap.log)"; }
  fi
  in_root "$tmp/root" apt-get clean >/dev/null 2>&1 || true
  # The wrappers bind the host's files over these; a minbase root may lack one.
  for f in /etc/passwd /etc/group /etc/hosts; do [ -e "$tmp/root$f" ] || : >"$tmp/root$f"; done
  reset_ns "$ver"
  rm -rf --one-file-system "$dir"
  mv "$tmp" "$dir"
  write_wrappers "$dir" "$dir/root"
  "$dir/bin/smbd" --version >"$dir/version" || die "the built smbd does not run"
  echo "$suite $(($(date +%s) - start))s" >"$dir/ready"
  echo "samba-release: $ver ($suite): $(cat "$dir/version") built in $(($(date +%s) - start)) s" >&2
}

cmd=${1:-}; ver=${2:-}
case "$cmd" in
  build) [ -n "$ver" ] || die "usage: $0 build VERSION"; build "$ver" ;;
  bindir) [ -n "$ver" ] || die "usage: $0 bindir VERSION"; build "$ver"; echo "$CACHE/$ver/bin" ;;
  list) echo "4.13 4.17 4.22 4.24" ;;
  clean) [ -n "$ver" ] || die "usage: $0 clean VERSION"; suite_of "$ver" >/dev/null; reset_ns "$ver"; rm -rf --one-file-system "${CACHE:?}/$ver" ;;
  mirror) host_mirror ;;
  *) die "usage: $0 build|bindir|clean VERSION | list | mirror" ;;
esac
