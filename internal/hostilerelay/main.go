// Command hostilerelay is the Parley relay played by a hostile operator,
// for end-to-end tests only: the real relay code and SQLite store, with
// a store wrapper that withholds frames from chosen members, tampers
// with join requests, and lets two organizers' competing changes both
// "win". Its behaviour comes from a JSON rules file that it reads again
// at every request, so a test changes it between commands.
//
// It also writes, one line per event, who fetched (callers file: the
// pseudonym public key in hex) and what was stored (frames file:
// "SEQ KIND POSTER"), which is how a test learns its homes' keys and the
// sequence numbers of their frames; with -record, every request the relay
// sees (relay.Observation), which is how a test checks what a relay that
// logs everything learns.
//
// It is never built into a release and is not a usable relay.
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// rules is the rules file.
type rules struct {
	// Fork answers OK to access lists that are not newer than the
	// current one (relay.Config.ForkAccessLists).
	Fork bool `json:"fork"`
	// Hide lists frames kept from one reader.
	Hide []hideRule `json:"hide"`
	// TamperInvite is an invite code the operator has intercepted: join
	// requests made with it get another KEM key, sealed again.
	TamperInvite string `json:"tamper_invite"`
}

// hideRule keeps frames from Reader (a pseudonym public key, hex): the
// messages whose header names Sender (a public key, hex), and the frames
// with the sequence numbers in Seqs.
type hideRule struct {
	Reader string   `json:"reader"`
	Sender string   `json:"sender,omitempty"`
	Seqs   []uint64 `json:"seqs,omitempty"`
}

type hostile struct {
	relay.Store
	rulesPath, callersPath, framesPath string
	mu                                 sync.Mutex
}

func (h *hostile) rules() rules {
	var r rules
	if raw, err := os.ReadFile(h.rulesPath); err == nil {
		if err := json.Unmarshal(raw, &r); err != nil {
			fmt.Fprintf(os.Stderr, "hostilerelay: rules: %v\n", err)
		}
	}
	return r
}

func (h *hostile) log(path, line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

func callerHex(ctx context.Context) string {
	if k, ok := relay.Caller(ctx); ok {
		return hex.EncodeToString(k)
	}
	return "-"
}

func (h *hostile) Append(ctx context.Context, frames []relay.NewFrame) ([]wire.Stored, error) {
	stored, err := h.Store.Append(ctx, frames)
	for _, f := range stored {
		h.log(h.framesPath, fmt.Sprintf("%d %d %s", f.Seq, f.Kind, callerHex(ctx)))
	}
	return stored, err
}

func (h *hostile) Fetch(ctx context.Context, ch relay.ChannelID, since uint64, max int) ([]wire.Stored, bool, error) {
	frames, more, err := h.Store.Fetch(ctx, ch, since, max)
	reader := callerHex(ctx)
	h.log(h.callersPath, reader)
	r := h.rules()
	return slices.DeleteFunc(frames, func(f wire.Stored) bool { return r.hides(reader, f) }), more, err
}

func (r rules) hides(reader string, f wire.Stored) bool {
	for _, rule := range r.Hide {
		if rule.Reader != reader {
			continue
		}
		if slices.Contains(rule.Seqs, f.Seq) {
			return true
		}
		if rule.Sender != "" && f.Kind == wire.KindMessage {
			pub, err := hex.DecodeString(rule.Sender)
			h, herr := crypto.ParseClearHeader(f.Payload)
			if err == nil && herr == nil && h.Sender == crypto.KeyIDOf(ed25519.PublicKey(pub)) {
				return true
			}
		}
	}
	return false
}

// SpendInvite replaces the KEM key of a join request made with the
// intercepted invite: what the operator and the holder of a stolen code
// can do together.
func (h *hostile) SpendInvite(ctx context.Context, ch relay.ChannelID, tokenID [32]byte, now time.Time, sealed []byte) error {
	if code := h.rules().TamperInvite; code != "" {
		if inv, err := crypto.ParseInvite(code); err == nil {
			if req, err := inv.OpenJoinRequest(sealed); err == nil {
				if theirs, err := crypto.GenerateChannelKeys(); err == nil {
					req.Keys.KEMKey = theirs.Public().KEMKey
					if resealed, err := inv.SealJoinRequest(req); err == nil {
						sealed = resealed
					}
				}
			}
		}
	}
	return h.Store.SpendInvite(ctx, ch, tokenID, now, sealed)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	data := flag.String("data", "", "data folder")
	rulesPath := flag.String("rules", "", "rules file (JSON), read at every request")
	callers := flag.String("callers", "", "file that gets the key of every fetch's caller")
	framesPath := flag.String("frames", "", "file that gets every stored frame")
	record := flag.String("record", "", "file that gets every request the relay sees, one JSON object per line (relay.Observation)")
	flag.Parse()
	h := &hostile{rulesPath: *rulesPath, callersPath: *callers, framesPath: *framesPath}
	cfg := relay.Config{ForkAccessLists: func() bool { return h.rules().Fork }}
	if *record != "" {
		cfg.Observe = func(o relay.Observation) {
			line, _ := json.Marshal(o)
			h.log(*record, string(line))
		}
	}
	r, err := relay.Start(relay.Options{
		Listen: *listen, DataDir: *data,
		Config:    cfg,
		WrapStore: func(s relay.Store) relay.Store { h.Store = s; return h },
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostilerelay: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(r.URL)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	r.Close(context.Background())
}
