#!/usr/bin/env bash
# Known-vulnerability check of the modules and the Go toolchain the agent is
# built from. govulncheck is the check; its database lives at vuln.go.dev.
# Where that cannot be reached (an offline builder) the fallback says so and
# checks what it can without it: every module compiled into bin/agent
# (`go version -m`) must be at the release the module proxy serves as latest,
# since fixes land in new releases. A module the proxy will not list is named
# and does not fail the check (go-smb2: v1.1.0 is its latest tag).
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
GOVULNCHECK=${GOVULNCHECK:-golang.org/x/vuln/cmd/govulncheck@v1.10.0}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
$GO run "$GOVULNCHECK" ./... >"$out" 2>&1
rc=$?
set -e
cat "$out"
if [ $rc -eq 0 ]; then
  exit 0
fi
if ! grep -q -e 'fetching vulnerabilities' -e 'vuln.go.dev' -e 'dial tcp' "$out"; then
  # govulncheck ran and found something (exit 3), or failed on its own.
  exit $rc
fi

echo
echo "vuln: the vulnerability database cannot be reached; offline check instead:"
echo "vuln: every module in the binary must be at its latest release."
bin=$(mktemp)
trap 'rm -f "$out" "$bin"' EXIT
$GO build -trimpath -o "$bin" ./cmd/agent
echo "vuln: toolchain $($GO env GOVERSION)"
stale=0
while read -r kind path version _; do
  [ "$kind" = dep ] || continue
  line=$($GO list -m -u -e -f '{{.Version}} {{if .Update}}{{.Update.Version}}{{end}}{{if .Error}}?{{end}}' "$path@$version" 2>/dev/null || true)
  latest=${line#* }
  case "$latest" in
    "") printf 'vuln: %-45s %-12s latest\n' "$path" "$version" ;;
    "?") printf 'vuln: %-45s %-12s (proxy does not list it; not checked)\n' "$path" "$version" ;;
    *) printf 'vuln: %-45s %-12s OUTDATED: %s is served\n' "$path" "$version" "$latest"; stale=1 ;;
  esac
done < <($GO version -m "$bin" | awk '{print $1, $2, $3}')
exit $stale
