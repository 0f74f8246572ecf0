#!/bin/bash
# Footprint of `agent serve`: resident memory and CPU share over
# a long run at a short interval against a local smbd. Goal: under 30 MB
# RSS and under 1% of one core.
#
#   AGENT=bin/agent test/bench/serve_footprint.sh            # scratch smbd + agent (make soak)
#   PID=$(pidof agent) test/bench/serve_footprint.sh         # an agent already running
#
# Environment:
#   DURATION=600   seconds to sample (default 10 minutes)
#   INTERVAL=5s    the agent's serve.interval in self-contained mode
#   SAMPLE=1       seconds between samples
#   GOAL_RSS_MB=30 GOAL_CPU_PCT=1   exit 1 when a goal is missed
#   SERVE_CMD, KEEP: as in serve_load.sh
#
# RSS is VmRSS from /proc/PID/status (max and mean over the samples). CPU
# is utime+stime from /proc/PID/stat over the wall time, in % of one core;
# "with children" adds cutime+cstime, the tools the agent ran and waited
# for (testparm, smbd --version, ...), which are part of its cost.

set -euo pipefail
# shellcheck source=serve_load.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_load.sh"

DURATION=${DURATION:-600}
SAMPLE=${SAMPLE:-1}
GOAL_RSS_MB=${GOAL_RSS_MB:-30}
GOAL_CPU_PCT=${GOAL_CPU_PCT:-1}

if [ -n "${PID:-}" ]; then
    pid=$PID
else
    RELAY=0 sl_setup
    pid=$SL_AGENT_PID
fi
[ -r "/proc/$pid/stat" ] || sl_die "no process $pid"
hz=$(getconf CLK_TCK)

# cpu_ticks PID: "self children" in clock ticks. Fields after the command
# name (which is in parentheses and may contain spaces): utime is the 12th,
# stime 13th, cutime 14th, cstime 15th.
cpu_ticks() {
    local s
    s=$(<"/proc/$1/stat")
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo "$((${12} + ${13})) $((${12} + ${13} + ${14} + ${15}))"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
rounds() { curl -fsS "http://${SL_HTTP:-127.0.0.1:9445}/metrics" 2>/dev/null | awk '/^smb_agent_rounds_total / {print $2}'; }

sl_say "sampling pid $pid every ${SAMPLE}s for ${DURATION}s"
read -r self0 all0 < <(cpu_ticks "$pid")
rounds0=$(rounds || true)
t0=$(date +%s%N)
max=0 sum=0 n=0 min=""
end=$(($(date +%s) + DURATION))
while [ "$(date +%s)" -lt "$end" ]; do
    kill -0 "$pid" 2>/dev/null || sl_die "agent $pid exited during the measurement"
    r=$(rss_kb "$pid")
    n=$((n + 1)); sum=$((sum + r))
    [ "$r" -gt "$max" ] && max=$r
    if [ -z "$min" ] || [ "$r" -lt "$min" ]; then min=$r; fi
    sleep "$SAMPLE"
done
read -r self1 all1 < <(cpu_ticks "$pid")
t1=$(date +%s%N)
rounds1=$(rounds || true)

awk -v hz="$hz" -v s0="$self0" -v s1="$self1" -v a0="$all0" -v a1="$all1" \
    -v t0="$t0" -v t1="$t1" -v max="$max" -v min="$min" -v sum="$sum" -v n="$n" \
    -v r0="${rounds0:-?}" -v r1="${rounds1:-?}" -v grss="$GOAL_RSS_MB" -v gcpu="$GOAL_CPU_PCT" '
BEGIN {
    wall = (t1 - t0) / 1e9
    self = (s1 - s0) / hz / wall * 100
    all = (a1 - a0) / hz / wall * 100
    printf "duration      %.0f s, %d samples\n", wall, n
    if (r0 != "?" && r1 != "?") printf "check rounds  %d\n", r1 - r0
    printf "rss           max %.1f MB  mean %.1f MB  min %.1f MB   (goal < %s MB)\n", max/1024, sum/n/1024, min/1024, grss
    printf "cpu           %.3f%% of one core  (%.3f%% with children)   (goal < %s%%)\n", self, all, gcpu
    ok = (max/1024 < grss) && (self < gcpu)
    print (ok ? "footprint     within goals" : "footprint     GOAL MISSED")
    exit ok ? 0 : 1
}'
