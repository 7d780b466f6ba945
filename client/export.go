package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// FormatEntry is the human form of a transcript entry that read,
// transcript and exports share. Text from others is made safe for a
// terminal: control characters (escape sequences among them) are shown
// as U+FFFD, and the lines of a multi-line message after the first are
// marked with "  | ", so that no one can write a line that passes for
// another entry.
func FormatEntry(e Entry) string {
	e.Sender, e.Text = Clean(e.Sender), Clean(e.Text)
	t := e.Time.Local().Format("2006-01-02 15:04")
	switch e.Kind {
	case KindSystem:
		return fmt.Sprintf("%s  * %s", t, e.Text)
	case KindBriefing:
		return fmt.Sprintf("%s  [briefing] %s: %s", t, e.Sender, e.Text)
	case KindSideBriefing:
		return fmt.Sprintf("%s  [side %s only] %s: %s", t, Clean(e.Side), e.Sender, e.Text)
	case KindDraft:
		return fmt.Sprintf("%s  %s %s", t, e.Sender, e.Text)
	}
	return fmt.Sprintf("%s  %s: %s", t, e.Sender, e.Text)
}

// ErrPlaintextExportRefused is returned for a plaintext export of a
// channel under the hard policy.
var ErrPlaintextExportRefused = errors.New("this channel's secrecy policy is hard: plaintext export is refused; give --to AGE_RECIPIENT for an age-encrypted export")

// ParseRecipients reads the age recipients of an export: an age1… or
// age1pq1… recipient, or the path of a file of them, one a line (hybrid
// recipients are about 2 KB long).
func ParseRecipients(to string) ([]age.Recipient, error) {
	text := to
	if !strings.HasPrefix(to, "age1") && !strings.HasPrefix(to, "ssh-") {
		data, err := os.ReadFile(to)
		if err != nil {
			return nil, fmt.Errorf("--to is neither an age recipient nor a readable file: %v", err)
		}
		text = string(data)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "ssh-") {
			return nil, errors.New("--to: ssh recipients are not supported; give an age1… or age1pq1… recipient (age-keygen makes one)")
		}
	}
	recipients, err := age.ParseRecipients(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("--to: %v", err)
	}
	return recipients, nil
}

// Export writes a channel's transcript to path, which must not exist:
// age-encrypted to recipients, or, with none, as plain text, which only
// the soft policy allows. A failed export leaves no file.
func (c *Client) Export(channel, path string, recipients []age.Recipient) error {
	if err := c.exportAllowed(channel, recipients); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = c.ExportTo(channel, f, recipients)
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		os.Remove(path)
	}
	return err
}

// ExportTo writes the export to w (standard output, say), under the same
// rules as Export.
func (c *Client) ExportTo(channel string, w io.Writer, recipients []age.Recipient) error {
	if err := c.exportAllowed(channel, recipients); err != nil {
		return err
	}
	entries, err := c.Read(channel)
	if err != nil {
		return err
	}
	var text bytes.Buffer
	for _, e := range entries {
		text.WriteString(FormatEntry(e))
		text.WriteByte('\n')
	}
	if len(recipients) == 0 {
		_, err = w.Write(text.Bytes())
		return err
	}
	aw, err := age.Encrypt(w, recipients...)
	if err != nil {
		return err
	}
	_, err = aw.Write(text.Bytes())
	return errors.Join(err, aw.Close())
}

func (c *Client) exportAllowed(channel string, recipients []age.Recipient) error {
	row, err := c.view(channel)
	if err != nil {
		return err
	}
	r, err := row.st.roster()
	if err != nil {
		return err
	}
	if len(recipients) == 0 && !r.Policy.AllowsPlaintextExport() {
		return ErrPlaintextExportRefused
	}
	return nil
}

// Clean makes text from other people safe to print in a terminal: it
// replaces control characters other than newline and tab, and marks
// continuation lines.
func Clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("\n    | ")
		case r == '\t':
			b.WriteRune(r)
		case Unsafe(r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Unsafe reports whether r, in text from other people, could change how
// the rest of a screen reads: control characters, line and paragraph
// separators, and the bidirectional embeddings, overrides and isolates
// that reorder the text after them. Newline and tab are the caller's to
// handle. Right-to-left letters themselves are safe: a display isolates
// them (the terminal line, the page's bdi elements).
func Unsafe(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// OneLine makes an error one safe line for a terminal: no line breaks,
// and no control characters from a relay's or another member's text.
func OneLine(s string) string {
	out := []rune{}
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			r = ' '
		case Unsafe(r):
			r = '\uFFFD'
		}
		out = append(out, r)
	}
	return string(out)
}
