package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"parley/client"
	"parley/crypto"
)

// The every-side admission rule from the command line: setting it,
// approving the roster changes that wait for it, withdrawing one's own.

func cmdChannelQuorum(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("channel quorum", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("usage: parley channel quorum CHANNEL [every-side|none]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	if len(pos) == 1 {
		rule, err := c.Rule(pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, rule)
		return nil
	}
	q, ok := crypto.ParseQuorum(pos[1])
	if !ok {
		return usagef("the admission rule is every-side or none")
	}
	if err := c.SetRule(ctx, pos[0], q); err != nil {
		return waitingOK(e, err)
	}
	fmt.Fprintf(e.stdout, "the admission rule of %s is now %s\n", pos[0], pos[1])
	return nil
}

// waitingOK prints a change that waits for approvals, which is the
// command's success, not its failure; any other error is returned.
func waitingOK(e *env, err error) error {
	var w *client.AwaitingApprovalError
	if errors.As(err, &w) {
		fmt.Fprintln(e.stdout, client.OneLine(w.Error()))
		return nil
	}
	return err
}

func cmdApprove(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("approve", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	var version uint64
	if len(pos) == 2 {
		if version, err = strconv.ParseUint(pos[1], 10, 64); err != nil || version == 0 {
			return usagef("VERSION is a roster version number (parley pending shows it)")
		}
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("usage: parley approve CHANNEL [VERSION]")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Approve(ctx, pos[0], version)
	if p != nil {
		fmt.Fprintf(e.stdout, "approved %s's proposal of roster version %d: %s\n", client.Clean(p.Maker), p.Version, client.Clean(strings.Join(p.Change, ", ")))
		if len(p.Missing) > 0 {
			fmt.Fprintf(e.stdout, "it still needs the approval of an organizer of side %s\n", client.Clean(strings.Join(p.Missing, ", side ")))
		}
	}
	return err
}

func cmdWithdraw(ctx context.Context, e *env, g *global, args []string) error {
	pos, err := flags("withdraw", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley withdraw CHANNEL")
	}
	c, err := g.open(e)
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Withdraw(ctx, pos[0])
	if p != nil {
		fmt.Fprintf(e.stdout, "withdrew your proposal of roster version %d: %s\n", p.Version, client.Clean(strings.Join(p.Change, ", ")))
	}
	return err
}

// printProposals writes parley pending's lines for roster changes
// waiting for approvals.
func printProposals(w io.Writer, list []client.Proposal) {
	for _, p := range list {
		who := client.Clean(p.Maker)
		if p.Mine {
			who = "you"
		}
		fmt.Fprintf(w, "proposal: roster version %d by %s: %s\n", p.Version, who, client.Clean(strings.Join(p.Change, ", ")))
		switch {
		case p.Problem != "":
			fmt.Fprintf(w, "  cannot be approved: %s\n", client.Clean(p.Problem))
		case len(p.Missing) > 0:
			fmt.Fprintf(w, "  waits for the approval of an organizer of side %s\n", client.Clean(strings.Join(p.Missing, ", side ")))
		}
		if len(p.ApprovedBy) > 0 {
			fmt.Fprintf(w, "  approved by %s\n", client.Clean(strings.Join(p.ApprovedBy, ", ")))
		}
	}
}
