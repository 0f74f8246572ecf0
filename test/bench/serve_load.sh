#!/bin/bash
# Load test of `agent serve`: thousands of requests a second to
# /metrics, /status and the page at / from a second process on loopback,
# for a bounded time. Passes when there are no error responses, the agent's
# memory stays bounded, and smbd sees one check round per interval, not one
# per request.
#
# Self-contained (needs root and Samba): starts a scratch smbd on a free
# loopback port, a counting TCP relay in front of it, and the agent with a
# config pointing at the relay; cleans everything up on exit.
#
#   AGENT=bin/agent test/bench/serve_load.sh
#
# Or against an agent that is already running (no smbd-side count):
#
#   URL=http://127.0.0.1:9445 PID=$(pidof agent) test/bench/serve_load.sh
#
# Environment:
#   DURATION=30s  CONCURRENCY=32  PATHS=/metrics,/status,/  (/ is the page)
#   INTERVAL=5s   the agent's serve.interval in self-contained mode
#   SERVE_CMD     how to start the daemon; @CONFIG@ @LISTEN@ @TARGET@
#                 @INTERVAL@ @SMBCONF@ are substituted.
#                 Default: "$AGENT serve --config @CONFIG@"
#   KEEP=1        keep the work directory
#
# This file doubles as a library: serve_footprint.sh sources it for the
# scratch setup (functions sl_*).

set -euo pipefail

SL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=smbconf.sh
source "$SL_ROOT/test/bench/smbconf.sh"
export PATH=$PATH:/usr/local/go/bin

SL_DIR=""
SL_PIDS=()          # processes we started, killed in reverse order at exit
SL_SMBD_PORT=""
SL_TARGET=""
SL_HTTP=""
SL_AGENT_PID=""
SL_RELAY_LOG=""

sl_say() { printf '== %s\n' "$*" >&2; }
sl_die() { printf 'serve bench: %s\n' "$*" >&2; exit 1; }

# sl_free_port: a TCP port no socket uses, below the ephemeral range
# (32768+) so that no outgoing connection can take it before we bind.
sl_free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((10000 + RANDOM % 22000))
        if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    sl_die "no free port found"
}

sl_wait_port() { # PORT SECONDS
    local i
    for i in $(seq 1 $(($2 * 10))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

sl_cleanup() {
    local rc=$? i p
    set +e
    for ((i = ${#SL_PIDS[@]} - 1; i >= 0; i--)); do
        p=${SL_PIDS[$i]}
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    if [ -n "$SL_DIR" ]; then
        # samba-dcerpcd and rpcd_* started by our smbd name our smb.conf on
        # their command line: kill exactly those, by PID.
        for f in /proc/[0-9]*/cmdline; do
            p=${f#/proc/}; p=${p%/cmdline}
            if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$SL_DIR/"; then kill -TERM "$p" 2>/dev/null; fi
        done
        if [ "${KEEP:-0}" = 1 ]; then sl_say "kept $SL_DIR"; else rm -rf "$SL_DIR"; fi
    fi
    exit "$rc"
}

# sl_setup: scratch smbd (+ relay when RELAY=1), agent config, agent serve.
sl_setup() {
    [ "$(id -u)" = 0 ] || sl_die "needs root (smbd binds and manages its own passdb)"
    command -v smbd >/dev/null || sl_die "smbd not installed (make samba)"
    local interval=${INTERVAL:-5s}
    SL_DIR=$(mktemp -d /tmp/smbagent-servebench.XXXXXX)
    chmod 0755 "$SL_DIR"
    trap sl_cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$SL_DIR"/{private,lock,state,cache,pid,ncalrpc,log,share}
    chmod 0777 "$SL_DIR/share"

    (cd "$SL_ROOT" && go build -o "$SL_DIR/loadgen" ./test/loadgen) || sl_die "build test/loadgen"

    SL_SMBD_PORT=$(sl_free_port)
    {
        bench_smbconf_global "$SL_DIR" "$SL_SMBD_PORT"
        cat <<EOF
   max log size = 0
   log level = 1
   map to guest = bad user

[share]
   path = $SL_DIR/share
   guest ok = yes
   read only = yes
EOF
    } >"$SL_DIR/smb.conf"
    setsid smbd --foreground --no-process-group -s "$SL_DIR/smb.conf" </dev/null >"$SL_DIR/smbd.out" 2>&1 &
    SL_PIDS+=($!)
    sl_wait_port "$SL_SMBD_PORT" 20 || sl_die "smbd did not listen on $SL_SMBD_PORT: $(tail -5 "$SL_DIR/smbd.out")"
    SL_TARGET=127.0.0.1:$SL_SMBD_PORT

    if [ "${RELAY:-1}" = 1 ]; then
        local rport
        rport=$(sl_free_port)
        SL_RELAY_LOG=$SL_DIR/relay.log
        "$SL_DIR/loadgen" relay -listen "127.0.0.1:$rport" -to "$SL_TARGET" >"$SL_RELAY_LOG" 2>&1 &
        SL_PIDS+=($!)
        sl_wait_port "$rport" 10 || sl_die "relay did not start: $(cat "$SL_RELAY_LOG")"
        SL_TARGET=127.0.0.1:$rport
    fi

    SL_HTTP=127.0.0.1:$(sl_free_port)
    cat >"$SL_DIR/agent.yaml" <<EOF
smb_conf: $SL_DIR/smb.conf
target: $SL_TARGET
share: share
logs:
  paths: [$SL_DIR/log/log.*]
  journal: false
serve:
  listen: $SL_HTTP
  interval: $interval
  jitter: 0.1
EOF
    chmod 0600 "$SL_DIR/agent.yaml"
    local cmd=${SERVE_CMD:-"${AGENT:-$SL_ROOT/bin/agent} serve --config @CONFIG@"}
    cmd=${cmd//@CONFIG@/$SL_DIR/agent.yaml}
    cmd=${cmd//@LISTEN@/$SL_HTTP}
    cmd=${cmd//@TARGET@/$SL_TARGET}
    cmd=${cmd//@INTERVAL@/$interval}
    cmd=${cmd//@SMBCONF@/$SL_DIR/smb.conf}
    sl_say "agent: $cmd"
    # shellcheck disable=SC2086 # the command is split on purpose, no shell
    setsid $cmd </dev/null >"$SL_DIR/agent.out" 2>&1 &
    SL_AGENT_PID=$!
    SL_PIDS+=("$SL_AGENT_PID")
    local i
    for i in $(seq 1 600); do
        if curl -fsS -o /dev/null "http://$SL_HTTP/readyz" 2>/dev/null; then break; fi
        kill -0 "$SL_AGENT_PID" 2>/dev/null || sl_die "agent exited: $(tail -5 "$SL_DIR/agent.out")"
        sleep 0.1
    done
    curl -fsS -o /dev/null "http://$SL_HTTP/readyz" || sl_die "agent not ready after 60 s: $(tail -5 "$SL_DIR/agent.out")"
    sl_say "smbd $SL_SMBD_PORT (pid ${SL_PIDS[0]}), agent http://$SL_HTTP (pid $SL_AGENT_PID), dir $SL_DIR"
}

# sl_conns_between T0 T1: connections the relay forwarded in [T0, T1) (ns),
# and in how many bursts (a gap over 1 s starts a new one: a check round
# opens several connections back to back).
sl_conns_between() {
    awk -v t0="$1" -v t1="$2" '
        $1 == "conn" && $2 >= t0 && $2 < t1 {
            n++; if (last == "" || $2 - last > 1e9) bursts++; last = $2
        }
        END { printf "%d connections in %d bursts\n", n, bursts }' "$SL_RELAY_LOG"
}

sl_seconds() { # "30s" / "2m" / "45" -> seconds
    case "$1" in
        *ms) echo 0 ;;
        *s) echo "${1%s}" ;;
        *m) echo $((${1%m} * 60)) ;;
        *h) echo $((${1%h} * 3600)) ;;
        *) echo "$1" ;;
    esac
}

serve_load_main() {
    local duration=${DURATION:-30s} conc=${CONCURRENCY:-32} paths=${PATHS:-/metrics,/status,/}
    local url pid loadgen
    if [ -n "${URL:-}" ]; then
        url=$URL
        pid=${PID:-0}
        SL_DIR=$(mktemp -d /tmp/smbagent-servebench.XXXXXX)
        trap sl_cleanup EXIT
        (cd "$SL_ROOT" && go build -o "$SL_DIR/loadgen" ./test/loadgen) || sl_die "build test/loadgen"
    else
        sl_setup
        url=http://$SL_HTTP
        pid=$SL_AGENT_PID
    fi
    loadgen=$SL_DIR/loadgen
    sl_say "load: $conc workers, $duration, $paths -> $url"
    local t0 t1 rc=0
    t0=$(date +%s%N)
    "$loadgen" -url "$url" -paths "$paths" -duration "$duration" -concurrency "$conc" -pid "$pid" || rc=$?
    t1=$(date +%s%N)
    if [ -n "$SL_RELAY_LOG" ]; then
        local secs interval
        secs=$(sl_seconds "$duration")
        interval=$(sl_seconds "${INTERVAL:-5s}")
        printf 'smbd saw      %s during the load (interval %ss: expect about %d rounds)\n' \
            "$(sl_conns_between "$t0" "$t1")" "$interval" $((secs / interval))
    fi
    if [ -n "$pid" ] && [ "$pid" != 0 ]; then
        printf 'agent cpu     %s s user+system in total\n' "$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$pid/stat")"
    fi
    return "$rc"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    serve_load_main "$@"
fi
