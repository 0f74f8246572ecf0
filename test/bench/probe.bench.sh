#!/usr/bin/env bash
# probe.bench.sh: wall time of one full `agent probe` run (TCP, pysmb's SMB1
# offer, NT1, every SMB2/3 dialect with a login at each, the all-dialect
# negotiate, login, guest-mapping check, IPC$, srvsvc share listing, share
# tree connect and listing) against a scratch smbd on loopback, side by side
# with the same work done by smbclient -L once per dialect, and with one
# plain smbclient -L. Prints the ratios.
#
# Usage: test/bench/probe.bench.sh [RUNS]   (default 20; needs root, smbd, smbclient)
# Uses hyperfine when installed (apt-get install hyperfine), a date +%s%N loop
# otherwise. Everything lives in a temp dir that is removed at exit; smbd and
# the samba-dcerpcd it spawns are killed by PID.
set -euo pipefail

RUNS=${1:-20}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PASS='B3nch!pw-probe'

die() { echo "probe.bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (smbd manages its own passdb)"
for b in smbd smbpasswd smbclient go ss; do command -v "$b" >/dev/null || die "missing $b"; done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/probe-bench.XXXXXX")
chmod 0755 "$DIR"
SMBD_PID=
cleanup() {
    set +e
    if [ -n "$SMBD_PID" ]; then
        kill -TERM -- "-$SMBD_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$SMBD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$SMBD_PID" 2>/dev/null
    fi
    # samba-dcerpcd and rpcd_* detach from smbd; find them by their config path.
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}; p=${p%/cmdline}
        { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "--configfile=$DIR/" && kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port.
PORT=
for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if [ -z "$(ss -Hltn "sport = :$p")" ]; then PORT=$p; break; fi
done
[ -n "$PORT" ] || die "no free port"

mkdir -p "$DIR"/{private,lock,state,cache,pid,ncalrpc,log,share}
chmod 0777 "$DIR/share"
echo "bench file" >"$DIR/share/hello.txt"
cat >"$DIR/smb.conf" <<CONF
[global]
   workgroup = BENCH
   netbios name = BENCHSRV
   server role = standalone server
   smb ports = $PORT
   interfaces = lo
   bind interfaces only = yes
   disable netbios = yes
   private dir = $DIR/private
   lock directory = $DIR/lock
   state directory = $DIR/state
   cache directory = $DIR/cache
   pid directory = $DIR/pid
   ncalrpc dir = $DIR/ncalrpc
   log file = $DIR/log/log.%m
   passdb backend = tdbsam:$DIR/private/passdb.tdb
   load printers = no
   printing = bsd
   printcap name = /dev/null
   log level = 0
[data]
   path = $DIR/share
   read only = no
CONF
printf '%s\n%s\n' "$PASS" "$PASS" | smbpasswd -c "$DIR/smb.conf" -s -a root >/dev/null

# make bench passes the built binary as $AGENT; otherwise build one here.
AGENT_BIN=${AGENT:-}
if [ -z "$AGENT_BIN" ] || [ ! -x "$AGENT_BIN" ]; then
    echo "building agent..."
    (cd "$ROOT" && go build -o "$DIR/agent" ./cmd/agent)
    AGENT_BIN=$DIR/agent
fi

# setsid: a --no-process-group smbd signals its whole process group on
# SIGTERM (source3/smbd/server.c); it must not be ours.
setsid smbd --foreground --no-process-group -s "$DIR/smb.conf" -l "$DIR/log" >"$DIR/smbd.out" 2>&1 &
SMBD_PID=$!
for _ in $(seq 1 100); do
    [ -n "$(ss -Hltn "sport = :$PORT")" ] && break
    sleep 0.1
done
[ -n "$(ss -Hltn "sport = :$PORT")" ] || { cat "$DIR/smbd.out"; die "smbd did not start"; }

# The password reaches the tools without the command line: SMB_AGENT_PASSWORD
# for the agent, an authentication file for smbclient.
export SMB_AGENT_PASSWORD=$PASS
printf 'username = root\npassword = %s\n' "$PASS" >"$DIR/auth"
chmod 0600 "$DIR/auth"

AGENT_CMD="$AGENT_BIN probe --target 127.0.0.1:$PORT --user root --share data"
PLAIN="smbclient -L //127.0.0.1 -p $PORT -A $DIR/auth"
PERDIALECT="$DIR/per-dialect.sh"
cat >"$PERDIALECT" <<SH
#!/bin/bash
# The agent's dialect sweep done with smbclient: one -L per dialect (NT1 is
# refused by a default 4.17 server, as in the agent's run).
for d in NT1 SMB2_02 SMB2_10 SMB3_00 SMB3_02 SMB3_11; do
    smbclient -L //127.0.0.1 -p $PORT -A $DIR/auth -m \$d --option="client min protocol=\$d" >/dev/null 2>&1
done
exit 0
SH
chmod +x "$PERDIALECT"

# Warm up: the first srvsvc call spawns samba-dcerpcd (research C4.2);
# measure the steady state.
$PLAIN >/dev/null 2>&1 || true
$AGENT_CMD >/dev/null || die "agent probe failed against the scratch smbd: $($AGENT_CMD 2>&1 | tail -5)"

echo "smbd 127.0.0.1:$PORT, $RUNS runs each; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
declare -A MEAN
if command -v hyperfine >/dev/null; then
    hyperfine --style basic -N --warmup 2 --runs "$RUNS" --export-json "$DIR/h.json" \
        -n agent-probe "$AGENT_CMD" -n smbclient-L "$PLAIN" -n smbclient-L-per-dialect "$PERDIALECT" | sed 's/^/  /'
    while read -r name mean; do MEAN[$name]=$mean; done < <(
        python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]: print(r["command"], r["mean"]*1000)' "$DIR/h.json")
else
    # Interleaved: each round runs the three once, so that load from other
    # processes on this shared machine falls on all three alike.
    declare -A TOTAL=([agent-probe]=0 [smbclient-L]=0 [smbclient-L-per-dialect]=0)
    timed() { # NAME CMD...: add the wall ns of one run to TOTAL[NAME]
        local name=$1 t0 t1; shift
        t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
        TOTAL[$name]=$(( ${TOTAL[$name]} + t1 - t0 ))
    }
    for _ in $(seq 1 "$RUNS"); do
        # shellcheck disable=SC2086 # word splitting of the command lines is intended
        timed agent-probe $AGENT_CMD
        # shellcheck disable=SC2086
        timed smbclient-L $PLAIN
        timed smbclient-L-per-dialect "$PERDIALECT"
    done
    for name in agent-probe smbclient-L smbclient-L-per-dialect; do
        MEAN[$name]=$(awk -v t="${TOTAL[$name]}" -v n="$RUNS" 'BEGIN{printf "%.2f", t/n/1e6}')
        printf '  %-26s %8s ms (mean of %d, interleaved)\n' "$name" "${MEAN[$name]}" "$RUNS"
    done
fi

a=${MEAN[agent-probe]}; p=${MEAN[smbclient-L]}; d=${MEAN[smbclient-L-per-dialect]}
echo
printf 'mean wall time: agent probe %.1f ms | one smbclient -L %.1f ms | smbclient -L per dialect (6) %.1f ms\n' "$a" "$p" "$d"
awk -v a="$a" -v p="$p" -v d="$d" 'BEGIN{
    printf "ratio agent probe / one smbclient -L       = %.2f\n", a/p
    printf "ratio agent probe / smbclient -L per dialect = %.2f\n", a/d
    if (a < p) print "goal met: the whole probe run costs less wall time than one plain smbclient -L"
    else print "goal NOT met: the probe run is slower than one plain smbclient -L"
}'
