#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 30s).
# Crashing inputs are written by `go test` to the package's testdata/fuzz/,
# where later `go test` runs (and so `make test`) replay them as seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-30s}"
status=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for t in $targets; do
    echo "== $pkg $t ($FUZZTIME)"
    if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg"; then
      echo "!! $pkg $t found a failure; its input is in that package's testdata/fuzz/$t"
      status=1
    fi
  done
done
exit $status
