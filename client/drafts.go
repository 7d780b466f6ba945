package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"parley/crypto"
)

// MaxDraft is the largest draft version Parley carries.
const MaxDraft = 8 << 20

// draftChunk is the largest piece of a draft in one message, leaving room
// in crypto.MaxBody for the sender's time and the chunk header (with a
// name of up to crypto.MaxNameLen bytes).
const draftChunk = 13000

// Draft is one version of a draft in a transcript. Its version number is
// its author's, carried inside the encrypted chunks with the hash of the
// version it revises, so every member shows the same numbers whatever
// order the relay delivers versions in.
type Draft struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Version int    `json:"version,omitempty"`
	// Parent is the SHA-256 of the version this one revises (hex), empty
	// for a first version.
	Parent string `json:"parent,omitempty"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	Data   []byte `json:"data,omitempty"`
}

// chunkHeader starts every draft chunk: which version, which piece, and
// what the whole must hash to.
type chunkHeader struct {
	ID      [16]byte
	Name    string
	Index   uint32
	Count   uint32
	Total   uint64
	Sum     [32]byte
	Version uint32
	Parent  [32]byte
}

func (h chunkHeader) encode(data []byte) []byte {
	b := append([]byte(nil), h.ID[:]...)
	b = append(b, byte(len(h.Name)))
	b = append(b, h.Name...)
	b = binary.BigEndian.AppendUint32(b, h.Index)
	b = binary.BigEndian.AppendUint32(b, h.Count)
	b = binary.BigEndian.AppendUint64(b, h.Total)
	b = append(b, h.Sum[:]...)
	b = binary.BigEndian.AppendUint32(b, h.Version)
	b = append(b, h.Parent[:]...)
	return append(b, data...)
}

var errBadChunk = errors.New("malformed draft chunk")

func decodeChunk(b []byte) (chunkHeader, []byte, error) {
	var h chunkHeader
	if len(b) < 17 {
		return h, nil, errBadChunk
	}
	copy(h.ID[:], b)
	n := int(b[16])
	b = b[17:]
	if n == 0 || len(b) < n+4+4+8+32+4+32 {
		return h, nil, errBadChunk
	}
	h.Name = string(b[:n])
	b = b[n:]
	h.Index, h.Count, h.Total = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint64(b[8:])
	copy(h.Sum[:], b[16:48])
	h.Version = binary.BigEndian.Uint32(b[48:])
	copy(h.Parent[:], b[52:84])
	data := b[84:]
	maxCount := uint64(MaxDraft/draftChunk + 1)
	if h.Total > MaxDraft || uint64(h.Count) > maxCount || h.Count == 0 || h.Index >= h.Count || h.Version == 0 ||
		uint64(h.Count) != max(1, (h.Total+draftChunk-1)/draftChunk) || checkName(h.Name) != nil {
		return h, nil, errBadChunk
	}
	return h, data, nil
}

// partialDraft collects the chunks of a version still arriving.
type partialDraft struct {
	Sender string            `json:"sender"`
	Time   time.Time         `json:"time"`
	Header chunkHeader       `json:"header"`
	Chunks map[uint32][]byte `json:"chunks"`
}

// maxPartials bounds the drafts one member may have half-sent at once,
// so a member cannot fill another's state.
const maxPartials = 4

// PutDraft publishes data as the next version of draft name in the talks
// compartment and returns its version number.
func (c *Client) PutDraft(ctx context.Context, channel, name string, data []byte) (int, error) {
	if err := checkName(name); err != nil {
		return 0, fmt.Errorf("draft %w", err)
	}
	if len(data) > MaxDraft {
		return 0, fmt.Errorf("draft of %d bytes is too large; at most %d", len(data), MaxDraft)
	}
	h := chunkHeader{Name: name, Total: uint64(len(data)), Sum: sha256.Sum256(data)}
	rand.Read(h.ID[:])
	h.Count = uint32(max(1, (len(data)+draftChunk-1)/draftChunk))
	queued := false
	// One connection, as any sync: the version is numbered after what
	// the relays hold has been taken in, and posted on the way out.
	_, err := c.syncThen(ctx, channel, func() error {
		err := c.update(channel, func(tx *sql.Tx, row *channelRow) error {
			h.Version, h.Parent = row.st.nextDraft(name)
			for i := uint32(0); i < h.Count; i++ {
				h.Index = i
				piece := data[int(i)*draftChunk : min(len(data), int(i+1)*draftChunk)]
				var entry *Entry
				if i == h.Count-1 {
					entry = draftEntry(h, data)
				}
				if err := c.seal1(tx, row, crypto.Talks, typeDraft, h.encode(piece), entry); err != nil {
					return err
				}
			}
			// The relay counts frames: padded to a power of two, they
			// tell a draft's size only to within a factor of two.
			for range paddedFrames(int(h.Count)) - int(h.Count) {
				if err := c.seal1(tx, row, crypto.Talks, typePadding, h.ID[:], nil); err != nil {
					return err
				}
			}
			row.st.noteDraft(name, h.Version, h.Sum)
			return nil
		})
		queued = err == nil
		return err
	})
	if err != nil {
		if queued {
			return 0, fmt.Errorf("%w (the draft is queued; parley sync sends it)", err)
		}
		return 0, err
	}
	if q, _ := c.Queued(channel); q > 0 {
		return 0, fmt.Errorf("the relay has not taken the draft yet (it is queued; parley sync sends it)")
	}
	return int(h.Version), nil
}

// paddedFrames is the number of frames a draft of n chunks is posted
// as: the next power of two.
func paddedFrames(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

func draftEntry(h chunkHeader, data []byte) *Entry {
	d := &Draft{Name: h.Name, ID: hex.EncodeToString(h.ID[:]), Version: int(h.Version), Size: len(data),
		SHA256: hex.EncodeToString(h.Sum[:]), Data: data}
	if h.Parent != ([32]byte{}) {
		d.Parent = hex.EncodeToString(h.Parent[:])
	}
	return &Entry{Kind: KindDraft, Draft: d, Text: d.line()}
}

// receiveChunk stores one chunk and returns the draft entry when the
// version is complete and checks out.
func (st *channelState) receiveChunk(sender string, t time.Time, content []byte) ([]Entry, error) {
	h, data, err := decodeChunk(content)
	if err != nil {
		return []Entry{notice(ReasonMalformed, "rejected a malformed draft chunk from %s", sender)}, nil
	}
	if st.Partial == nil {
		st.Partial = map[string]*partialDraft{}
	}
	key := sender + "/" + hex.EncodeToString(h.ID[:])
	p := st.Partial[key]
	if p == nil {
		n := 0
		for _, q := range st.Partial {
			if q.Sender == sender {
				n++
			}
		}
		if n >= maxPartials {
			return []Entry{notice(ReasonRejected, "rejected a draft chunk from %s: too many unfinished drafts", sender)}, nil
		}
		p = &partialDraft{Sender: sender, Time: t, Header: h, Chunks: map[uint32][]byte{}}
		st.Partial[key] = p
	}
	hh := h
	hh.Index = p.Header.Index
	if hh != p.Header {
		return []Entry{notice(ReasonMalformed, "rejected an inconsistent draft chunk from %s", sender)}, nil
	}
	p.Chunks[h.Index] = data
	if uint32(len(p.Chunks)) < h.Count {
		return nil, nil
	}
	delete(st.Partial, key)
	var whole bytes.Buffer
	for i := uint32(0); i < h.Count; i++ {
		whole.Write(p.Chunks[i])
	}
	if uint64(whole.Len()) != h.Total || sha256.Sum256(whole.Bytes()) != h.Sum {
		return []Entry{notice(ReasonMalformed, "rejected draft %q from %s: its pieces do not add up", h.Name, sender)}, nil
	}
	e := draftEntry(h, whole.Bytes())
	e.Sender, e.Time = sender, p.Time
	out := []Entry{*e}
	if other := st.noteDraft(h.Name, h.Version, h.Sum); other {
		out = append(out, notice(ReasonDraftConflict, "draft %q has two versions %d (a conflict: two members revised the same version at once); parley draft list shows both, and parley draft get takes a hash prefix", h.Name, h.Version))
	}
	return out, nil
}

// line is a draft version's transcript line.
func (d *Draft) line() string {
	return fmt.Sprintf("put draft %q version %d (%d bytes)", d.Name, d.Version, d.Size)
}

// DraftVersion is one version in a draft listing.
type DraftVersion struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	Size    int       `json:"size"`
	SHA256  string    `json:"sha256"`
	// Parent is the SHA-256 of the version this one revises.
	Parent string `json:"parent,omitempty"`
	// Conflict is set when another version has the same number.
	Conflict bool `json:"conflict,omitempty"`
	// Initials are who initialled this version (draft initial), in the
	// order the initials arrived.
	Initials []DraftInitial `json:"initials,omitempty"`
	ID       string         `json:"-"`
}

// DraftInitial is one initial of a version: who, for which side.
type DraftInitial struct {
	Name string `json:"name"`
	Side string `json:"side"`
}

func (c *Client) draftEntries(channel string) ([]Entry, error) {
	row, err := c.view(channel)
	if err != nil {
		return nil, err
	}
	if _, self, _, err := row.st.self(0); err != nil {
		return nil, err
	} else if !self.Role.CanRead(crypto.Talks) {
		return nil, errors.New("drafts are in the talks compartment, which mentors do not read")
	}
	return c.transcript(row.id)
}

// Drafts lists every version of every draft, in order.
func (c *Client) Drafts(channel string) ([]DraftVersion, error) {
	entries, err := c.draftEntries(channel)
	if err != nil {
		return nil, err
	}
	var out []DraftVersion
	hashes := map[string]map[string]bool{}
	for _, e := range entries {
		if d := e.Draft; e.Kind == KindDraft && d != nil {
			out = append(out, DraftVersion{Name: d.Name, Version: d.Version, Author: e.Sender, Time: e.Time, Size: d.Size, SHA256: d.SHA256, Parent: d.Parent, ID: d.ID})
			k := fmt.Sprintf("%d %s", d.Version, d.Name)
			if hashes[k] == nil {
				hashes[k] = map[string]bool{}
			}
			hashes[k][d.SHA256] = true
		}
	}
	for i := range out {
		out[i].Conflict = len(hashes[fmt.Sprintf("%d %s", out[i].Version, out[i].Name)]) > 1
		for _, e := range entries {
			if in := e.Initial; in != nil && in.Draft == out[i].Name && in.SHA256 == out[i].SHA256 {
				out[i].Initials = append(out[i].Initials, DraftInitial{Name: e.Sender, Side: in.Side})
			}
		}
	}
	return out, nil
}

// GetDraft returns exactly the bytes of a version: ref is a number, a
// prefix of its SHA-256, or "" for the latest.
func (c *Client) GetDraft(channel, name, ref string) ([]byte, error) {
	entries, err := c.draftEntries(channel)
	if err != nil {
		return nil, err
	}
	d, err := findDraft(entries, name, ref)
	if err != nil {
		return nil, err
	}
	return d.Data, nil
}

// DiffDraft returns a unified diff between two versions of a text draft.
func (c *Client) DiffDraft(channel, name, v1, v2 string) (string, error) {
	a, err := c.GetDraft(channel, name, v1)
	if err != nil {
		return "", err
	}
	b, err := c.GetDraft(channel, name, v2)
	if err != nil {
		return "", err
	}
	if !isText(a) || !isText(b) {
		return "", errors.New("binary drafts cannot be diffed; use parley draft get")
	}
	return unifiedDiff(fmt.Sprintf("%s version %s", name, v1), fmt.Sprintf("%s version %s", name, v2), string(a), string(b)), nil
}

func isText(b []byte) bool { return utf8.Valid(b) && !bytes.ContainsRune(b, 0) }
