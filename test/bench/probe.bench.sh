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
# otherwise. smbd runs in its own process group and temp dir (lib.sh); it
# and the samba-dcerpcd it spawns are killed by PID at exit.
set -euo pipefail

RUNS=${1:-20}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PASS='B3nch!pw-probe'

BENCH_NAME=probe-bench
# shellcheck source=lib.sh
source "$ROOT/test/bench/lib.sh"
die() { bench_die "$@"; }

bench_start_smbd "$PASS"
bench_agent
# The password reaches the tools without the command line: SMB_AGENT_PASSWORD
# for the agent, the authentication file lib.sh wrote for smbclient.
export SMB_AGENT_PASSWORD=$PASS

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

# Warm up: the first srvsvc call spawns samba-dcerpcd
# (source3/rpc_client/local_np.c); measure the steady state.
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
