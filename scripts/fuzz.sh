#!/usr/bin/env bash
# Runs every fuzz target of the module. Seeds live in each package's
# testdata/fuzz/<Target>; new findings are written there too, and fail
# the run.
#
# FUZZTIME chooses the budget of each target:
#   smoke   a fixed number of executions per target (the table below),
#           about three seconds each on a 2-core machine: what `make test` runs
#   Nx      N executions per target
#   10s, 5m a time per target: what `make fuzz` runs
#
# Execution counts have no deadline. Time budgets do, and the Go 1.26
# fuzz coordinator can fail a clean run at that deadline with a bare
# "context deadline exceeded" (go.dev/issue/75804, fixed in Go 1.27).
# With a time budget such a run is reported as a flake and does not
# fail; anything else does: a reproducer written under testdata/fuzz, a
# panic, a test error, a seed that fails.
#
# FUZZ_ROOT runs the targets of another module (the script's own tests
# use it), GO another go command.
set -euo pipefail
cd "${FUZZ_ROOT:-$(dirname "$0")/..}"
go=${GO:-go}
fuzztime="${FUZZTIME:-10s}"

# smoke_execs TARGET: the executions `make test` gives TARGET.
smoke_execs() {
	case "$1" in
	FuzzParseInvite) echo 50000x ;;
	FuzzParseRoster | FuzzParseEpochBundle) echo 60000x ;;
	*) echo 100000x ;;
	esac
}

log=$(mktemp "${TMPDIR:-/tmp}/parley-fuzz.XXXXXX")
trap 'rm -f "$log"' EXIT

# corpus DIR: the files under DIR, one per line (nothing if DIR is absent).
corpus() { [ -d "$1" ] && find "$1" -type f | sort || true; }

# deadline_only: the failure in $log is the coordinator's deadline and
# nothing else.
deadline_only() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -Eq 'panic:|Failing input written|seed corpus|_test\.go:[0-9]+:' "$log"
}

status=0
flakes=0
for pkg in $("$go" list ./...); do
	dir=$("$go" list -f '{{.Dir}}' "$pkg")
	for target in $("$go" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		budget=$fuzztime
		[ "$budget" = smoke ] && budget=$(smoke_execs "$target")
		# The worker also minimizes every input that finds new code, and
		# reports nothing meanwhile: Go's default of 60s would spend a
		# short budget on one input.
		minimize=5s
		case "$budget" in *x) minimize=10000x ;; esac
		echo "fuzz $pkg $target ($budget)"
		before=$(corpus "$dir/testdata/fuzz/$target")
		if "$go" test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" -fuzzminimizetime "$minimize" "$pkg" >"$log" 2>&1; then
			continue
		fi
		new=$(comm -13 <(echo "$before") <(corpus "$dir/testdata/fuzz/$target") | grep . || true)
		if [ -z "$new" ] && [[ "$budget" != *x ]] && deadline_only; then
			echo "fuzz flake: $target stopped at its time budget with a bare 'context deadline exceeded' and no finding (go.dev/issue/75804); not counted as a failure"
			flakes=$((flakes + 1))
			continue
		fi
		cat "$log"
		if [ -n "$new" ]; then
			echo "fuzz finding: $target wrote $new"
		fi
		echo "FAIL fuzz $pkg $target"
		status=1
	done
done
[ "$flakes" -gt 0 ] && echo "fuzz: $flakes target(s) hit the toolchain's deadline flake; no finding"
exit $status
