#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 8s).
# Go runs one fuzz target per invocation, so they are found by name.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-8s}
status=0
while IFS= read -r f; do
  dir=$(dirname "$f")
  for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz ./$dir $name ($FUZZTIME)"
    if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$dir" >/tmp/fuzz.$$.log 2>&1; then
      cat /tmp/fuzz.$$.log; status=1
    fi
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sed 's|^\./||' | sort)
rm -f /tmp/fuzz.$$.log
exit $status
