package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	tea "github.com/charmbracelet/bubbletea"

	"parley/client"
)

// cmdChat is parley chat CHANNEL: the full-screen terminal client. It
// runs in the terminal's alternate screen, so nothing of the
// conversation lands in the scrollback, and clears the screen on exit.
func cmdChat(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("chat", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley chat CHANNEL")
	}
	in, okIn := e.stdin.(*os.File)
	out, okOut := e.stdout.(*os.File)
	if !e.terminal || !okIn || !okOut || !isTerminal(out) {
		return errors.New("chat needs a terminal; scripts use send, brief and read --follow")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	home := g.home
	m, err := newChatModel(chatConfig{client: c, channel: pos[0], checkPassphrase: func(p string) error {
		again, err := client.Open(home, p)
		if err != nil {
			return err
		}
		return again.Close()
	}})
	if err != nil {
		return err
	}
	defer m.close()
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err = p.Run()
	// The alternate screen is gone; clear the main one as well.
	fmt.Fprint(out, "\x1b[H\x1b[2J")
	m.close()
	if n, qerr := c.Queued(pos[0]); qerr == nil && n > 0 {
		fmt.Fprintf(e.stderr, "%s to be sent; parley sync %s sends them\n", client.Count(n, "item waits", "items wait"), shellQuote(pos[0]))
	}
	if errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
