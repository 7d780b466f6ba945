package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"parley/client"
)

func cmdDraft(ctx context.Context, e *env, g *global, args []string) error {
	if len(args) == 0 {
		return usagef("usage: parley draft put|list|get|diff|initial|agreement ...")
	}
	switch args[0] {
	case "put":
		return cmdDraftPut(ctx, e, g, args[1:])
	case "list":
		return cmdDraftList(ctx, e, g, args[1:])
	case "get":
		return cmdDraftGet(ctx, e, g, args[1:])
	case "diff":
		return cmdDraftDiff(ctx, e, g, args[1:])
	case "initial":
		return cmdDraftInitial(ctx, e, g, args[1:])
	case "agreement":
		return cmdDraftAgreement(ctx, e, g, args[1:])
	}
	return usagef("unknown draft command %q", args[0])
}

func cmdDraftPut(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("draft put", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return usagef("usage: parley draft put CHANNEL NAME FILE")
	}
	var data []byte
	if pos[2] == "-" {
		data, err = io.ReadAll(io.LimitReader(e.stdin, client.MaxDraft+1))
	} else {
		data, err = os.ReadFile(e.path(pos[2]))
	}
	if err != nil {
		return err
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.PutDraft(ctx, pos[0], pos[1], data)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, v)
	return nil
}

func cmdDraftList(ctx context.Context, e *env, g *global, args []string) error {
	var asJSON bool
	pos, err := flags("draft list", args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley draft list CHANNEL [--json]")
	}
	c, err := g.openSynced(ctx, e, pos[0])
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := c.Drafts(pos[0])
	if err != nil {
		return err
	}
	if asJSON {
		if list == nil {
			list = []client.DraftVersion{}
		}
		return printJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, d := range list {
		conflict := ""
		if d.Conflict {
			conflict = "\tCONFLICT: another version has this number"
		}
		var who []string
		for _, in := range d.Initials {
			who = append(who, fmt.Sprintf("%s (side %s)", client.Clean(in.Name), client.Clean(in.Side)))
		}
		initials := ""
		if len(who) > 0 {
			initials = "\tinitialled by " + strings.Join(who, ", ")
		}
		fmt.Fprintf(tw, "%s\tversion %d\t%s\t%s\t%d bytes\tsha256 %s%s%s\n", d.Name, d.Version, d.Author,
			d.Time.Local().Format("2006-01-02 15:04"), d.Size, d.SHA256[:16], conflict, initials)
	}
	return tw.Flush()
}

func cmdDraftGet(ctx context.Context, e *env, g *global, args []string) error {
	var version string
	pos, err := flags("draft get", args, func(fs *flag.FlagSet) {
		fs.StringVar(&version, "version", "", "version number, or a prefix of its sha256 (default: the latest)")
	})
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("usage: parley draft get CHANNEL NAME [--version N|SHA256-PREFIX]")
	}
	c, err := g.openSynced(ctx, e, pos[0])
	if err != nil {
		return err
	}
	defer c.Close()
	data, err := c.GetDraft(pos[0], pos[1], version)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(data)
	return err
}

func cmdDraftDiff(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("draft diff", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 4 {
		return usagef("usage: parley draft diff CHANNEL NAME V1 V2")
	}
	v1, v2 := pos[2], pos[3]
	for _, v := range []string{v1, v2} {
		if n, err := strconv.Atoi(v); err == nil && n < 1 {
			return usagef("versions are numbers from 1, or prefixes of their sha256")
		}
	}
	c, err := g.openSynced(ctx, e, pos[0])
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.DiffDraft(pos[0], pos[1], v1, v2)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, d)
	return nil
}

// openSynced unlocks the home and syncs channel, for the commands that
// read what the others put.
func (g *global) openSynced(ctx context.Context, e *env, channel string) (*session, error) {
	c, err := g.open(e)
	if err != nil {
		return nil, err
	}
	if _, err := c.Sync(ctx, channel); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
