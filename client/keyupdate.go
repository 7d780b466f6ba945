package client

import (
	"bytes"
	"database/sql"
	"errors"
	"time"

	"parley/crypto"
)

// Timers of post-compromise security.
const (
	// KeyUpdateInterval is how long a member keeps one per-channel KEM
	// key before making a fresh one; the next epoch is wrapped to the
	// fresh key, so a stolen old key stops opening epochs.
	KeyUpdateInterval = 7 * 24 * time.Hour
	// RekeyInterval is how long an epoch lasts at most; an organizer's
	// client starts the next one (fresh secrets, same members) after it.
	RekeyInterval = 24 * time.Hour
	// KeyUpdateOverdue is how long a rotated key may wait for a roster
	// before the member is warned.
	KeyUpdateOverdue = 48 * time.Hour
)

// memberKeyDuties rotates this member's KEM key when it is due: the new
// key waits in NextKeys, and a key-update message asks the organizers to
// wrap the next epoch to it. Organizers rotate their own key directly in
// their next rekey (organizerDuties).
func (c *Client) memberKeyDuties(tx *sql.Tx, row *channelRow) error {
	st := row.st
	if st.Status != statusActive {
		return nil
	}
	if st.NextKeys != nil {
		// Not adopted yet: say it again each epoch's length, in case
		// the update was lost.
		if c.Now().Sub(st.NextKeysSent) < RekeyInterval {
			return nil
		}
		next, err := crypto.ParseChannelKeys(st.NextKeys)
		if err != nil {
			return err
		}
		st.NextKeysSent = c.Now()
		return c.seal1(tx, row, crypto.Briefings, typeKeyUpdate, keyUpdate(st, next), nil)
	}
	if st.KeysUpdated.IsZero() {
		st.KeysUpdated = c.Now()
		return nil
	}
	if c.Now().Sub(st.KeysUpdated) < KeyUpdateInterval {
		return nil
	}
	r, self, keys, err := st.self(0)
	if err != nil || (self.Role == crypto.RoleOrganizer && leadOrganizer(r, keys)) {
		return nil // the lead organizer rotates its own key in its rekey
	}
	fresh, err := keys.RotateKEM()
	if err != nil {
		return err
	}
	st.NextKeys, _ = fresh.MarshalBinary()
	st.NextKeysSent, st.NextKeysMade = c.Now(), c.Now()
	return c.seal1(tx, row, crypto.Briefings, typeKeyUpdate, keyUpdate(st, fresh), nil)
}

// keyUpdateOverdue is the transcript line, once per rotated key, when no
// roster has adopted it within KeyUpdateOverdue: the relay may be
// suppressing it (it rides in every message this member sends, so it
// cannot do so without withholding all of them), or no organizer synced.
func (st *channelState) keyUpdateOverdue(now time.Time) []Entry {
	if st.NextKeys == nil || st.NextKeysMade.IsZero() || now.Sub(st.NextKeysMade) < KeyUpdateOverdue || st.NextKeysWarned {
		return nil
	}
	st.NextKeysWarned = true
	r, err := st.roster()
	if err != nil {
		return nil
	}
	return []Entry{notice(ReasonKeyUpdateOverdue, "your new key, made %s ago, is in no roster yet: until an organizer (%s) adopts it, a copy of this home's old key still opens new epochs. The relay may be withholding your key update, or no organizer has synced", FormatDuration(now.Sub(st.NextKeysMade).Truncate(time.Hour)), organizerNames(r))}
}

// keyUpdate is the content of a key-update message: the fresh KEM key and
// the pseudonym's signature over it, so that nobody can put another key
// in its place on the way to the organizers.
func keyUpdate(st *channelState, fresh *crypto.ChannelKeys) []byte {
	return append(bytes.Clone(fresh.Public().KEMKey), fresh.SignKEM(st.channelID())...)
}

// parseKeyUpdate checks a key update from sender: a well-formed KEM key
// that sender's pseudonym signed.
func parseKeyUpdate(st *channelState, sender *crypto.Member, content []byte) (kem, sig []byte, err error) {
	if len(content) != crypto.KEMPublicKeySize+crypto.SignatureSize {
		return nil, nil, errors.New("wrong size")
	}
	kem, sig = content[:crypto.KEMPublicKeySize], content[crypto.KEMPublicKeySize:]
	if err := crypto.CheckKEMPublicKey(kem); err != nil {
		return nil, nil, err
	}
	pub := crypto.ChannelPublicKeys{SigningKey: sender.Keys.SigningKey, DHKey: sender.Keys.DHKey, KEMKey: kem}
	if err := crypto.VerifyKEM(st.channelID(), &pub, sig); err != nil {
		return nil, nil, err
	}
	return kem, sig, nil
}

// receiveKeyUpdate records a member's fresh KEM key for the next roster
// (organizers only; others have nothing to do with it).
func (st *channelState) receiveKeyUpdate(sender *crypto.Member, selfRole crypto.Role, content []byte) []Entry {
	if selfRole != crypto.RoleOrganizer {
		return nil
	}
	if _, _, err := parseKeyUpdate(st, sender, content); err != nil {
		return []Entry{notice(ReasonRejected, "rejected a key update from %s: %v", sender.Name, err)}
	}
	if st.KeyUpdates == nil {
		st.KeyUpdates = map[string][]byte{}
	}
	st.KeyUpdates[hexID(sender.ID())] = content
	return nil
}

// adoptNextKeys switches to the rotated keys once a roster carries them.
func (st *channelState) adoptNextKeys(r *crypto.Roster, now time.Time) error {
	if st.NextKeys == nil {
		return nil
	}
	next, err := crypto.ParseChannelKeys(st.NextKeys)
	if err != nil {
		return err
	}
	m := r.Member(next.ID())
	if m == nil || string(m.Keys.KEMKey) != string(next.Public().KEMKey) {
		return nil
	}
	st.Keys, st.NextKeys, st.KeysUpdated = st.NextKeys, nil, now
	st.NextKeysMade, st.NextKeysWarned = time.Time{}, false
	return nil
}

// openKeys returns the keys to try on an epoch bundle: the current ones,
// then the rotated ones still waiting to be adopted.
func (st *channelState) openKeys() ([]*crypto.ChannelKeys, error) {
	k, err := st.keys()
	if err != nil {
		return nil, err
	}
	out := []*crypto.ChannelKeys{k}
	if st.NextKeys != nil {
		n, err := crypto.ParseChannelKeys(st.NextKeys)
		if err != nil {
			return nil, err
		}
		out = append([]*crypto.ChannelKeys{n}, out...)
	}
	return out, nil
}

// organizerKeyDuties applies pending key updates (and the organizer's
// own rotation) to next and says whether a rekey is due anyway because
// the epoch is old.
func (c *Client) organizerKeyDuties(row *channelRow, cur, next *crypto.Roster, keys *crypto.ChannelKeys) (changed bool, newKeys *crypto.ChannelKeys, err error) {
	st := row.st
	for id, update := range st.KeyUpdates {
		for i := range next.Members {
			m := &next.Members[i]
			if hexID(m.ID()) != id {
				continue
			}
			kem, sig, err := parseKeyUpdate(st, m, update)
			if err != nil {
				continue // never let one member's data stop the organizer
			}
			m.Keys.KEMKey, m.KEMSig = kem, sig
			changed = true
		}
	}
	st.KeyUpdates = nil
	if st.KeysUpdated.IsZero() {
		st.KeysUpdated = c.Now()
	} else if c.Now().Sub(st.KeysUpdated) >= KeyUpdateInterval {
		newKeys, err = keys.RotateKEM()
		if err != nil {
			return false, nil, err
		}
		self := next.Member(keys.ID())
		self.Keys.KEMKey, self.KEMSig = newKeys.Public().KEMKey, newKeys.SignKEM(next.Channel)
		changed = true
	}
	if c.Now().Sub(cur.Issued) >= RekeyInterval {
		changed = true
	}
	return changed, newKeys, nil
}
