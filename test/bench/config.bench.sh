#!/usr/bin/env bash
# config.bench.sh: `agent config dump` against `testparm -s` on a generated
# 1,000-share, ~15,000-line smb.conf with includes (test/bench/genconf.sh),
# both timed as whole processes side by side. Also times the agent with
# --samba-version given, which skips the `smbd --version` child the agent
# would run to pick its defaults (cached per installed binary, so the two
# should match), and `agent version`, the floor of any agent process.
# Checks first that both print the same bytes. Prints the ratios.
#
# Usage: test/bench/config.bench.sh [RUNS]   (default 30; needs testparm, smbd)
# Uses hyperfine when installed, an interleaved date +%s%N loop otherwise.
# Everything lives in a temp dir that is removed at exit.
set -euo pipefail

RUNS=${1:-30}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() { echo "config.bench: $*" >&2; exit 1; }
for b in testparm smbd go; do command -v "$b" >/dev/null || die "missing $b"; done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/config-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
trap 'exit 130' INT TERM

AGENT_BIN=${AGENT:-}
if [ -z "$AGENT_BIN" ] || [ ! -x "$AGENT_BIN" ]; then
    echo "building agent..."
    # The flags of `make build` (Makefile LDFLAGS): the figures are for the
    # binary that is installed, not a debug build.
    (cd "$ROOT" && go build -trimpath -ldflags "-s -w" -o "$DIR/agent" ./cmd/agent)
    AGENT_BIN=$DIR/agent
fi

CONF=$DIR/conf
lines=$(bash "$ROOT/test/bench/genconf.sh" "$CONF" 1000)
cd "$CONF" # the relative includes resolve against the cwd, for both tools
VER=$(smbd --version | sed -n 's/^Version //p')

testparm -s smb.conf >"$DIR/testparm.out" 2>/dev/null || die "testparm failed on the generated config"
"$AGENT_BIN" config dump --smb-conf smb.conf >"$DIR/agent.out" 2>/dev/null || die "agent config dump failed"
cmp -s "$DIR/testparm.out" "$DIR/agent.out" || die "outputs differ: $(diff "$DIR/testparm.out" "$DIR/agent.out" | head -5)"
shares=$(grep -c '^\[share' "$DIR/agent.out")
echo "config: $lines lines, $shares shares, $(ls shares | wc -l) include files; outputs identical ($(wc -l <"$DIR/agent.out") lines)"
echo "$RUNS runs each; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (shared machine)"

TP="testparm -s smb.conf"
AG="$AGENT_BIN config dump --smb-conf smb.conf"
AGV="$AGENT_BIN config dump --smb-conf smb.conf --samba-version $VER"
NAMES=(testparm agent-dump agent-dump-samba-version agent-start)
declare -A MEAN MED
if command -v hyperfine >/dev/null; then
    hyperfine --style basic -N --warmup 3 --runs "$RUNS" --export-json "$DIR/h.json" --output null \
        -n testparm "$TP" -n agent-dump "$AG" -n agent-dump-samba-version "$AGV" \
        -n agent-start "$AGENT_BIN version" | sed 's/^/  /'
    while read -r name mean med; do MEAN[$name]=$mean; MED[$name]=$med; done < <(
        python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]: print(r["command"], r["mean"]*1000, r["median"]*1000)' "$DIR/h.json")
else
    declare -A T
    for n in "${NAMES[@]}"; do T[$n]=; done
    timed() { local name=$1 t0 t1; shift; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N); T[$name]+="$(( t1 - t0 )) "; }
    for _ in $(seq 1 "$RUNS"); do
        # shellcheck disable=SC2086 # word splitting of the command lines is intended
        { timed testparm $TP; timed agent-dump $AG; timed agent-dump-samba-version $AGV; timed agent-start "$AGENT_BIN" version; }
    done
    for n in "${NAMES[@]}"; do
        read -r MEAN[$n] MED[$n] < <(tr ' ' '\n' <<<"${T[$n]}" | grep . | sort -n | awk '{a[NR]=$1; s+=$1} END{printf "%.2f %.2f\n", s/NR/1e6, a[int((NR+1)/2)]/1e6}')
        printf '  %-26s mean %8s ms  median %8s ms (%d runs, interleaved)\n' "$n" "${MEAN[$n]}" "${MED[$n]}" "$RUNS"
    done
fi

echo
printf 'mean (median) wall time: testparm -s %.1f (%.1f) ms | agent config dump %.1f (%.1f) ms | with --samba-version %.1f (%.1f) ms | agent version (process start) %.1f (%.1f) ms\n' \
    "${MEAN[testparm]}" "${MED[testparm]}" "${MEAN[agent-dump]}" "${MED[agent-dump]}" \
    "${MEAN[agent-dump-samba-version]}" "${MED[agent-dump-samba-version]}" "${MEAN[agent-start]}" "${MED[agent-start]}"
awk -v t="${MEAN[testparm]}" -v a="${MEAN[agent-dump]}" -v st="${MEAN[agent-start]}" -v v="${MEAN[agent-dump-samba-version]}" \
    -v tm="${MED[testparm]}" -v am="${MED[agent-dump]}" -v vm="${MED[agent-dump-samba-version]}" 'BEGIN{
    printf "speedup testparm / agent config dump                  = %.2fx (median %.2fx)\n", t/a, tm/am
    printf "speedup testparm / agent config dump --samba-version  = %.2fx (median %.2fx)\n", t/v, tm/vm
    if (t/a >= 5) print "goal met: agent config dump is at least 5x faster than testparm -s"
    else printf "goal NOT met (5x): %.1f ms of the agent'"'"'s %.1f ms is its own process start (agent version); the rest is loading and printing. smbd --version is cached per installed binary, so with and without --samba-version match\n", st, a
}'
