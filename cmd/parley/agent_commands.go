package main

// parley unlock and parley lock, the commands that start and end the
// unlock agent (agent.go).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"parley/client"
)

// cmdUnlock is parley unlock [--for D] [--idle D], or parley unlock
// --status.
func cmdUnlock(ctx context.Context, e *env, g *global, args []string) error {
	var d, idle time.Duration
	var status bool
	pos, err := flags("unlock", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&d, "for", defaultUnlockFor, "how long the home stays unlocked at most")
		fs.DurationVar(&idle, "idle", defaultUnlockIdle, "lock after this long without a command")
		fs.BoolVar(&status, "status", false, "say whether the home is unlocked, and until when; unlocks nothing")
	})
	if err != nil {
		return err
	}
	const use = "usage: parley unlock [--for D] [--idle D] | parley unlock --status"
	switch {
	case len(pos) != 0:
		return usagef(use)
	case status:
		return unlockStatus(e, g)
	case d < time.Second || d > maxUnlockFor:
		return usagef("--for must be between 1s and %s", shortDuration(maxUnlockFor))
	case idle < time.Second || idle > maxUnlockFor:
		return usagef("--idle must be between 1s and %s", shortDuration(maxUnlockFor))
	}
	if !client.HomeExists(g.home) {
		return client.ErrNoHome
	}
	if st, err := agentStatusOf(g.home); err != nil {
		return err
	} else if st != nil {
		return fmt.Errorf("this home is already unlocked until %s; parley lock ends that first", clock(st.Until))
	}
	if err := checkPrivate(g.home); err != nil {
		return err
	}
	if _, err := agentSocket(g.home); err != nil {
		return err
	}
	if err := agentSupported(); err != nil {
		return err
	}
	p, err := g.passphrase(e, false)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(g.home)
	if err != nil {
		return err
	}
	if err := spawnAgent(ctx, agentConfig{Home: abs, Passphrase: p, For: d, Idle: idle}); err != nil {
		return err
	}
	// Said only once the agent answers on its socket.
	st, err := agentStatusOf(g.home)
	if err != nil {
		return err
	}
	if st == nil {
		return errors.New("the unlock agent does not answer")
	}
	fmt.Fprintf(e.stdout, "unlocked until %s, or %s without a command; parley lock locks it now\n", clock(st.Until), shortDuration(st.Idle))
	return nil
}

// unlockStatus is parley unlock --status: what the home's agent, asked
// on its socket, says of its bounds. It asks for no passphrase, and says
// "locked" only when no agent answers.
func unlockStatus(e *env, g *global) error {
	if !client.HomeExists(g.home) {
		return client.ErrNoHome
	}
	st, err := agentStatusOf(g.home)
	if err != nil {
		return err
	}
	if st == nil {
		fmt.Fprintln(e.stdout, "locked: each command asks for the passphrase")
		return nil
	}
	fmt.Fprintf(e.stdout, "unlocked until %s, or %s without a command; parley lock locks it now\n", clock(st.Until), shortDuration(st.Idle))
	return nil
}

// cmdLock is parley lock.
func cmdLock(e *env, g *global, args []string) error {
	if len(args) != 0 {
		return usagef("usage: parley lock")
	}
	conn, err := dialAgent(g.home)
	if err != nil {
		return err
	}
	if conn == nil {
		fmt.Fprintln(e.stdout, "not unlocked; nothing to lock")
		return nil
	}
	defer conn.Close()
	f := &frameConn{rw: conn}
	if err := f.write(frameLock, nil); err != nil {
		return errors.New("the unlock agent does not answer")
	}
	if typ, _, err := f.read(); err != nil || typ != frameLocked {
		return errors.New("the unlock agent does not answer")
	}
	fmt.Fprintln(e.stdout, "locked")
	return nil
}

// agentStatusOf asks the agent of home for its bounds: nil when none
// answers.
func agentStatusOf(home string) (*agentStatus, error) {
	conn, err := dialAgent(home)
	if conn == nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	f := &frameConn{rw: conn}
	if err := f.write(frameStatus, nil); err != nil {
		return nil, nil
	}
	typ, payload, err := f.read()
	if err != nil || typ != frameStatusOK {
		return nil, nil
	}
	var st agentStatus
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, errors.New("the unlock agent sent a bad status")
	}
	return &st, nil
}

// clock is a time as a person reads it: 14:32, with seconds when it is
// less than two minutes away, with the day when it is not today.
func clock(t time.Time) string {
	t = t.Local()
	now := time.Now()
	switch {
	case t.YearDay() != now.YearDay() || t.Year() != now.Year():
		return t.Format("Mon 2 Jan 15:04")
	case t.Sub(now) < 2*time.Minute:
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}

// shortDuration is 15m rather than 15m0s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
