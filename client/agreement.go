package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"parley/crypto"
)

// AgreementWarning is what the founder reads before exporting a record.
const AgreementWarning = `The agreement record is signed with your identity key: you vouch, as this channel's
founder, that its signatories are members of the channel on the sides they initialled
for. Anyone who is given the record can prove that you and they took part. It holds the
text, the initials and the channel's policy; no message, no other member, no roster.`

// ExportAgreement makes the record of version ref (a number, a hash
// prefix, or "" for the newest version every side has initialled) of
// draft name. Only the channel's founder can: their identity vouches for
// the signatories (crypto.Agreement). The sides that must initial are
// those of the current members who take part in the talks.
func (c *Client) ExportAgreement(channel, name, ref string) (*crypto.Agreement, error) {
	entries, err := c.draftEntries(channel)
	if err != nil {
		return nil, err
	}
	row, err := c.view(channel)
	if err != nil {
		return nil, err
	}
	cur, _, keys, err := row.st.self(0)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(cur.Founder, keys.SigningPublicKey()) {
		founder := "who is no longer a member"
		if f := cur.Member(crypto.KeyIDOf(cur.Founder)); f != nil {
			founder = f.Name
		}
		return nil, fmt.Errorf("only the channel's founder (%s) can export its agreement: the record carries their signature vouching that the signatories are members", founder)
	}
	var sides []string
	for _, m := range cur.Members {
		if m.Side != "" && m.Role.CanPost(crypto.Talks) && !slices.Contains(sides, m.Side) {
			sides = append(sides, m.Side)
		}
	}
	if len(sides) == 0 {
		return nil, fmt.Errorf("channel %s declares no sides, and an agreement is initialled by each side (parley invite --side)", channel)
	}
	slices.Sort(sides)
	d, err := agreedVersion(entries, channel, name, ref, sides)
	if err != nil {
		return nil, err
	}
	t := crypto.AgreedText{Channel: cur.Channel, Draft: d.Name, Version: uint32(d.Version)}
	hex.Decode(t.SHA256[:], []byte(d.SHA256))
	if sha256.Sum256(d.Data) != t.SHA256 {
		return nil, errCorrupt
	}
	initials, err := initialsOf(entries, &t)
	if err != nil {
		return nil, err
	}
	a, err := crypto.NewAgreement(cur, t, d.Data, sides, initials)
	if err != nil {
		return nil, err
	}
	if err := a.SignVouch(c.id); err != nil {
		return nil, err
	}
	return a, a.Verify()
}

// agreedVersion is the version ref names, or for "" the newest version
// of name that every side has initialled. It fails naming the sides
// that have not initialled the version.
func agreedVersion(entries []Entry, channel, name, ref string, sides []string) (*Draft, error) {
	if ref == "" {
		for i := len(entries) - 1; i >= 0; i-- {
			if in := entries[i].Initial; in != nil && in.Draft == name && len(missingSides(entries, in.SHA256, name, sides)) == 0 {
				ref = in.SHA256
				break
			}
		}
	}
	d, err := findDraft(entries, name, ref)
	if err != nil {
		return nil, err
	}
	if missing := missingSides(entries, d.SHA256, name, sides); len(missing) > 0 {
		return nil, fmt.Errorf("version %d of %s is not initialled by side %s yet (parley draft initial %s %s --version %d)",
			d.Version, d.Name, strings.Join(missing, ", side "), channel, d.Name, d.Version)
	}
	return d, nil
}

func missingSides(entries []Entry, sum, name string, sides []string) []string {
	var missing []string
	for _, s := range sides {
		if !slices.ContainsFunc(entries, func(e Entry) bool {
			return e.Initial != nil && e.Initial.Draft == name && e.Initial.SHA256 == sum && e.Initial.Side == s
		}) {
			missing = append(missing, s)
		}
	}
	return missing
}

// initialsOf collects the initials of t, one per signer, in the order
// they arrived.
func initialsOf(entries []Entry, t *crypto.AgreedText) ([]crypto.Initial, error) {
	sum := hex.EncodeToString(t.SHA256[:])
	var out []crypto.Initial
	for i := range entries {
		e := &entries[i]
		if e.Initial == nil || e.Initial.Draft != t.Draft || e.Initial.SHA256 != sum {
			continue
		}
		in, err := initialOf(e, e.Sender, t)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o crypto.Initial) bool { return o.Identity.Equal(&in.Identity) }) {
			out = append(out, *in)
		}
	}
	if len(out) > crypto.MaxInitials {
		return nil, fmt.Errorf("%d initials; a record holds at most %d", len(out), crypto.MaxInitials)
	}
	return out, nil
}
