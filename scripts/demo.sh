#!/usr/bin/env bash
# make demo: a narrated Parley session on one machine. A relay on
# loopback, six homes in a temporary folder: a convener, and two
# delegations (North: a participant, a mentor and an organizer; South: a
# participant and an organizer). Every step is checked; the script exits
# non-zero if anything misbehaves, and ends by searching every file for
# the phrases, names and channel name it used.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin"
WORK="$(mktemp -d -t parley-demo.XXXXXX)"
trap 'kill $RELAY_PID 2>/dev/null || true; wait $RELAY_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
cd "$WORK"

# Bold headings on a terminal only; a log or a pipe gets plain text.
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi
say()  { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
# show [WHO]: indent output, labelled with whose view it is.
show() { local who=${1:-}; sed "s/^/   ${who:+$who }| /"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
expect() { grep -q -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }
refuse() { ! grep -q -- "$2" <<<"$1" || fail "did not expect '$2' in: $1"; }
p() { local who=$1; shift; "$BIN/parley" --home "$WORK/$who" "$@"; }

export PARLEY_PASSPHRASE="demo passphrase, never use it"
# The demo uses a lower scrypt cost than real homes so that its 40-odd
# commands run in seconds. Real homes use 2^18.
export PARLEY_SCRYPT_LOGN="${PARLEY_SCRYPT_LOGN:-12}"

say "A relay starts on loopback; it will only ever see ciphertext"
"$BIN/parley-relay" --listen 127.0.0.1:0 --data "$WORK/relay" > relay.out 2> relay.log &
RELAY_PID=$!
for _ in $(seq 50); do [ -s relay.out ] && break; sleep 0.1; done
RELAY="$(head -1 relay.out)"
expect "$RELAY" "wss://127.0.0.1:"
echo "$RELAY" | show

say "Six people make their identities"
p ingrid init --name "Ingrid Convener" | show ingrid
p amal   init --name "Amal Delegate"   | show amal
p boris  init --name "Boris Delegate"  | show boris
p miriam init --name "Miriam Mentor"   | show miriam
p nadia  init --name "Nadia Organizer" | show nadia
p sven   init --name "Sven Organizer"  | show sven

say "Ingrid opens a hard-secrecy channel and invites two delegations: Amal, her mentor Miriam and Nadia, who organizes for North; Boris and Sven, who organizes for South"
p ingrid channel create "Lakeside Talks" --relay "$RELAY" | show ingrid
p ingrid invite "Lakeside Talks" --role participant --side North --expires 2h > amal.code
p ingrid invite "Lakeside Talks" --role participant --side South --expires 2h > boris.code
p ingrid invite "Lakeside Talks" --role mentor      --side North --expires 2h > miriam.code
p ingrid invite "Lakeside Talks" --role organizer   --side North --expires 2h > nadia.code
p ingrid invite "Lakeside Talks" --role organizer   --side South --expires 2h > sven.code
echo "(codes handed over in person: $(cut -c1-30 amal.code)…)" | show

say "Each invitee sends one sealed join request"
p amal   join - < amal.code   | show amal
p boris  join - < boris.code  | show boris
p miriam join - < miriam.code | show miriam
p nadia  join - < nadia.code  | show nadia
p sven   join - < sven.code   | show sven

say "Ingrid compares safety numbers with each of them, then admits"
pending="$(p ingrid pending "Lakeside Talks")"; echo "$pending" | show ingrid
for who in amal boris miriam nadia sven; do
	sn="$(p "$who" whoami | sed -n 's/^safety number: //p')"
	expect "$pending" "$sn"
done
echo "(all five safety numbers match what each person reads out)" | show
p ingrid admit "Lakeside Talks" "Nadia Organizer" "Sven Organizer" | show ingrid
for who in nadia sven; do p "$who" sync "Lakeside Talks" | show "$who"; done

say "Neither side accepts the convener alone adding people: Ingrid turns on the every-side rule, so each side's organizer must approve"
p ingrid channel quorum "Lakeside Talks" every-side | show ingrid
out="$(p ingrid admit "Lakeside Talks" --all)"; echo "$out" | show ingrid
expect "$out" "waits for the approval of an organizer of side North and side South"
pend="$(p sven pending "Lakeside Talks")"; echo "$pend" | show sven
expect "$pend" "Miriam Mentor (mentor, side North, safety number $(p miriam whoami | sed -n 's/^safety number: //p'))"
p nadia approve "Lakeside Talks" | show nadia
p sven  approve "Lakeside Talks" | show sven
p ingrid sync "Lakeside Talks" | show ingrid
for who in amal boris miriam nadia sven; do p "$who" sync "Lakeside Talks" | show "$who"; done
expect "$(p miriam members "Lakeside Talks")" "Amal Delegate"

say "Amal and Boris exchange messages and two versions of the declaration"
p amal send "Lakeside Talks" "Shall we start from the river boundary text?"
p boris send "Lakeside Talks" "Yes, with the water-sharing annex attached."
printf 'Article 1. The parties recognise each other.\nArticle 2. The boundary follows the river.\n' > v1.txt
printf 'Article 1. The parties recognise each other.\nArticle 2. The boundary follows the 1967 line.\nArticle 3. Water is shared equally.\n' > v2.txt
v="$(p amal draft put "Lakeside Talks" declaration v1.txt)"; [ "$v" = 1 ] || fail "first version numbered $v"
v="$(p boris draft put "Lakeside Talks" declaration v2.txt)"; [ "$v" = 2 ] || fail "second version numbered $v"
diff="$(p amal draft diff "Lakeside Talks" declaration 1 2)"; echo "$diff" | show amal
expect "$diff" "+Article 3. Water is shared equally."
p ingrid draft get "Lakeside Talks" declaration --version 2 | cmp - v2.txt || fail "version 2 is not byte-exact"

say "Ingrid briefs the mentor; Miriam answers"
p ingrid brief "Lakeside Talks" "Good progress: the boundary article is close."
p miriam brief "Lakeside Talks" "Hold firm on water; concede on the timetable."
if p miriam send "Lakeside Talks" "let me see the text" 2> err.txt; then fail "a mentor posted in the talks"; fi
cat err.txt | show miriam

say "What Miriam (mentor) sees: briefings only"
m="$(p miriam read "Lakeside Talks")"; echo "$m" | show miriam
expect "$m" "Hold firm on water"
refuse "$m" "river boundary"
refuse "$m" "declaration"

say "Amal briefs her own delegation alone: Miriam reads it, Boris holds no key to it"
p amal brief "Lakeside Talks" --side North "We could accept shared water rights first." 2>&1 | show amal
m="$(p miriam read "Lakeside Talks")"
expect "$m" "side North only] Amal Delegate: We could accept shared water rights first."
echo "$m" | tail -1 | show miriam
b="$(p boris read "Lakeside Talks")"
refuse "$b" "shared water rights"
echo "(Boris's transcript has no trace of it)" | show boris

say "Both delegations initial version 2; Ingrid, who convened the talks, exports the record"
p amal  draft initial "Lakeside Talks" declaration --version 2 --yes 2>/dev/null | show amal
p boris draft initial "Lakeside Talks" declaration --version 2 --yes 2>/dev/null | show boris
p ingrid draft agreement "Lakeside Talks" declaration --export "$WORK/declaration.agreement.json" --yes 2>/dev/null | show ingrid

say "Anyone can check the record offline, with no home: it is the one signed thing in Parley"
v="$("$BIN/parley" agreement verify "$WORK/declaration.agreement.json")"; echo "$v" | show
expect "$v" "initialled by Amal Delegate, side North"
expect "$v" "initialled by Boris Delegate, side South"
sed 's/Article 2/Article 3/' "$WORK/declaration.agreement.json" > "$WORK/edited.json"
if "$BIN/parley" agreement verify "$WORK/edited.json" 2> err.txt; then fail "an edited record verified"; fi
cat err.txt | show
rm "$WORK/declaration.agreement.json" "$WORK/edited.json"

say "Boris is removed: Ingrid proposes it, South's organizer approves, and what follows is sealed to a new epoch without him"
out="$(p ingrid remove "Lakeside Talks" "Boris Delegate")"; echo "$out" | show ingrid
expect "$out" "waits for the approval of an organizer of side South"
p sven approve "Lakeside Talks" | show sven
p ingrid sync "Lakeside Talks" | show ingrid
p amal send "Lakeside Talks" "Between us: we can accept the 1967 line."
b="$(p boris read "Lakeside Talks")"; echo "$b" | tail -3 | show boris
refuse "$b" "1967 line."
expect "$b" "the relay refuses this member's key"

say "What Ingrid (organizer) sees"
i="$(p ingrid read "Lakeside Talks")"; echo "$i" | show ingrid
expect "$i" "Amal Delegate: Between us: we can accept the 1967 line."
expect "$i" "Boris Delegate is no longer a member"
refuse "$i" "shared water rights" # the North delegation's own briefing: Ingrid is of no side

say "Amal (participant) sees the same conversation"
a="$(p amal read "Lakeside Talks")"
expect "$a" "Boris Delegate: Yes, with the water-sharing annex attached."
expect "$a" "Miriam Mentor: Hold firm on water"
echo "$a" | tail -4 | show amal

say "The talks end: Ingrid burns the channel"
p ingrid burn "Lakeside Talks" | show ingrid
for who in amal miriam boris nadia sven; do p "$who" sync | show "$who"; done
for who in ingrid amal miriam nadia sven; do
	[ "$(p "$who" channel list --json)" = "[]" ] || fail "$who still lists the channel"
done

say "Nothing readable is left on disk"
hits=0
for phrase in "river boundary" "water-sharing" "1967 line" "Hold firm" "Article 2" "Good progress" "shared water rights" \
	"Ingrid Convener" "Amal Delegate" "Boris Delegate" "Miriam Mentor" "Nadia Organizer" "Sven Organizer" "Lakeside Talks"; do
	if grep -rl --binary-files=text -- "$phrase" "$WORK"/{ingrid,amal,boris,miriam,nadia,sven,relay} 2>/dev/null; then
		hits=1
	fi
done
[ "$hits" = 0 ] || fail "a phrase, name or channel name was found on disk"
echo "searched every file of the six homes and the relay (SQLite, WAL, logs) for 14 phrases: none found" | show
say "Demo complete"
