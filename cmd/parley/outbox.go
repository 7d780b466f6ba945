package main

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"parley/client"
)

// cmdOutbox is parley outbox [CHANNEL] [--json] [--drop ID]: what this
// home has committed to send and the relay has not acknowledged, and a
// way to take a message back before it goes.
func cmdOutbox(e *env, g *global, args []string) error {
	var asJSON bool
	var drop int64
	pos, err := flags("outbox", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON output")
		fs.Int64Var(&drop, "drop", 0, "take back the queued message, briefing or draft with this id")
	})
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("usage: parley outbox [CHANNEL] [--json] [--drop ID]")
	}
	channel := ""
	if len(pos) == 1 {
		channel = pos[0]
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	items, err := c.Outbox(channel)
	if err != nil {
		return err
	}
	if drop != 0 {
		for _, it := range items {
			if it.ID == drop {
				if err := c.DropQueued(it.Channel, drop); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "dropped %s %d from the outbox of %s\n", it.Kind, drop, shellQuote(it.Channel))
				return nil
			}
		}
		return client.ErrNotQueued
	}
	if asJSON {
		if items == nil {
			items = []client.QueuedItem{}
		}
		return printJSON(e.stdout, items)
	}
	if len(items) == 0 {
		fmt.Fprintln(e.stdout, "nothing waits to be sent")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, it := range items {
		when := ""
		if it.Queued != nil {
			when = it.Queued.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", it.ID, client.Clean(it.Channel), it.Kind, when, preview(it.Text))
	}
	return tw.Flush()
}

// preview is the first line of a text, cut to fit a terminal line.
func preview(s string) string {
	s, _, cut := strings.Cut(s, "\n")
	if r := []rune(s); len(r) > 50 {
		s, cut = string(r[:50]), true
	}
	s = client.Clean(s)
	if cut {
		s += "…"
	}
	return s
}
