package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"parley/client"
)

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// cmdChannelRelays shows a channel's relays and what each did, or (an
// organizer) adds or removes one.
func cmdChannelRelays(ctx context.Context, e *env, g *global, args []string) error {
	var asJSON bool
	pos, err := flags("channel relays", args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	const use = "usage: parley channel relays CHANNEL [--json] [add URL | remove URL|N]"
	if len(pos) != 1 && len(pos) != 3 {
		return usagef(use)
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	name := pos[0]
	if len(pos) == 3 {
		switch pos[1] {
		case "add":
			err = c.AddRelay(ctx, name, pos[2])
		case "remove":
			err = c.RemoveRelay(ctx, name, pos[2])
		default:
			return usagef(use)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: the new relay list is in a new roster sent to every relay; members use it once they hold it\n", name)
		return nil
	}
	list, err := c.Relays(name)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, list)
	}
	for _, r := range list {
		state := "not reached yet"
		switch {
		case r.Forgot:
			state = "does not know the channel (lost its data?)"
		case r.Error != "" && !r.Reachable:
			state = "unreachable: " + r.Error
		case r.LastFetch != nil:
			state = "reachable, last fetch " + r.LastFetch.Local().Format(time.DateTime)
		}
		fmt.Fprintf(e.stdout, "relay %d  %s\n  %s\n", r.ID, r.URL, client.OneLine(state))
		if r.Withheld > 0 {
			var from []string
			for n, k := range r.WithheldFrom {
				from = append(from, fmt.Sprintf("%d that %s delivered", k, n))
			}
			fmt.Fprintf(e.stdout, "  withheld %d frames: %s\n", r.Withheld, strings.Join(from, ", "))
		}
		if r.ToCopy > 0 {
			fmt.Fprintf(e.stdout, "  %d of this home's frames still to copy there\n", r.ToCopy)
		}
	}
	return nil
}
