# Parley. `make run` starts a relay on loopback; `make test` runs every test.
GO ?= go
BIN := bin
RELAY_DATA ?= data/relay
LISTEN ?= 127.0.0.1:7443
FUZZTIME ?= 60s

.PHONY: all build run test vet fmt-check unit fuzz-smoke fuzz demo demo-multi bench bench-quick bench-smoke clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# The relay on loopback with its embedded SQLite in $(RELAY_DATA). Its first
# line is the URL (with certificate pin) that clients use.
run: build
	$(BIN)/parley-relay --listen $(LISTEN) --data $(RELAY_DATA)

# Everything: formatting, vet, every test once under the race detector
# (unit, known-answer vectors, fuzz seeds, relay processes, end to end),
# then each fuzz target for a fixed number of executions (a count has
# no deadline to race; see scripts/fuzz.sh).
test: fmt-check vet unit fuzz-smoke bench-smoke

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

fuzz-smoke:
	FUZZTIME=smoke ./scripts/fuzz.sh

# A narrated session: relay, four homes, drafts, briefings, removal, burn,
# and a search of every file for what was said.
demo: build
	./scripts/demo.sh

demo-multi: build
	./scripts/demo-multi.sh

# Longer fuzzing: every target for $(FUZZTIME); a bare deadline at the
# end of a time budget is reported as the toolchain's flake, not failed.
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Benchmarks: parley-bench measures the relay and crypto against a
# baseline in the same run (a few minutes; docs/benchmarks.md), then the Go
# micro-benchmarks of crypto/ and relay/, and what client commands cost
# as a transcript grows from 100 to 50,000 messages. Charts go to
# $(BENCH_CHARTS): parley-bench draws its own, then reads the growth
# benchmark's output (kept in $(BENCH_CHARTS)/growth.txt) for commands.svg.
BENCH_CHARTS ?= docs/bench
bench:
	$(GO) run ./cmd/parley-bench -charts $(BENCH_CHARTS)
	$(GO) test -run '^$$' -bench . ./crypto ./relay
	$(GO) test -run '^$$' -bench Growth -benchtime 5x -timeout 30m ./client | tee $(BENCH_CHARTS)/growth.txt; \
		status=$$(tail -n 1 $(BENCH_CHARTS)/growth.txt | grep -c '^ok'); test "$$status" = 1
	$(GO) run ./cmd/parley-bench -growth $(BENCH_CHARTS)/growth.txt -charts $(BENCH_CHARTS)

# The short run of parley-bench (under a minute), every figure.
bench-quick:
	$(GO) run ./cmd/parley-bench -quick

# What `make test` runs: the short run as a smoke check, with no
# assertions on the figures, summed up in one line.
bench-smoke:
	./scripts/bench-smoke.sh

clean:
	rm -rf $(BIN)
