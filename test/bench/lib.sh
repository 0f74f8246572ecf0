# lib.sh: sourced by the *.bench.sh scripts. Starts a scratch smbd on a free
# loopback port in its own temp dir and process group, and cleans up at exit
# (smbd by its process group, samba-dcerpcd and rpcd_* by the PIDs whose
# command line names our config, then the temp dir).
#
#   bench_start_smbd PASSWORD [EXTRA_GLOBAL_LINES]
#     sets DIR, PORT, SMBD_PID, writes $DIR/auth (smbclient -A file for root)
#   bench_agent      sets AGENT_BIN ($AGENT from make bench, or a fresh build)
#   bench_warm       one smbclient -L so samba-dcerpcd is up before timing
#
# Needs root (smbd manages its own passdb), smbd, smbpasswd, smbclient, ss.

# shellcheck source=smbconf.sh
source "$(dirname "${BASH_SOURCE[0]}")/smbconf.sh"

bench_die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

DIR=
SMBD_PID=
bench_cleanup() {
    set +e
    if [ -n "$SMBD_PID" ]; then
        kill -TERM -- "-$SMBD_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$SMBD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$SMBD_PID" 2>/dev/null
    fi
    if [ -n "$DIR" ]; then
        # samba-dcerpcd and rpcd_* detach from smbd; find them by their config path.
        for f in /proc/[0-9]*/cmdline; do
            p=${f#/proc/}; p=${p%/cmdline}
            { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "--configfile=$DIR/" && kill -KILL "$p" 2>/dev/null
        done
        rm -rf "$DIR"
    fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_start_smbd() {
    local pass=$1 extra=${2:-} p
    [ "$(id -u)" = 0 ] || bench_die "needs root (smbd manages its own passdb)"
    for b in smbd smbpasswd smbclient ss; do command -v "$b" >/dev/null || bench_die "missing $b"; done
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/${BENCH_NAME:-bench}.XXXXXX")
    chmod 0755 "$DIR"
    PORT=
    for _ in $(seq 1 50); do
        p=$(( 20000 + RANDOM % 40000 ))
        if [ -z "$(ss -Hltn "sport = :$p")" ]; then PORT=$p; break; fi
    done
    [ -n "$PORT" ] || bench_die "no free port"
    mkdir -p "$DIR/share"
    chmod 0777 "$DIR/share"
    echo "bench file" >"$DIR/share/hello.txt"
    {
        bench_smbconf_global "$DIR" "$PORT"
        printf '   log level = 0\n%s\n[data]\n   path = %s/share\n   read only = no\n' "$extra" "$DIR"
    } >"$DIR/smb.conf"
    printf '%s\n%s\n' "$pass" "$pass" | smbpasswd -c "$DIR/smb.conf" -s -a root >/dev/null
    # setsid: a --no-process-group smbd signals its whole process group on
    # SIGTERM (source3/smbd/server.c); it must not be ours.
    setsid smbd --foreground --no-process-group -s "$DIR/smb.conf" -l "$DIR/log" >"$DIR/smbd.out" 2>&1 &
    SMBD_PID=$!
    for _ in $(seq 1 100); do
        [ -n "$(ss -Hltn "sport = :$PORT")" ] && break
        sleep 0.1
    done
    [ -n "$(ss -Hltn "sport = :$PORT")" ] || { cat "$DIR/smbd.out"; bench_die "smbd did not start"; }
    printf 'username = root\npassword = %s\n' "$pass" >"$DIR/auth"
    chmod 0600 "$DIR/auth"
}

bench_agent() {
    AGENT_BIN=${AGENT:-}
    if [ -z "$AGENT_BIN" ] || [ ! -x "$AGENT_BIN" ]; then
        echo "building agent..."
        (cd "$ROOT" && go build -o "$DIR/agent" ./cmd/agent) || bench_die "build failed"
        AGENT_BIN=$DIR/agent
    fi
}

# The first srvsvc call spawns samba-dcerpcd (STATUS_PENDING interim
# replies while it starts, source3/rpc_client/local_np.c): measure the
# steady state.
bench_warm() { smbclient -L "//127.0.0.1" -p "$PORT" -A "$DIR/auth" >/dev/null 2>&1 || true; }

# bench_hyperfine_means JSON: prints "name mean_ms median_ms" per command.
bench_hyperfine_means() {
    python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]: print(r["command"], r["mean"]*1000, r["median"]*1000)' "$1"
}
