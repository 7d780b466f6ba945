package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
)

// idleResult is the memory a relay process gained per idle connection.
type idleResult struct {
	conns          int
	rssPerConn     float64 // bytes
	heapPerConn    float64 // live heap, bytes
	stackPerConn   float64 // goroutine stacks, bytes
	goroutinesConn float64
	connectSeconds float64
}

// idleChannelSize is the size of the channels the idle connections are
// members of.
const idleChannelSize = 10

// measureIdle reads the relay's memory, runs connect to open n idle
// connections, lets them settle, reads the memory again, and closes
// them.
func measureIdle(srv *server, n int, warm func() error, connect func() (func(), error)) (idleResult, error) {
	if err := warm(); err != nil {
		return idleResult{}, err
	}
	time.Sleep(200 * time.Millisecond)
	before, err := srv.mem()
	if err != nil {
		return idleResult{}, err
	}
	t := time.Now()
	closeConns, err := connect()
	if err != nil {
		return idleResult{}, err
	}
	el := time.Since(t)
	defer closeConns()
	time.Sleep(time.Second)
	after, err := srv.mem()
	if err != nil {
		return idleResult{}, err
	}
	f := float64(n)
	return idleResult{
		conns:          n,
		rssPerConn:     float64(after.RSS-before.RSS) / f,
		heapPerConn:    float64(after.HeapAlloc-before.HeapAlloc) / f,
		stackPerConn:   float64(after.StackInuse-before.StackInuse) / f,
		goroutinesConn: float64(after.Goroutines-before.Goroutines) / f,
		connectSeconds: el.Seconds(),
	}, nil
}

// idleBaseline opens n connections to the baseline, in channels of
// idleChannelSize.
func idleBaseline(tmp string, n int) (idleResult, error) {
	srv, err := startServer("baseline", tmp)
	if err != nil {
		return idleResult{}, err
	}
	defer srv.stop()
	channels := make([]crypto.ChannelID, (n+idleChannelSize-1)/idleChannelSize)
	for i := range channels {
		rand.Read(channels[i][:])
	}
	dial := func(count int, ch func(i int) crypto.ChannelID) ([]*baseClient, error) {
		out := make([]*baseClient, count)
		err := parallel(count, 32, func(i int) error {
			ctx, cancel := timeoutCtx(30 * time.Second)
			defer cancel()
			c, err := dialBaseline(ctx, srv.url, ch(i))
			out[i] = c
			return err
		})
		if err != nil {
			closeBase(out)
		}
		return out, err
	}
	warm := func() error {
		cs, err := dial(8, func(int) crypto.ChannelID { return crypto.ChannelID{1} })
		closeBase(cs)
		return err
	}
	return measureIdle(srv, n, warm, func() (func(), error) {
		cs, err := dial(n, func(i int) crypto.ChannelID { return channels[i/idleChannelSize] })
		return func() { closeBase(cs) }, err
	})
}

func closeBase(cs []*baseClient) {
	parallel(len(cs), 32, func(i int) error {
		if cs[i] != nil {
			cs[i].Close()
		}
		return nil
	})
}

// idleChannel is a channel of the idle run at the real relay: what the
// relay sees of it (an access list of pseudonym keys, signed by the
// organizer) and the members' pseudonyms.
type idleChannel struct {
	list *crypto.AccessList
	keys []*crypto.ChannelKeys
}

// newIdleChannels makes the channels of the idle run. Each one's first
// access list already lists all its members (the relay accepts any first
// list signed by an admin it lists), which spares an access-list change
// per channel; no roster is made, since the relay never sees one.
func newIdleChannels(n int) ([]*idleChannel, error) {
	out := make([]*idleChannel, (n+idleChannelSize-1)/idleChannelSize)
	err := parallel(len(out), 4, func(i int) error {
		c := &idleChannel{}
		for range idleChannelSize {
			k, err := crypto.GenerateChannelKeys()
			if err != nil {
				return err
			}
			c.keys = append(c.keys, k)
		}
		var nonce [16]byte
		rand.Read(nonce[:])
		var secret [32]byte
		rand.Read(secret[:])
		channel := crypto.NewChannelID(c.keys[0].SigningPublicKey(), nonce)
		admin := crypto.NewAdminKey(channel, 1, secret)
		c.list = &crypto.AccessList{
			Channel:   channel,
			Version:   1,
			Retention: crypto.PolicyHard.Retention(),
			Admin:     admin.SigningPublicKey(),
		}
		for _, k := range c.keys {
			c.list.Entries = append(c.list.Entries, crypto.AccessEntry{Key: k.SigningPublicKey()})
		}
		for len(c.list.Entries) < crypto.MemberBucket(len(c.keys)) {
			k, err := crypto.GenerateChannelKeys()
			if err != nil {
				return err
			}
			c.list.Entries = append(c.list.Entries, crypto.AccessEntry{Key: k.SigningPublicKey()})
		}
		slices.SortFunc(c.list.Entries, func(a, b crypto.AccessEntry) int { return bytes.Compare(a.Key, b.Key) })
		if err := c.list.Sign(admin, admin); err != nil {
			return err
		}
		out[i] = c
		return nil
	})
	return out, err
}

// idleReal opens n authenticated connections to the real relay, one per
// member of n/idleChannelSize channels.
func idleReal(tmp string, n int) (idleResult, error) {
	chans, err := newIdleChannels(n + idleChannelSize) // one more channel to warm up with
	if err != nil {
		return idleResult{}, err
	}
	srv, err := startServer("real", tmp)
	if err != nil {
		return idleResult{}, err
	}
	defer srv.stop()
	err = parallel(len(chans), 8, func(i int) error {
		ctx, cancel := timeoutCtx(60 * time.Second)
		defer cancel()
		c, err := relayclient.Dial(ctx, srv.url)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Create(ctx, chans[i].list); err != nil {
			return fmt.Errorf("creating a channel: %w", err)
		}
		return nil
	})
	if err != nil {
		return idleResult{}, err
	}
	dial := func(count int, keyAt func(i int) (*idleChannel, *crypto.ChannelKeys)) ([]*relayclient.Conn, error) {
		out := make([]*relayclient.Conn, count)
		err := parallel(count, 32, func(i int) error {
			ctx, cancel := timeoutCtx(30 * time.Second)
			defer cancel()
			c, err := relayclient.Dial(ctx, srv.url)
			if err != nil {
				return err
			}
			out[i] = c
			ch, k := keyAt(i)
			return c.Auth(ctx, ch.list.Channel, k)
		})
		if err != nil {
			closeReal(out)
		}
		return out, err
	}
	warmChan := chans[len(chans)-1]
	warm := func() error {
		cs, err := dial(8, func(i int) (*idleChannel, *crypto.ChannelKeys) { return warmChan, warmChan.keys[i%idleChannelSize] })
		closeReal(cs)
		return err
	}
	return measureIdle(srv, n, warm, func() (func(), error) {
		cs, err := dial(n, func(i int) (*idleChannel, *crypto.ChannelKeys) {
			c := chans[i/idleChannelSize]
			return c, c.keys[i%idleChannelSize]
		})
		return func() { closeReal(cs) }, err
	})
}

func closeReal(cs []*relayclient.Conn) {
	parallel(len(cs), 32, func(i int) error {
		if cs[i] != nil {
			cs[i].Close()
		}
		return nil
	})
}
