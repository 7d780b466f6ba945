package client

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"parley/crypto"
)

// Initialled is an initial in a transcript: a signatory's signature, with
// their identity key, of one version of a draft (crypto.Initial). It is
// the one signed thing in a channel, and it signs only the text's hash.
type Initialled struct {
	Draft   string `json:"draft"`
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
	Side    string `json:"side"`
	// Identity is the signer's public identity, Signature the initial.
	Identity  []byte `json:"identity"`
	Signature []byte `json:"signature"`
}

// InitialWarning is what a signatory reads before initialling.
const InitialWarning = `Initialling is NOT deniable. You sign this version's hash with your identity key,
as your name and side. Anyone who is later given the agreement record can prove,
to anyone, that you initialled exactly this text. Nothing else you wrote in the
channel is signed, and nothing else becomes provable.`

// encodeInitial is an initial's message content: the draft's name, the
// version, its hash and the signature. The name and side signed are the
// sender's in the roster, which every reader holds.
func encodeInitial(t *crypto.AgreedText, sig []byte) []byte {
	b := []byte{byte(len(t.Draft))}
	b = append(b, t.Draft...)
	b = binary.BigEndian.AppendUint32(b, t.Version)
	b = append(b, t.SHA256[:]...)
	return append(b, sig...)
}

var errBadInitial = errors.New("malformed initial")

func decodeInitial(channel crypto.ChannelID, b []byte) (*crypto.AgreedText, []byte, error) {
	if len(b) < 1 {
		return nil, nil, errBadInitial
	}
	n := int(b[0])
	if n == 0 || len(b) != 1+n+4+32+crypto.SignatureSize {
		return nil, nil, errBadInitial
	}
	t := &crypto.AgreedText{Channel: channel, Draft: string(b[1 : 1+n]), Version: binary.BigEndian.Uint32(b[1+n:])}
	copy(t.SHA256[:], b[1+n+4:])
	if checkName(t.Draft) != nil || t.Version == 0 {
		return nil, nil, errBadInitial
	}
	return t, bytes.Clone(b[1+n+4+32:]), nil
}

func initialEntry(t *crypto.AgreedText, in *crypto.Initial) *Entry {
	id, _ := in.Identity.MarshalBinary()
	sum := hex.EncodeToString(t.SHA256[:])
	return &Entry{Kind: KindInitial,
		Text: fmt.Sprintf("initialled %s version %d (sha256 %s) for side %s", t.Draft, t.Version, sum[:16], in.Side),
		Initial: &Initialled{Draft: t.Draft, Version: int(t.Version), SHA256: sum, Side: in.Side,
			Identity: id, Signature: in.Signature}}
}

// InitialDraft signs version ref (a number or a hash prefix) of draft
// name as this member, for their side, and posts the initial to the
// talks. It returns the version initialled, and errors as Send does:
// a *QueuedError when the initial is queued but not known to be at the
// relay.
func (c *Client) InitialDraft(ctx context.Context, channel, name, ref string) (*Draft, error) {
	var d *Draft
	var id int64
	rep, err := c.syncThen(ctx, channel, func() error {
		entries, err := c.draftEntries(channel)
		if err != nil {
			return err
		}
		if d, err = findDraft(entries, name, ref); err != nil {
			return err
		}
		var queued int64 // id's once committed (as in Send)
		err = c.update(channel, func(tx *sql.Tx, row *channelRow) error {
			_, self, _, err := row.st.self(0)
			if err != nil {
				return err
			}
			if self.Side == "" {
				return errors.New("you belong to no side, and an initial is a side's (an organizer sets sides with parley invite --side)")
			}
			t := crypto.AgreedText{Channel: row.st.channelID(), Draft: d.Name, Version: uint32(d.Version)}
			if _, err := hex.Decode(t.SHA256[:], []byte(d.SHA256)); err != nil {
				return errCorrupt
			}
			for _, e := range entries {
				if in := e.Initial; in != nil && e.Sender == self.Name && in.Draft == d.Name && in.SHA256 == d.SHA256 {
					return fmt.Errorf("you have initialled version %d of %s already", d.Version, d.Name)
				}
			}
			in, err := c.id.SignInitial(&t, self.Name, self.Side)
			if err != nil {
				return err
			}
			if err := c.seal1(tx, row, crypto.Talks, typeInitial, encodeInitial(&t, in.Signature), initialEntry(&t, in)); err != nil {
				return err
			}
			return tx.QueryRow(`SELECT max(id) FROM outbox WHERE channel = ?`, row.id).Scan(&queued)
		})
		if err == nil {
			id = queued
		}
		return err
	})
	if id == 0 {
		return nil, err
	}
	return d, c.sendOutcome(id, rep, err)
}

// receiveInitial checks an initial against its sender's roster entry:
// their identity, name and side are what it must be signed as.
func (st *channelState) receiveInitial(sender *crypto.Member, content []byte) Entry {
	if sender.Side == "" {
		return notice(ReasonRejected, "rejected an initial from %s, who belongs to no side", sender.Name)
	}
	t, sig, err := decodeInitial(st.channelID(), content)
	if err != nil {
		return notice(ReasonRejected, "rejected an initial from %s: %v", sender.Name, err)
	}
	in := &crypto.Initial{Identity: sender.Identity, Name: sender.Name, Side: sender.Side, Signature: sig}
	if err := in.Verify(t); err != nil {
		return notice(ReasonForged, "rejected an initial claiming to be from %s: %v", sender.Name, err)
	}
	return *initialEntry(t, in)
}

// initialOf is the crypto.Initial an entry records, checked again
// against the version it names (entries come from this home's own
// sealed transcript, but a record must never carry a bad signature).
func initialOf(e *Entry, sender string, t *crypto.AgreedText) (*crypto.Initial, error) {
	id, err := crypto.ParsePublicIdentity(e.Initial.Identity)
	if err != nil {
		return nil, errCorrupt
	}
	in := &crypto.Initial{Identity: *id, Name: sender, Side: e.Initial.Side, Signature: e.Initial.Signature}
	return in, in.Verify(t)
}

// FindDraft returns the version ref names (a number, a hash prefix, or
// "" for the latest) of draft name, from the local transcript.
func (c *Client) FindDraft(channel, name, ref string) (*Draft, error) {
	entries, err := c.draftEntries(channel)
	if err != nil {
		return nil, err
	}
	return findDraft(entries, name, ref)
}
