package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"parley/chat"
	"parley/client"
)

// cmdChat is parley chat CHANNEL: the full-screen terminal client of
// package chat. It runs in the terminal's alternate screen, so nothing of
// the conversation lands in the scrollback, and clears the screen on exit.
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
	s, err := chat.New(chat.Config{Client: c.Client, Channel: pos[0], CheckPassphrase: chat.HomeCheck(g.home, pos[0])})
	if err != nil {
		return err
	}
	err = s.Run(ctx, in, out)
	if errors.Is(err, chat.ErrEnd) {
		return &client.NoChannelError{Name: pos[0]}
	}
	if n, qerr := c.Queued(pos[0]); qerr == nil && n > 0 {
		fmt.Fprintf(e.stderr, "%s to be sent; parley sync %s sends them\n", client.Count(n, "item waits", "items wait"), shellQuote(pos[0]))
	}
	return err
}
