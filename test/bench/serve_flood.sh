#!/usr/bin/env bash
# serve_flood.sh: resident memory of `agent serve` under a flood of idle
# connections (3,000 TCP connections that never send a request, as an
# attacker on the host or, with --listen-public, on the network would
# open). Prints the RSS before and with the flood held open; no goal is
# asserted (the figure depends on the machine).
#
# Usage: AGENT=bin/agent test/bench/serve_flood.sh [CONNS]   (default 3000)
set -euo pipefail
CONNS=${1:-3000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=$(mktemp -d "${TMPDIR:-/tmp}/serve-flood.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
AGENT_BIN=${AGENT:-}
if [ -z "$AGENT_BIN" ] || [ ! -x "$AGENT_BIN" ]; then
    (cd "$ROOT" && go build -o "$DIR/agent" ./cmd/agent)
    AGENT_BIN=$DIR/agent
fi
printf '[global]\n\tworkgroup = W\n' >"$DIR/smb.conf"
ulimit -n $((CONNS + 1024))
/usr/bin/python3 - "$AGENT_BIN" "$DIR/smb.conf" "$CONNS" <<'PY'
import socket, subprocess, sys, time
agent, conf, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
p = subprocess.Popen([agent, "serve", "--config", "/dev/null", "--listen", f"127.0.0.1:{port}",
                      "--smb-conf", conf, "--target", "127.0.0.1:1", "--interval", "1h"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
        except OSError:
            time.sleep(0.1)
    time.sleep(1)
    before = rss(p.pid)
    conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
    time.sleep(2)
    during = rss(p.pid)
    print(f"serve_flood: RSS {before} KiB idle, {during} KiB with {len(conns)} idle connections (+{during - before} KiB)")
    for c in conns:
        c.close()
finally:
    p.terminate(); p.wait()
PY
