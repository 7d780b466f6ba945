package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"parley/client"
	"parley/crypto"
)

// confirmSigning asks before a signature that is not deniable: at a
// terminal, the person types yes; a script says --yes, having shown the
// warning.
func confirmSigning(e *env, yes bool, question string) error {
	if yes {
		return nil
	}
	if !e.terminal {
		return errors.New("not signed: this signature is not deniable; read the warning above and add --yes to sign")
	}
	answer, err := promptLine(e, question+" Type yes to sign: ")
	if err != nil {
		return err
	}
	if strings.TrimSpace(answer) != "yes" {
		return errors.New("not signed")
	}
	return nil
}

func cmdDraftInitial(ctx context.Context, e *env, g *global, args []string) error {
	var version string
	var yes bool
	pos, err := flags("draft initial", args, func(fs *flag.FlagSet) {
		fs.StringVar(&version, "version", "", "the version agreed: its number, or a prefix of its sha256")
		fs.BoolVar(&yes, "yes", false, "sign without asking (scripts), after the warning is shown")
	})
	if err != nil {
		return err
	}
	if len(pos) != 2 || version == "" {
		return usagef("usage: parley draft initial CHANNEL NAME --version N [--yes]")
	}
	c, err := g.openSynced(ctx, e, pos[0])
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.FindDraft(pos[0], pos[1], version)
	if err != nil {
		return err
	}
	me, err := self(c.Client, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, client.InitialWarning)
	fmt.Fprintf(e.stderr, "\nYou initial: %s version %d, sha256 %s, %d bytes\nas %s, side %s, safety number %s\n\n",
		client.Clean(d.Name), d.Version, d.SHA256, d.Size, client.Clean(me.Name), client.Clean(me.Side), me.SafetyNumber)
	if err := confirmSigning(e, yes, "Initial this version?"); err != nil {
		return err
	}
	// The full hash: exactly the version shown, whatever a sync brings.
	d, err = c.InitialDraft(ctx, pos[0], pos[1], d.SHA256)
	var queued *client.QueuedError
	switch {
	case errors.As(err, &queued):
		fmt.Fprintln(e.stdout, queued.Error())
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(e.stdout, "initialled %s version %d (sha256 %s) for side %s\n", client.Clean(d.Name), d.Version, d.SHA256[:16], client.Clean(me.Side))
	return nil
}

func self(c *client.Client, channel string) (*client.Member, error) {
	ms, err := c.Members(channel)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].You {
			return &ms[i], nil
		}
	}
	return nil, errors.New("this home is not in the roster")
}

func cmdDraftAgreement(ctx context.Context, e *env, g *global, args []string) error {
	var version, file string
	var yes bool
	pos, err := flags("draft agreement", args, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "export", "", "write the record to FILE")
		fs.StringVar(&version, "version", "", "the version: its number or a prefix of its sha256 (default: the newest every side initialled)")
		fs.BoolVar(&yes, "yes", false, "sign without asking (scripts), after the warning is shown")
	})
	if err != nil {
		return err
	}
	if len(pos) != 2 || file == "" {
		return usagef("usage: parley draft agreement CHANNEL NAME --export FILE [--version N] [--yes]")
	}
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("%s exists; the record is never written over a file", file)
	}
	c, err := g.openSynced(ctx, e, pos[0])
	if err != nil {
		return err
	}
	defer c.Close()
	// Checked before asking, so nobody confirms a record that cannot
	// be made; signed only after.
	a, err := c.ExportAgreement(pos[0], pos[1], version)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, client.AgreementWarning)
	fmt.Fprintln(e.stderr)
	printAgreement(e.stderr, a)
	fmt.Fprintln(e.stderr)
	if err := confirmSigning(e, yes, "Sign and write the record?"); err != nil {
		return err
	}
	out, err := a.MarshalJSON()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(e.path(file), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(out, '\n')); err != nil {
		f.Close()
		os.Remove(file)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(file)
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: %s version %d, initialled by %s\n", file, client.Clean(a.Draft), a.Version, signatories(a))
	return nil
}

func signatories(a *crypto.Agreement) string {
	var s []string
	for _, in := range a.Initials {
		s = append(s, fmt.Sprintf("%s (side %s)", client.Clean(in.Name), client.Clean(in.Side)))
	}
	return strings.Join(s, ", ")
}

// printAgreement says what a record holds, every line of it verified
// or about to be signed.
func printAgreement(w io.Writer, a *crypto.Agreement) {
	fmt.Fprintf(w, "draft:     %s, version %d, %d bytes\n", client.Clean(a.Draft), a.Version, len(a.Text))
	fmt.Fprintf(w, "sha256:    %x\n", a.SHA256)
	fmt.Fprintf(w, "channel:   %s (secrecy %s, sides %s)\n", a.Channel, a.Policy, client.Clean(strings.Join(a.Sides, ", ")))
	fmt.Fprintf(w, "founder:   %s, safety number %s\n", client.Clean(a.FounderName), a.FounderIdentity.SafetyNumber())
	for _, in := range a.Initials {
		fmt.Fprintf(w, "initialled by %s, side %s, safety number %s\n", client.Clean(in.Name), client.Clean(in.Side), in.Identity.SafetyNumber())
	}
}

// cmdAgreement is parley agreement verify FILE: offline, with no home.
func cmdAgreement(e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usagef("usage: parley agreement verify FILE")
	}
	pos, err := flags("agreement verify", args[1:], func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: parley agreement verify FILE")
	}
	data, err := readLimited(pos[0], crypto.MaxAgreementFile)
	if err != nil {
		return err
	}
	a, err := crypto.ParseAgreement(data)
	if err != nil {
		return fmt.Errorf("%s is not a valid agreement record: %w", pos[0], err)
	}
	if err := a.Verify(); err != nil {
		return fmt.Errorf("%s does NOT verify: %w", pos[0], err)
	}
	fmt.Fprintln(e.stdout, "verified: every side initialled this text, and the channel's founder vouches for the signatories")
	printAgreement(e.stdout, a)
	fmt.Fprintln(e.stdout, "The record proves that these keys signed. Compare each safety number with the one its holder shows (parley whoami) to know who they are.")
	return nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than any agreement record (%d bytes at most)", path, limit)
	}
	return data, nil
}

// promptLine asks for one line, shown as it is typed.
func promptLine(e *env, label string) (string, error) {
	fmt.Fprint(e.stderr, label)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
