#!/usr/bin/env bash
# The benchmark's smoke run inside make test: runs parley-bench -quick
# (no assertions on the figures) and prints one line; the whole output
# only when it fails. `make bench-quick` prints every figure.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp "${TMPDIR:-/tmp}/parley-bench.XXXXXX")
trap 'rm -f "$log"' EXIT
start=$(date +%s)
if ! go run ./cmd/parley-bench -quick >"$log" 2>&1; then
	cat "$log"
	echo "FAIL bench smoke (go run ./cmd/parley-bench -quick)"
	exit 1
fi
fig() { sed -n "s/^$1=//p" "$log" | head -1; }
echo "bench smoke: ok in $(($(date +%s) - start)) s (seal+open/raw AEAD $(fig seal_open_ratio_median), relay CPU per delivery at 50 $(fig relay_cpu_ratio_50)x the baseline, send to read --follow p99 $(fig e2e_p99_ms) ms; make bench-quick prints every figure)"
