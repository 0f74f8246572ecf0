#!/usr/bin/env bash
# diagnose.bench.sh: wall time of `agent diagnose` as a whole process (read
# smb.conf, smbd --version, processes, sockets, firewall, logs, the full
# probe run, checks, render) against a scratch smbd on loopback, side by
# side with one plain `smbclient -L` and, where nmap is installed, with
# `nmap --script smb-protocols` on the same port. Prints the ratios.
#
# Usage: test/bench/diagnose.bench.sh [RUNS]   (default 20; needs root, smbd, smbclient)
# Uses hyperfine when installed, an interleaved date +%s%N loop otherwise.
# smbd runs in its own process group and temp dir (lib.sh), killed by PID at exit.
set -euo pipefail

RUNS=${1:-20}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_NAME=diagnose-bench
PASS='B3nch!pw-diag'
# shellcheck source=lib.sh
source "$ROOT/test/bench/lib.sh"

bench_start_smbd "$PASS"
bench_agent
export SMB_AGENT_PASSWORD=$PASS
bench_warm

# --config /dev/null: the host's /etc/smb-agent/agent.yaml must not change what is measured.
DIAG="$AGENT_BIN diagnose --config /dev/null --target 127.0.0.1:$PORT --smb-conf $DIR/smb.conf --user root --share data --format json"
PLAIN="smbclient -L //127.0.0.1 -p $PORT -A $DIR/auth"
set +e
$DIAG >"$DIR/diag.json" 2>"$DIR/diag.err"
rc=$?
set -e
[ "$rc" -le 2 ] || bench_die "agent diagnose failed (exit $rc): $(tail -3 "$DIR/diag.err")"
status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$DIR/diag.json")
[ "$status" = ok ] || echo "note: diagnose reports $status (exit $rc) on the scratch smbd; timing it anyway"
# smbd forks a child per TCP connection it accepts: count the connections
# each command opens to the port (strace, when installed).
if command -v strace >/dev/null; then
    count_conns() {
        # shellcheck disable=SC2086 # word splitting of the command line is intended
        strace -f -e trace=connect -o "$DIR/conns" $1 >/dev/null 2>&1 || true
        grep -c "htons($PORT)" "$DIR/conns" || true
    }
    echo "smbd children (connections to port $PORT) per run: agent diagnose $(count_conns "$DIAG"), smbclient -L $(count_conns "$PLAIN")"
else
    echo "strace not installed: smbd children per run not counted"
fi
NAMES=(agent-diagnose smbclient-L)
CMDS=("$DIAG" "$PLAIN")
if command -v nmap >/dev/null; then
    # smb-protocols is a host rule: smbport makes it use our port.
    NMAP="nmap -Pn -n --script smb-protocols --script-args smbport=$PORT -p $PORT 127.0.0.1"
    $NMAP | grep -q 'smb-protocols' || bench_die "nmap smb-protocols found nothing on port $PORT"
    NAMES+=(nmap-smb-protocols); CMDS+=("$NMAP")
else
    echo "nmap not installed (apt-get install nmap): the nmap comparison is skipped"
fi

echo "smbd 127.0.0.1:$PORT, $RUNS runs each; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (shared machine)"
declare -A MEAN MED
if command -v hyperfine >/dev/null; then
    args=()
    for i in "${!NAMES[@]}"; do args+=(-n "${NAMES[$i]}" "${CMDS[$i]}"); done
    # -i: diagnose exits 1 or 2 when it finds something; that is its answer, not a failure.
    hyperfine --style basic -N -i --warmup 2 --runs "$RUNS" --export-json "$DIR/h.json" --output null "${args[@]}" | sed 's/^/  /'
    while read -r name mean med; do MEAN[$name]=$mean; MED[$name]=$med; done < <(bench_hyperfine_means "$DIR/h.json")
else
    declare -A T
    for _ in $(seq 1 "$RUNS"); do
        for i in "${!NAMES[@]}"; do
            t0=$(date +%s%N)
            # shellcheck disable=SC2086 # word splitting of the command lines is intended
            ${CMDS[$i]} >/dev/null 2>&1 || true
            t1=$(date +%s%N)
            T[${NAMES[$i]}]+="$(( t1 - t0 )) "
        done
    done
    for n in "${NAMES[@]}"; do
        read -r MEAN[$n] MED[$n] < <(tr ' ' '\n' <<<"${T[$n]}" | grep . | sort -n | awk '{a[NR]=$1; s+=$1} END{printf "%.2f %.2f\n", s/NR/1e6, a[int((NR+1)/2)]/1e6}')
        printf '  %-22s mean %8s ms  median %8s ms (%d runs, interleaved)\n' "$n" "${MEAN[$n]}" "${MED[$n]}" "$RUNS"
    done
fi

a=${MEAN[agent-diagnose]}; p=${MEAN[smbclient-L]}
echo
printf 'mean (median) wall time: agent diagnose %.1f (%.1f) ms | one smbclient -L %.1f (%.1f) ms' "$a" "${MED[agent-diagnose]}" "$p" "${MED[smbclient-L]}"
[ -n "${MEAN[nmap-smb-protocols]:-}" ] && printf ' | nmap --script smb-protocols %.1f (%.1f) ms' "${MEAN[nmap-smb-protocols]}" "${MED[nmap-smb-protocols]}"
echo
awk -v a="$a" -v p="$p" -v am="${MED[agent-diagnose]}" -v pm="${MED[smbclient-L]}" 'BEGIN{
    printf "ratio agent diagnose / one smbclient -L      = %.2f (median %.2f)\n", a/p, am/pm }'
if [ -n "${MEAN[nmap-smb-protocols]:-}" ]; then
    awk -v a="$a" -v n="${MEAN[nmap-smb-protocols]}" -v am="${MED[agent-diagnose]}" -v nm="${MED[nmap-smb-protocols]}" 'BEGIN{
        printf "ratio agent diagnose / nmap smb-protocols    = %.2f (median %.2f)\n", a/n, am/nm }'
fi
awk -v a="$a" -v p="$p" 'BEGIN{
    if (a < p) print "goal met: diagnose takes less wall time than one plain smbclient -L"
    else print "goal NOT met: diagnose is slower than one plain smbclient -L" }'
