package main

import (
	"filippo.io/age"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"parley/client"
	"parley/crypto"
)

func cmdInit(e *env, g *global, args []string) error {
	var name string
	var duress bool
	pos, err := flags("init", args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "your display name")
		fs.BoolVar(&duress, "duress", false, "also set a duress passphrase")
	})
	if err != nil {
		return err
	}
	if name == "" || len(pos) > 0 {
		return usagef("usage: parley init --name NAME [--duress]")
	}
	p, err := g.passphrase(e, true)
	if err != nil {
		return err
	}
	var d string
	if duress {
		// Asked before anything is written: a home is never left
		// without the duress passphrase its owner meant to set.
		if d, err = duressPassphrase(e); err != nil {
			return err
		}
		if d == p {
			return errors.New("the duress passphrase must differ from the passphrase")
		}
	}
	if err := client.Init(g.home, name, p); err != nil {
		return err
	}
	if duress {
		if err := client.SetDuress(g.home, p, d); err != nil {
			return err
		}
	}
	c, err := g.openWith(p)
	if err != nil {
		return err
	}
	defer c.Close()
	id := c.Whoami()
	fmt.Fprintf(e.stdout, "identity created for %s\nsafety number: %s\n", id.Name, id.SafetyNumber)
	return nil
}

func cmdWhoami(e *env, g *global, args []string) error {
	var asJSON bool
	pos, err := flags("whoami", args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("usage: parley whoami [--json]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	id := c.Whoami()
	if asJSON {
		return printJSON(e.stdout, id)
	}
	fmt.Fprintf(e.stdout, "%s\nsafety number: %s\n", id.Name, id.SafetyNumber)
	return nil
}

func cmdChannelCreate(ctx context.Context, e *env, g *global, args []string) error {
	var relays stringList
	var secrecy, side, rule string
	pos, err := flags("channel create", args, func(fs *flag.FlagSet) {
		fs.Var(&relays, "relay", "relay URL with its pin (1 to 5 times)")
		fs.StringVar(&secrecy, "secrecy", "hard", "hard or soft")
		fs.StringVar(&side, "side", "", "your own side (delegation), e.g. facilitators")
		fs.StringVar(&rule, "quorum", "none", "admission rule: every-side (roster changes need an organizer of every side) or none")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(relays) == 0 {
		return usagef("usage: parley channel create CHANNEL --relay URL [--relay URL2 ...] [--secrecy hard|soft] [--side SIDE] [--quorum every-side|none]")
	}
	policy, ok := crypto.ParsePolicy(secrecy)
	if !ok {
		return usagef("--secrecy must be hard or soft")
	}
	quorum, ok := crypto.ParseQuorum(rule)
	if !ok {
		return usagef("--quorum must be every-side or none")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.CreateChannelWithRule(ctx, pos[0], side, quorum, relays[0], policy, relays[1:]...); err != nil {
		return err
	}
	on := ""
	if len(relays) > 1 {
		on = fmt.Sprintf(" on %d relays", len(relays))
	}
	if rule != "none" {
		on += "; roster changes need an organizer of every side that has one"
	}
	fmt.Fprintf(e.stdout, "created %s (%s secrecy)%s; you are its organizer\n", pos[0], policy, on)
	return nil
}

func cmdChannelList(e *env, g *global, args []string) error {
	var asJSON bool
	pos, err := flags("channel list", args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("usage: parley channel list [--json]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := c.Channels()
	if err != nil {
		return err
	}
	if asJSON {
		if list == nil {
			list = []client.ChannelInfo{}
		}
		return printJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, ch := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", client.Clean(ch.Name), orDash(ch.Role), ch.Status, orDash(ch.Policy), client.Count(ch.Members, "member", "members"))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdInvite(ctx context.Context, e *env, g *global, args []string) error {
	var roleName string
	var expires, membership time.Duration
	var side string
	pos, err := flags("invite", args, func(fs *flag.FlagSet) {
		fs.StringVar(&roleName, "role", "", "participant, mentor or organizer")
		fs.StringVar(&side, "side", "", "the side (delegation) the invitee belongs to")
		expires = 24 * time.Hour
		fs.Var(days{&expires}, "expires", "how long the code stays valid")
		fs.Var(days{&membership}, "membership", "make the membership itself expire this long after admission")
	})
	if err != nil {
		return err
	}
	role, ok := crypto.ParseRole(roleName)
	if len(pos) != 1 || !ok {
		return usagef("usage: parley invite CHANNEL --role participant|mentor|organizer [--side SIDE] [--expires D] [--membership D]")
	}
	if membership < 0 {
		return usagef("--membership must be positive")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	code, err := c.InviteToSide(ctx, pos[0], role, side, expires, membership)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, code)
	return nil
}

func cmdJoin(ctx context.Context, e *env, g *global, args []string) error {
	var as string
	pos, err := flags("join", args, func(fs *flag.FlagSet) { fs.StringVar(&as, "as", "", "local name for the channel") })
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley join CODE [--as CHANNEL]")
	}
	if pos[0] == "-" {
		// Reading the code from stdin keeps it out of the process list
		// and shell history.
		data, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
		if err != nil {
			return err
		}
		pos[0] = string(data)
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	name, err := c.Join(ctx, pos[0], as)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "join request sent for %s; once an organizer admits you, run: parley sync %s\n", name, shellQuote(name))
	return nil
}

func cmdPending(ctx context.Context, e *env, g *global, args []string) error {
	var asJSON bool
	pos, err := flags("pending", args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley pending CHANNEL [--json]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := c.Pending(ctx, pos[0])
	if err != nil {
		return err
	}
	proposals, err := c.Proposals(pos[0])
	if err != nil {
		return err
	}
	if asJSON {
		// One list of what waits for an organizer, each item with its
		// kind: a join request, or a roster change waiting for approvals.
		items := []pendingItem{}
		for i := range list {
			items = append(items, pendingItem{Kind: "join", PendingJoin: &list[i]})
		}
		for i := range proposals {
			items = append(items, pendingItem{Kind: "proposal", Proposal: &proposals[i]})
		}
		return printJSON(e.stdout, items)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, p := range list {
		fmt.Fprintf(tw, "%s\t%s%s\tsafety number %s\n", client.Clean(p.Name), p.Role, sideLabel(p.Side), p.SafetyNumber)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printProposals(e.stdout, proposals)
	return nil
}

// pendingItem is one element of parley pending --json.
type pendingItem struct {
	Kind string `json:"kind"` // join or proposal
	*client.PendingJoin
	*client.Proposal
}

func cmdAdmit(ctx context.Context, e *env, g *global, args []string) error {
	var all bool
	pos, err := flags("admit", args, func(fs *flag.FlagSet) { fs.BoolVar(&all, "all", false, "admit every pending request") })
	if err != nil {
		return err
	}
	if len(pos) < 1 || (all == (len(pos) > 1)) {
		return usagef("usage: parley admit CHANNEL (--all | NAME...)")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	names, err := c.Admit(ctx, pos[0], pos[1:], all)
	for _, n := range names {
		fmt.Fprintf(e.stdout, "admitted %s\n", client.Clean(n))
	}
	return waitingOK(e, err)
}

func cmdMembers(e *env, g *global, args []string) error {
	var asJSON bool
	pos, err := flags("members", args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley members CHANNEL [--json]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := c.Members(pos[0])
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, m := range list {
		v := "unverified"
		if m.Verified {
			v = "verified"
		}
		if m.You {
			v = "you"
		}
		exp := ""
		if m.Expires != nil {
			exp = "expires " + m.Expires.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\t%s\n", client.Clean(m.Name), m.Role, sideLabel(m.Side), m.SafetyNumber, v, exp)
	}
	return tw.Flush()
}

func cmdRemove(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("remove", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("usage: parley remove CHANNEL MEMBER")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Remove(ctx, pos[0], pos[1]); err != nil {
		return waitingOK(e, err)
	}
	fmt.Fprintf(e.stdout, "removed %s: the relay took the new epoch without them\n", pos[1])
	return nil
}

func cmdLeave(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("leave", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley leave CHANNEL")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Leave(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "left %s; its keys and transcript are erased from this home\n", pos[0])
	return nil
}

// maxInput bounds a message read from stdin.
const maxInput = 1 << 20

func cmdSend(ctx context.Context, e *env, g *global, args []string, brief bool) error {
	name := "send"
	if brief {
		name = "brief"
	}
	var side string
	pos, err := flags(name, args, func(fs *flag.FlagSet) {
		if brief {
			fs.StringVar(&side, "side", "", "brief only your own side (delegation): its participants, organizers and mentors")
		}
	})
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		if brief {
			return usagef("usage: parley brief CHANNEL [--side SIDE] [TEXT]")
		}
		return usagef("usage: parley %s CHANNEL [TEXT]", name)
	}
	text := ""
	if len(pos) == 2 {
		text = pos[1]
	} else {
		data, err := io.ReadAll(io.LimitReader(e.stdin, maxInput+1))
		if err != nil {
			return err
		}
		if len(data) > maxInput {
			return errors.New("message on stdin is too long")
		}
		text = strings.TrimRight(string(data), "\n")
	}
	comp := crypto.Talks
	if brief {
		comp = crypto.Briefings
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	if side != "" {
		readers, err := sideReaders(c.Client, pos[0], side)
		if err != nil {
			return err
		}
		// Said before it goes: who will read it.
		fmt.Fprintf(e.stderr, "to side %s only: %s\n", client.Clean(side), strings.Join(readers, ", "))
		comp = crypto.Side
	}
	err = c.Send(ctx, pos[0], comp, text)
	var queued *client.QueuedError
	var unrecorded *client.SentUnrecordedError
	var once *client.SentOnceNotice
	switch {
	case errors.As(err, &once):
		fmt.Fprintln(e.stdout, once.Error())
		return nil
	case errors.As(err, &queued):
		// Safely queued is a success: a script that ran send again
		// would post the message twice.
		fmt.Fprintln(e.stdout, queued.Error())
		return nil
	case errors.As(err, &unrecorded):
		fmt.Fprintf(e.stderr, "parley: warning: %s\n", client.OneLine(unrecorded.Error()))
		return nil
	}
	return err
}

func cmdSync(ctx context.Context, e *env, g *global, args []string) error {
	jitter := g.spread
	pos, err := flags("sync", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&jitter, "spread", jitter, "most random pause before each channel when syncing all (0: none)")
	})
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("usage: parley sync [CHANNEL] [--spread D]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	c.AdminSpread = jitter
	names := pos
	if len(names) == 0 {
		list, err := c.Channels()
		if err != nil {
			return err
		}
		for _, ch := range list {
			names = append(names, ch.Name)
		}
	}
	var failed error
	if len(names) < 2 {
		jitter = 0 // one channel: nothing to link
	}
	steps := spread(names, jitter)
	for _, step := range steps {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(step.wait):
		}
		n := step.name
		rep, err := c.Sync(ctx, n)
		switch {
		case err != nil:
			fmt.Fprintf(e.stdout, "%s: %v\n", n, client.OneLine(err.Error()))
			failed = fmt.Errorf("sync of %s failed: %w", n, err)
		case rep.Burned:
			fmt.Fprintf(e.stdout, "%s: the channel was burned; it is erased from this home\n", n)
		case rep.Pending:
			fmt.Fprintf(e.stdout, "%s: waiting for an organizer to admit you\n", n)
		default:
			for _, en := range rep.New {
				if en.Kind == client.KindSystem {
					fmt.Fprintf(e.stdout, "%s: %s\n", n, client.Clean(en.Text))
				}
			}
			fmt.Fprintf(e.stdout, "%s: %d new\n", n, len(rep.New))
		}
		if rep != nil {
			for _, p := range rep.RelayProblems {
				fmt.Fprintf(e.stdout, "%s: %s\n", n, client.OneLine(p))
			}
		}
	}
	return failed
}

func cmdRead(ctx context.Context, e *env, g *global, args []string, sync bool) error {
	var follow, asJSON bool
	var export, to string
	name := "read"
	if !sync {
		name = "transcript"
	}
	pos, err := flags(name, args, func(fs *flag.FlagSet) {
		if sync {
			fs.BoolVar(&follow, "follow", false, "keep printing new messages")
		} else {
			fs.StringVar(&export, "export", "", "write the transcript to this new file")
			fs.StringVar(&to, "to", "", "age recipient to encrypt the export to")
		}
		fs.BoolVar(&asJSON, "json", false, "JSON lines")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		if sync {
			return usagef("usage: parley read CHANNEL [--follow] [--json]")
		}
		return usagef("usage: parley transcript CHANNEL [--export FILE [--to AGE_RECIPIENT]]")
	}
	if to != "" && export == "" {
		return usagef("--to goes with --export FILE")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	if export != "" {
		var recipients []age.Recipient
		if to != "" {
			if !strings.HasPrefix(to, "age1") && !strings.HasPrefix(to, "ssh-") {
				to = e.path(to) // a file of recipients
			}
			if recipients, err = client.ParseRecipients(to); err != nil {
				return err
			}
		}
		if export == "-" {
			// The export itself is the output; nothing else is printed.
			return c.ExportTo(pos[0], e.stdout, recipients)
		}
		if err := c.Export(pos[0], e.path(export), recipients); err != nil {
			return err
		}
		switch len(recipients) {
		case 0:
			fmt.Fprintf(e.stdout, "wrote %s in plain text (soft policy)\n", export)
		case 1:
			fmt.Fprintf(e.stdout, "wrote %s, encrypted to the given recipient\n", export)
		default:
			fmt.Fprintf(e.stdout, "wrote %s, encrypted to the %d given recipients\n", export, len(recipients))
		}
		return nil
	}
	show := func(en client.Entry) { printEntry(e.stdout, en, asJSON) }
	if sync {
		rep, err := c.Sync(ctx, pos[0])
		switch {
		case errors.Is(err, client.ErrNoChannel):
			return err
		case err != nil:
			// What this home has is still worth reading; say how
			// fresh it is.
			fmt.Fprintf(e.stderr, "parley: warning: not synced (%s); showing this home's transcript as it is\n", client.OneLine(err.Error()))
		case rep.Burned:
			return errors.New("the channel was burned; it is erased from this home")
		}
	}
	entries, mark, err := c.ReadAfter(pos[0], 0)
	if err != nil {
		return err
	}
	for _, en := range entries {
		show(en)
	}
	if follow {
		return c.Follow(ctx, pos[0], &mark, show, nil)
	}
	return nil
}

// jsonEntry is the documented JSON line of read --json.
type jsonEntry struct {
	Time   string `json:"time"`
	Sender string `json:"sender"`
	Kind   string `json:"kind"`
	Side   string `json:"side,omitempty"` // the side of a side-briefing
	Text   string `json:"text"`
	// Reason and Alarm classify system lines (client.Reason): a program
	// tells an attack from a late message without reading English.
	Reason string `json:"reason,omitempty"`
	Alarm  bool   `json:"alarm,omitempty"`
}

func printEntry(w io.Writer, en client.Entry, asJSON bool) {
	if asJSON {
		printJSON(w, jsonEntry{Time: en.Time.UTC().Format(time.RFC3339), Sender: en.Sender, Kind: en.Kind, Side: en.Side, Text: en.Text, Reason: string(en.Reason), Alarm: en.Alarm})
		return
	}
	fmt.Fprintln(w, client.FormatEntry(en))
}

func cmdVerify(e *env, g *global, args []string) error {
	var confirm bool
	pos, err := flags("verify", args, func(fs *flag.FlagSet) { fs.BoolVar(&confirm, "confirm", false, "mark as verified") })
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("usage: parley verify CHANNEL MEMBER [--confirm]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	sn, verified, err := c.Verify(pos[0], pos[1], confirm)
	if err != nil {
		return err
	}
	state := "not verified: compare it in person, then run with --confirm"
	if verified {
		state = "verified"
	}
	fmt.Fprintf(e.stdout, "%s: %s (%s)\n", pos[1], sn, state)
	return nil
}

func cmdBurn(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("burn", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley burn CHANNEL")
	}
	if e.terminal {
		fmt.Fprintf(e.stderr, "Burning erases %s at the relay and for every member, for good. Type its name to confirm: ", pos[0])
		answer, err := prompt(e, "")
		if err != nil {
			return err
		}
		if answer != pos[0] {
			return errors.New("not confirmed; nothing was burned")
		}
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	var partial *client.BurnIncompleteError
	if err := c.Burn(ctx, pos[0]); errors.As(err, &partial) {
		fmt.Fprintf(e.stdout, "burned %s: %s\n", pos[0], client.OneLine(partial.Error()))
		return nil
	} else if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "burned %s\n", pos[0])
	return nil
}

// sideLabel is how a member's side shows beside its role.
func sideLabel(side string) string {
	if side == "" {
		return ""
	}
	return ", side " + client.Clean(side)
}

// sideReaders checks that side is this member's own side in channel
// and returns the names of its members: who reads its briefings.
func sideReaders(c *client.Client, channel, side string) ([]string, error) {
	members, err := c.Members(channel)
	if err != nil {
		return nil, err
	}
	var names []string
	own := ""
	for _, m := range members {
		if m.You {
			own = m.Side
		}
		if m.Side == side {
			names = append(names, client.Clean(m.Name))
		}
	}
	switch {
	case own == "":
		return nil, errors.New("you belong to no side: brief the whole channel without --side")
	case own != side:
		return nil, fmt.Errorf("you can brief only your own side, %s", client.Clean(own))
	}
	return names, nil
}
