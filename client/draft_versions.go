package client

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Draft versions are numbered by their authors: a new version is one
// more than the highest this home knows of its name, and names the hash
// of the newest as its parent. Two members who revise the same version
// at once make two versions with one number: a conflict, shown as such
// and told apart by hash, never silently ordered.

// draftLine is what a home knows of one draft's versions: the hashes
// (hex) seen under each number.
type draftLine struct {
	Latest uint32              `json:"latest"`
	Head   string              `json:"head"`
	Seen   map[uint32][]string `json:"seen"`
}

// maxDraftNumbers bounds the version numbers remembered per draft.
const maxDraftNumbers = 64

// nextDraft returns the number and parent of a new version of name.
func (st *channelState) nextDraft(name string) (uint32, [32]byte) {
	var parent [32]byte
	l := st.DraftLines[name]
	if l == nil {
		return 1, parent
	}
	hex.Decode(parent[:], []byte(l.Head))
	return l.Latest + 1, parent
}

// noteDraft records a version of name and reports whether another
// version already had its number.
func (st *channelState) noteDraft(name string, version uint32, sum [32]byte) (conflict bool) {
	if st.DraftLines == nil {
		st.DraftLines = map[string]*draftLine{}
	}
	l := st.DraftLines[name]
	if l == nil {
		l = &draftLine{Seen: map[uint32][]string{}}
		st.DraftLines[name] = l
	}
	h := hex.EncodeToString(sum[:])
	seen := l.Seen[version]
	if slices.Contains(seen, h) {
		return false
	}
	l.Seen[version] = append(seen, h)
	if version >= l.Latest {
		l.Latest, l.Head = version, h
	}
	for v := range l.Seen {
		if v+maxDraftNumbers < l.Latest {
			delete(l.Seen, v)
		}
	}
	return len(seen) > 0
}

// findDraft picks the version of name that ref names: "" or "0" for the
// latest, a number, or a prefix of its SHA-256 (at least 4 hex digits).
// A number two versions share is refused, naming both.
func findDraft(entries []Entry, name, ref string) (*Draft, error) {
	var all []*Draft
	for _, e := range entries {
		if d := e.Draft; e.Kind == KindDraft && d != nil && d.Name == name {
			all = append(all, d)
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no draft named %q", name)
	}
	var match []*Draft
	if ref == "" || ref == "0" {
		top := 0
		for _, d := range all {
			top = max(top, d.Version)
		}
		ref = strconv.Itoa(top)
	}
	if n, err := strconv.Atoi(ref); err == nil {
		for _, d := range all {
			if d.Version == n {
				match = append(match, d)
			}
		}
		if len(match) == 0 {
			return nil, fmt.Errorf("draft %q has no version %d", name, n)
		}
	} else {
		ref = strings.ToLower(ref)
		if _, err := hex.DecodeString(ref + strings.Repeat("0", len(ref)%2)); err != nil || len(ref) < 4 {
			return nil, errors.New("a version is a number, or at least 4 hex digits of its sha256")
		}
		for _, d := range all {
			if strings.HasPrefix(d.SHA256, ref) && !slices.ContainsFunc(match, func(m *Draft) bool { return m.SHA256 == d.SHA256 }) {
				match = append(match, d)
			}
		}
		if len(match) == 0 {
			return nil, fmt.Errorf("draft %q has no version whose sha256 starts with %s", name, ref)
		}
	}
	distinct := slices.CompactFunc(slices.Clone(match), func(a, b *Draft) bool { return a.SHA256 == b.SHA256 })
	if len(distinct) > 1 {
		var which []string
		for _, d := range distinct {
			which = append(which, fmt.Sprintf("version %d with sha256 %s", d.Version, d.SHA256[:12]))
		}
		return nil, fmt.Errorf("draft %q: %q names %d versions (%s); give a longer hash prefix", name, ref, len(distinct), strings.Join(which, ", "))
	}
	return match[len(match)-1], nil
}
