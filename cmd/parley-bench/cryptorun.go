package main

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	parleyclient "parley/client"
	"parley/crypto"
)

// timeOp runs run(n) with n growing until one call lasts at least
// target, then times one more call of the same n, and returns its time
// per operation in nanoseconds. The calls before it warm the operation
// up: its code and data are in cache and the garbage collector is paced
// to its own allocations, not to whatever ran before. setup, when not
// nil, prepares n operations off the clock.
func timeOp(target time.Duration, setup func(n int) error, run func(n int) error) (float64, error) {
	timed := func(n int) (time.Duration, error) {
		if setup != nil {
			if err := setup(n); err != nil {
				return 0, err
			}
		}
		t := time.Now()
		err := run(n)
		return time.Since(t), err
	}
	n := 1
	for range 40 {
		el, err := timed(n)
		if err != nil {
			return 0, err
		}
		if el >= target || n >= 1<<24 {
			el, err := timed(n)
			if err != nil {
				return 0, err
			}
			return float64(el.Nanoseconds()) / float64(n), nil
		}
		grow := float64(target) / float64(max(el, time.Microsecond)) * 1.2
		n = int(min(max(float64(n)*grow, float64(n+1)), float64(n)*100, 1<<24))
	}
	return 0, fmt.Errorf("timing did not converge")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cryptoOp is one operation of the crypto run.
type cryptoOp struct {
	setup func(n int) error
	run   func(n int) error
}

// cryptoResult holds the time per operation, in nanoseconds: the
// fastest of the rounds, the one least disturbed by other work on the
// machine (interference only ever adds time); and the median of the
// per-round ratios of Parley's seal+open to the raw AEAD's.
type cryptoResult struct {
	ns    map[string]float64
	ratio float64
}

// sealOpenOp seals a message from one member of a channel of n and
// opens it as another, as real clients do with their per-epoch state
// (chains, pair keys). With derivePairs, pair keys are derived for every
// message instead, as client/ did before its per-epoch cache
// (client/epochcache.go): what that cache saves.
func sealOpenOp(n int, derivePairs bool) (cryptoOp, error) {
	chans, err := newChannels(1, n, time.Now())
	if err != nil {
		return cryptoOp{}, err
	}
	c := chans[0]
	from, to := c.members[1], c.members[n-1]
	op := newOpener(to)
	return cryptoOp{run: func(k int) error {
		for range k {
			if derivePairs {
				// A fresh view per message: every pair key derived
				// again, as without the client's per-epoch cache.
				from.view, to.view = crypto.NewEpochView(c.roster, from.keys, from.sdk), crypto.NewEpochView(c.roster, to.keys, to.sdk)
			}
			env, _, err := from.seal()
			if err != nil {
				return err
			}
			if err := op.open(env); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// clientSealOpenOp is the client library's own per-message path
// (parley/client.MessagePath): one home of a channel of n seals a talks message
// with a 1 KiB text as it does before posting (its send chain, report
// and per-epoch view), another takes it in as it does for a fetched
// frame (header, chain, open, the report's checks, the body). The
// homes' store (SQLite, the sealed state row) is left out.
func clientSealOpenOp(n int) (cryptoOp, error) {
	p, err := parleyclient.NewMessagePath(n)
	if err != nil {
		return cryptoOp{}, err
	}
	text := strings.Repeat("x", bodySize)
	return cryptoOp{run: func(k int) error {
		for range k {
			if err := p.SealOpen(text, false); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// openOp opens messages sealed ahead, off the clock.
func openOp(n int) (cryptoOp, error) {
	chans, err := newChannels(1, n, time.Now())
	if err != nil {
		return cryptoOp{}, err
	}
	from, to := chans[0].members[1], chans[0].members[n-1]
	op := newOpener(to)
	var envs [][]byte
	return cryptoOp{
		setup: func(k int) error {
			envs = envs[:0]
			for range k {
				env, _, err := from.seal()
				if err != nil {
					return err
				}
				envs = append(envs, env)
			}
			return nil
		},
		run: func(k int) error {
			for _, env := range envs[:k] {
				if err := op.open(env); err != nil {
					return err
				}
			}
			return nil
		},
	}, nil
}

func sealOp(n int) (cryptoOp, error) {
	chans, err := newChannels(1, n, time.Now())
	if err != nil {
		return cryptoOp{}, err
	}
	from := chans[0].members[1]
	return cryptoOp{run: func(k int) error {
		for range k {
			if _, _, err := from.seal(); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// rawAEADOp is the baseline: XChaCha20-Poly1305 seal and open of a frame
// of the envelope's size (nonce and ciphertext make crypto.EnvelopeSize
// bytes) with a fixed key and a fresh random nonce. Like SealMessage and
// OpenMessage it returns new buffers; inPlace reuses two buffers instead.
func rawAEADOp(inPlace bool) (cryptoOp, error) {
	key := make([]byte, chacha20poly1305.KeySize)
	rand.Read(key)
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return cryptoOp{}, err
	}
	pt := make([]byte, crypto.EnvelopeSize-a.NonceSize()-a.Overhead())
	rand.Read(pt)
	nonce := make([]byte, a.NonceSize())
	ctBuf := make([]byte, 0, crypto.EnvelopeSize)
	ptBuf := make([]byte, 0, len(pt))
	return cryptoOp{run: func(k int) error {
		for range k {
			rand.Read(nonce)
			var ct []byte
			if inPlace {
				ct = a.Seal(ctBuf[:0], nonce, pt, nil)
				if _, err := a.Open(ptBuf[:0], nonce, ct, nil); err != nil {
					return err
				}
				continue
			}
			ct = a.Seal(nil, nonce, pt, nil)
			if _, err := a.Open(nil, nonce, ct, nil); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// rekeyOp is a timed rekey of a channel of n as its organizer does it:
// the next roster, signed; its access list, signed; fresh epoch secrets
// wrapped to every member; the bundle encoded. With remove, the last
// member is removed in the same step (the removal case).
func rekeyOp(c *benchChannel, remove bool) cryptoOp {
	org := c.members[0]
	return cryptoOp{run: func(k int) error {
		for range k {
			next := c.roster.Next(time.Now())
			if remove {
				next.Remove(c.members[len(c.members)-1].kid)
			}
			if err := next.Sign(org.keys); err != nil {
				return err
			}
			secrets := crypto.NewEpochSecrets(next)
			admin, _ := secrets.AdminKey()
			list := crypto.AccessListFor(next, admin.SigningPublicKey())
			if err := list.Sign(c.nextAdmin, admin); err != nil {
				return err
			}
			b, err := crypto.NewEpochBundle(next, secrets, org.keys, c.nextAdmin)
			if err != nil {
				return err
			}
			if _, err := b.Marshal(); err != nil {
				return err
			}
		}
		return nil
	}}
}

// applyRekeyOp is one member's side of a rekey: parse and open the
// bundle, verify the new roster against the one it holds.
func applyRekeyOp(c *benchChannel) (cryptoOp, error) {
	org := c.members[0]
	next := c.roster.Next(time.Now())
	if err := next.Sign(org.keys); err != nil {
		return cryptoOp{}, err
	}
	b, err := crypto.NewEpochBundle(next, crypto.NewEpochSecrets(next), org.keys, c.nextAdmin)
	if err != nil {
		return cryptoOp{}, err
	}
	raw, err := b.Marshal()
	if err != nil {
		return cryptoOp{}, err
	}
	m := c.members[len(c.members)-1]
	return cryptoOp{run: func(k int) error {
		for range k {
			parsed, err := crypto.ParseEpochBundle(raw)
			if err != nil {
				return err
			}
			_, r, err := parsed.Open(m.keys, c.nextAdmin.SigningPublicKey(), c.roster.IsOrganizer)
			if err != nil {
				return err
			}
			if err := r.VerifyNext(c.roster); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// joinOps are the three steps of joining a channel of c's size: the
// invitee reads the code, makes its pseudonym and seals its request; the
// organizer opens it and starts the epoch that admits it; the newcomer
// opens that first epoch and checks its roster against the invite.
func joinOps(c *benchChannel) (join, admit, first cryptoOp, err error) {
	org := c.members[0]
	inv, err := crypto.NewInvite("wss://127.0.0.1:7443/#pin=sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", [32]byte{1},
		c.roster.Channel, org.kid, crypto.RoleParticipant, time.Now().Add(time.Hour), "talks")
	if err != nil {
		return
	}
	code := inv.String()
	id, err := crypto.GenerateIdentity()
	if err != nil {
		return
	}
	keys, err := crypto.GenerateChannelKeys()
	if err != nil {
		return
	}
	req, err := crypto.NewJoinRequest(inv, id, "Newcomer", keys)
	if err != nil {
		return
	}
	sealed, err := inv.SealJoinRequest(req)
	if err != nil {
		return
	}
	admitted := func() (*crypto.Roster, []byte, error) {
		got, err := inv.OpenJoinRequest(sealed)
		if err != nil {
			return nil, nil, err
		}
		next := c.roster.Next(time.Now())
		next.Members = append(next.Members, got.Member(crypto.RoleParticipant, time.Time{}))
		if err := next.Sign(org.keys); err != nil {
			return nil, nil, err
		}
		secrets := crypto.NewEpochSecrets(next)
		admin, _ := secrets.AdminKey()
		list := crypto.AccessListFor(next, admin.SigningPublicKey())
		if err := list.Sign(c.nextAdmin, admin); err != nil {
			return nil, nil, err
		}
		b, err := crypto.NewEpochBundle(next, secrets, org.keys, c.nextAdmin)
		if err != nil {
			return nil, nil, err
		}
		raw, err := b.Marshal()
		return next, raw, err
	}
	_, bundle, err := admitted()
	if err != nil {
		return
	}
	join = cryptoOp{run: func(k int) error {
		for range k {
			inv, err := crypto.ParseInvite(code)
			if err != nil {
				return err
			}
			keys, err := crypto.GenerateChannelKeys()
			if err != nil {
				return err
			}
			req, err := crypto.NewJoinRequest(inv, id, "Newcomer", keys)
			if err != nil {
				return err
			}
			if _, err := inv.SealJoinRequest(req); err != nil {
				return err
			}
		}
		return nil
	}}
	admit = cryptoOp{run: func(k int) error {
		for range k {
			if _, _, err := admitted(); err != nil {
				return err
			}
		}
		return nil
	}}
	first = cryptoOp{run: func(k int) error {
		for range k {
			parsed, err := crypto.ParseEpochBundle(bundle)
			if err != nil {
				return err
			}
			_, r, err := parsed.Open(keys, nil, inv.IsOrganizer)
			if err != nil {
				return err
			}
			if err := r.VerifyInvited(inv, keys.ID()); err != nil {
				return err
			}
		}
		return nil
	}}
	return
}

// runCrypto measures every crypto operation in rounds, interleaved, so
// that a burst of load from elsewhere on the machine hits all of them
// alike; each figure is the fastest round.
func runCrypto(rounds int, slice time.Duration) (cryptoResult, error) {
	res := cryptoResult{ns: map[string]float64{}}
	type named struct {
		name string
		op   cryptoOp
		long bool // milliseconds per operation: fewer, longer slices
	}
	var ops []named
	add := func(name string, op cryptoOp, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ops = append(ops, named{name: name, op: op})
		return nil
	}
	// The two figures of the ratio run back to back in every round.
	op, err := sealOpenOp(10, false)
	if err := add("sealopen-10", op, err); err != nil {
		return res, err
	}
	raw, err := rawAEADOp(false)
	if err := add("raw", raw, err); err != nil {
		return res, err
	}
	rawIn, err := rawAEADOp(true)
	if err := add("raw-inplace", rawIn, err); err != nil {
		return res, err
	}
	for _, n := range []int{3, 50} {
		op, err := sealOpenOp(n, false)
		if err := add(fmt.Sprintf("sealopen-%d", n), op, err); err != nil {
			return res, err
		}
	}
	op, err = sealOp(10)
	if err := add("seal-10", op, err); err != nil {
		return res, err
	}
	op, err = openOp(10)
	if err := add("open-10", op, err); err != nil {
		return res, err
	}
	op, err = sealOpenOp(10, true)
	if err := add("sealopen-10-derive", op, err); err != nil {
		return res, err
	}
	op, err = clientSealOpenOp(10)
	if err := add("sealopen-10-client", op, err); err != nil {
		return res, err
	}
	chans, err := newChannels(2, 50, time.Now())
	if err != nil {
		return res, err
	}
	ten, err := newChannels(1, 10, time.Now())
	if err != nil {
		return res, err
	}
	add("rekey-50", rekeyOp(chans[0], false), nil)
	add("remove-50", rekeyOp(chans[0], true), nil)
	op, err = applyRekeyOp(chans[1])
	if err := add("apply-50", op, err); err != nil {
		return res, err
	}
	join, admit, first, err := joinOps(ten[0])
	if err != nil {
		return res, fmt.Errorf("join: %w", err)
	}
	add("join", join, nil)
	add("admit-10", admit, nil)
	add("first-epoch-10", first, nil)
	for i := range ops {
		ops[i].long = i >= len(ops)-6
	}

	times := map[string][]float64{}
	var ratios []float64
	for range rounds {
		var rawNS, parNS float64
		for _, o := range ops {
			target := slice
			if o.long {
				target = slice * 2
			}
			ns, err := timeOp(target, o.op.setup, o.op.run)
			if err != nil {
				return res, fmt.Errorf("%s: %w", o.name, err)
			}
			times[o.name] = append(times[o.name], ns)
			switch o.name {
			case "raw":
				rawNS = ns
			case "sealopen-10":
				parNS = ns
			}
		}
		ratios = append(ratios, parNS/rawNS)
	}
	for name, ts := range times {
		res.ns[name] = slices.Min(ts)
	}
	res.ratio = median(ratios)
	return res, nil
}
