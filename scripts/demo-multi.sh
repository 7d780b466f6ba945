#!/usr/bin/env bash
# make demo-multi: one channel on three relays, run by three operators on
# one machine for the demo. One relay is killed (kill -9) in the middle of
# the talks, another comes back with its disk lost; the talks go on, and
# every message reaches everyone once. Every step is checked; the script
# exits non-zero if anything misbehaves.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin"
WORK="$(mktemp -d -t parley-demo-multi.XXXXXX)"
PIDS=(0 0 0 0)
cleanup() {
	for pid in "${PIDS[@]}"; do [ "$pid" = 0 ] || kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi
say()  { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
show() { local who=${1:-}; sed "s/^/   ${who:+$who }| /"; }
fail() { echo "demo-multi: FAILED: $*" >&2; exit 1; }
expect() { grep -q -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }
p() { local who=$1; shift; "$BIN/parley" --home "$WORK/$who" "$@"; }
export PARLEY_PASSPHRASE="demo passphrase, never use it"
export PARLEY_SCRYPT_LOGN="${PARLEY_SCRYPT_LOGN:-12}"

# relay N [LISTEN]: start relay N (its own data folder), on LISTEN or a
# free port; its URL (with pin) is in relayN.url.
relay() {
	local n=$1 listen=${2:-127.0.0.1:0}
	rm -f "relay$n.out"
	"$BIN/parley-relay" --listen "$listen" --data "$WORK/relay$n" > "relay$n.out" 2> "relay$n.log" &
	PIDS[$n]=$!
	for _ in $(seq 100); do [ -s "relay$n.out" ] && break; sleep 0.1; done
	head -1 "relay$n.out" > "relay$n.url"
	[ -s "relay$n.url" ] || fail "relay $n did not start"
}
addr() { sed -e 's#^wss://##' -e 's#/.*##' "relay$1.url"; }

say "Three operators each start a relay (here, on one machine)"
for n in 1 2 3; do relay $n; cat "relay$n.url" | show "relay $n"; done

say "Ingrid opens a channel on all three; Amal and Boris join"
for who in ingrid amal boris; do p "$who" init --name "${who^}" > /dev/null; done
p ingrid channel create "Lakeside" --relay "$(cat relay1.url)" --relay "$(cat relay2.url)" --relay "$(cat relay3.url)" | show ingrid
for who in amal boris; do
	p ingrid invite "Lakeside" --role participant --expires 2h > "$who.code"
	p "$who" join - < "$who.code" | show "$who"
done
p ingrid admit "Lakeside" --all | show ingrid
for who in amal boris; do p "$who" sync "Lakeside" | show "$who"; done
p amal send "Lakeside" "We could start from the river text."

say "Relay 1 is killed (kill -9) in the middle of the talks"
kill -9 "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null || true; PIDS[1]=0
p boris send "Lakeside" "Agreed, the river text it is."
p amal send "Lakeside" "Then the annex on water."
r="$(p amal channel relays "Lakeside")"; echo "$r" | show amal
expect "$r" "unreachable"

say "Relay 2 comes back with its disk lost (same address, same certificate)"
kill -9 "${PIDS[2]}"; wait "${PIDS[2]}" 2>/dev/null || true; PIDS[2]=0
rm -f "$WORK"/relay2/relay.db*
relay 2 "$(addr 2)"
p ingrid sync "Lakeside" | show ingrid
i="$(p ingrid read "Lakeside")"
expect "$i" "founded it there again"
echo "$i" | grep "founded it there again" | show ingrid

say "Relay 1 comes back with what it had; the copies it missed are sent"
relay 1 "$(addr 1)"
p boris send "Lakeside" "Water is shared equally."
for who in ingrid amal boris; do p "$who" sync "Lakeside" > /dev/null; p "$who" sync "Lakeside" > /dev/null; done
r="$(p boris channel relays "Lakeside")"; echo "$r" | show boris
[ "$(grep -c 'reachable, last fetch' <<<"$r")" = 3 ] || fail "not every relay is reachable again"

say "Everyone has every message once, in the same order"
said() { p "$1" read "Lakeside" | grep -v '^[^ ]* [^ ]*  \* ' | sed 's/^[^ ]* [^ ]*  //'; }
want="$(said ingrid)"
echo "$want" | show everyone
for who in amal boris; do
	got="$(said "$who")"
	[ "$got" = "$want" ] || fail "$who's transcript differs: $got"
	if p "$who" read "Lakeside" --json | grep -q '"alarm":true'; then fail "$who was alarmed: $(p "$who" read "Lakeside")"; fi
done
[ "$(grep -c 'river text' <<<"$want")" = 2 ] || fail "a message is missing or doubled"

say "The talks end: the burn reaches every relay"
p ingrid burn "Lakeside" | show ingrid
for who in amal boris; do p "$who" sync | show "$who"; done
for who in ingrid amal boris; do
	[ "$(p "$who" channel list --json)" = "[]" ] || fail "$who still lists the channel"
done
say "Demo complete"
