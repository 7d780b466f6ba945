package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"parley/client"
	"parley/internal/relayclient"
)

// global holds the options that come before the command.
type global struct {
	home           string
	passphraseFile string
	// proxy is the SOCKS5 proxy for every relay connection: --proxy,
	// else $PARLEY_PROXY, else $ALL_PROXY.
	proxy string
	// spread bounds the random pauses that keep one person's
	// connections apart (spread.go): $PARLEY_SYNC_SPREAD, else 3 s.
	spread time.Duration
}

// parseGlobal takes the global options from anywhere on the line (before
// a "--"), so that "parley channel list --home org" works as well as
// "parley --home org channel list", and returns the rest in order.
func parseGlobal(e *env, args []string) (*global, []string, error) {
	g := &global{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var dst *string
		switch {
		case !strings.HasPrefix(a, "-"):
		case name == "home":
			dst = &g.home
		case name == "passphrase-file":
			dst = &g.passphraseFile
		case name == "proxy":
			dst = &g.proxy
		}
		if dst == nil {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, nil, usagef("flag needs an argument: --%s", name)
			}
			i++
			value = args[i]
		}
		*dst = value
	}
	if g.home == "" {
		g.home = e.getenv("PARLEY_HOME")
	}
	// Someone who set a proxy meant every connection to use it: a value
	// Parley cannot use is an error, never a silent direct connection.
	for _, v := range []string{"PARLEY_PROXY", "ALL_PROXY", "all_proxy"} {
		if g.proxy == "" {
			g.proxy = e.getenv(v)
		}
	}
	if g.proxy != "" {
		if _, err := relayclient.ParseProxy(g.proxy); err != nil {
			return nil, nil, fmt.Errorf("%v (set by --proxy, PARLEY_PROXY or ALL_PROXY; Parley speaks SOCKS5 only)", err)
		}
	}
	g.spread = defaultSpread
	if v := e.getenv("PARLEY_SYNC_SPREAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, nil, usagef("PARLEY_SYNC_SPREAD: a duration such as 3s, or 0")
		}
		g.spread = d
	}
	if g.home == "" {
		dir, err := os.UserHomeDir()
		if err != nil {
			return nil, nil, errors.New("no home folder: use --home DIR or set PARLEY_HOME")
		}
		g.home = filepath.Join(dir, ".parley")
	}
	return g, rest, nil
}

// passphrase finds the passphrase: the file given with --passphrase-file
// (asked for explicitly, so it wins), $PARLEY_PASSPHRASE, or a prompt on
// the terminal (confirm asks twice, for init).
func (g *global) passphrase(e *env, confirm bool) (string, error) {
	if p, err := g.givenPassphrase(e); p != "" || err != nil {
		return p, err
	}
	if !e.terminal {
		return "", errors.New("no passphrase: set PARLEY_PASSPHRASE, use --passphrase-file, or run in a terminal")
	}
	p, err := prompt(e, "Passphrase: ")
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := prompt(e, "Passphrase again: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the passphrases differ")
		}
	}
	if p == "" {
		return "", errors.New("empty passphrase")
	}
	return p, nil
}

// givenPassphrase is the passphrase of --passphrase-file or
// $PARLEY_PASSPHRASE, or "" when neither gives one.
func (g *global) givenPassphrase(e *env) (string, error) {
	if g.passphraseFile != "" {
		data, err := os.ReadFile(e.path(g.passphraseFile))
		if err != nil {
			return "", fmt.Errorf("passphrase file: %w", err)
		}
		p := strings.TrimRight(string(data), "\r\n")
		if p == "" {
			return "", errors.New("passphrase file is empty")
		}
		return p, nil
	}
	return e.getenv("PARLEY_PASSPHRASE"), nil
}

func prompt(e *env, label string) (string, error) {
	fmt.Fprint(e.stderr, label)
	defer fmt.Fprintln(e.stderr)
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// session is the unlocked home one command works on: its own unlock,
// closed at the end of the command, or the home an unlock agent holds
// (agent.go), lent for the command and left open.
type session struct {
	*client.Client
	lent bool
}

// Close closes the home unless the agent lent it.
func (s *session) Close() error {
	if s.lent {
		return nil
	}
	return s.Client.Close()
}

// open unlocks the home, or, in an unlock agent, lends the home it holds.
func (g *global) open(e *env) (*session, error) {
	if e.held != nil {
		if err := e.held.SetProxy(g.proxy); err != nil {
			return nil, err
		}
		e.held.AdminSpread = g.spread
		return &session{Client: e.held, lent: true}, nil
	}
	p, err := g.passphrase(e, false)
	if err != nil {
		return nil, err
	}
	return g.openWith(p)
}

// openWith unlocks the home with passphrase p and sets its proxy.
func (g *global) openWith(p string) (*session, error) {
	c, err := client.Open(g.home, p)
	if err != nil {
		return nil, err
	}
	if err := c.SetProxy(g.proxy); err != nil {
		c.Close()
		return nil, err
	}
	c.AdminSpread = g.spread
	return &session{Client: c}, nil
}

// flags parses a command's flags, allowing them before or after the
// positional arguments.
func flags(name string, args []string, define func(fs *flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	define(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", name, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// days is a duration flag that also takes whole days ("7d"), the unit
// people use for invites and memberships (client.ParseDuration).
type days struct{ d *time.Duration }

func (f days) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f days) Set(s string) error {
	v, err := client.ParseDuration(s)
	if err != nil {
		return err
	}
	*f.d = v
	return nil
}
