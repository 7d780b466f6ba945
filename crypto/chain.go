package crypto

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"golang.org/x/crypto/cryptobyte"
)

// A ChainKey is one link of a sender's hash ratchet.
type ChainKey [32]byte

// A MessageKey opens exactly one message.
type MessageKey [32]byte

// Bounds of the skipped-key window of a receiving chain.
const (
	// MaxSkip is the furthest a counter may jump ahead of the next
	// expected one.
	MaxSkip = 1024
	// MaxSkipped is how many skipped message keys a chain keeps; the
	// oldest are discarded first.
	MaxSkipped = 2048
)

// SenderChain returns the first chain key of sender in compartment c of
// this epoch. It fails with ErrNoCompartment when the secret is not held.
func (s *EpochSecrets) SenderChain(c Compartment, sender KeyID) (ChainKey, error) {
	secret, err := s.secret(c)
	if err != nil {
		return ChainKey{}, err
	}
	return ChainKey(deriveKey(secret, labelChain, 32, s.Channel[:], u64(s.Epoch), []byte{byte(c)}, sender[:])), nil
}

// step returns the message key of this link and the next chain key. The
// caller must overwrite the old chain key: that is the forward secrecy.
func (c ChainKey) step() (MessageKey, ChainKey) { return c.messageKey(), c.next() }

// messageKey and next are the two halves of step, for callers that need
// only one of them.
func (c ChainKey) messageKey() MessageKey { return MessageKey(labeledMAC(c[:], labelMessageKey)) }
func (c ChainKey) next() ChainKey         { return ChainKey(labeledMAC(c[:], labelChainNext)) }

// A SendChain is the sending side of one's own chain in one compartment
// of one epoch.
type SendChain struct {
	Key  ChainKey
	Next uint32
}

// advance returns the counter and key for the next message and moves the
// chain on, forgetting the old link.
func (c *SendChain) advance() (uint32, MessageKey, error) {
	if c.Next == math.MaxUint32 {
		return 0, MessageKey{}, fmt.Errorf("sending chain exhausted, a new epoch is needed: %w", ErrTooLarge)
	}
	mk, next := c.Key.step()
	n := c.Next
	c.Key, c.Next = next, c.Next+1
	return n, mk, nil
}

// SkipTo moves the chain on so that its next counter is next, forgetting
// the links between: what a home restored from an older copy does when it
// finds at the relay messages it sealed and does not remember. It does
// nothing when the chain is already there.
func (c *SendChain) SkipTo(next uint32) error {
	for c.Next < next {
		if _, _, err := c.advance(); err != nil {
			return err
		}
	}
	return nil
}

// A ReceiveChain follows one sender's chain in one compartment of one
// epoch: the next expected counter, its chain key, and the keys of
// counters skipped so far (messages that may still arrive late).
type ReceiveChain struct {
	Key     ChainKey
	Next    uint32
	Skipped map[uint32]MessageKey
}

// lookup returns the key of message counter without changing the chain:
// a message that fails to open must not move it. It fails with ErrReplay
// for a counter already opened (or whose key was discarded) and with
// ErrTooFarAhead beyond MaxSkip.
func (c *ReceiveChain) lookup(counter uint32) (MessageKey, error) {
	if counter == math.MaxUint32 {
		return MessageKey{}, fmt.Errorf("counter %d: %w", counter, ErrTooLarge)
	}
	if counter < c.Next {
		if mk, ok := c.Skipped[counter]; ok {
			return mk, nil
		}
		return MessageKey{}, fmt.Errorf("counter %d: %w", counter, ErrReplay)
	}
	if counter-c.Next > MaxSkip {
		return MessageKey{}, fmt.Errorf("counter %d, expected %d: %w", counter, c.Next, ErrTooFarAhead)
	}
	k := c.Key
	for i := c.Next; i < counter; i++ {
		k = k.next()
	}
	return k.messageKey(), nil
}

// accept records that message counter, found by lookup, was opened. It
// returns how many counters it skipped over (a gap to show the user until
// they arrive); zero for the next expected message or a late one filling
// a gap.
func (c *ReceiveChain) accept(counter uint32) int {
	if counter < c.Next {
		delete(c.Skipped, counter)
		return 0
	}
	gap := c.Expect(counter)
	c.Key = c.Key.next()
	c.Next++
	return gap
}

// Received returns one past the highest counter opened on this chain:
// Next, less the skipped counters at its top still awaited (those only
// Expect adds, from another member's report). A member's report states
// it, so that a sender learns which of its last messages a reader never
// got.
func (c *ReceiveChain) Received() uint32 {
	n := c.Next
	for n > 0 {
		if _, awaited := c.Skipped[n-1]; !awaited {
			break
		}
		n--
	}
	return n
}

// Expect records that messages up to (not including) counter exist, as
// another member's report says: the chain moves to counter and keeps the
// keys of the messages skipped, so they still open when they arrive. It
// returns how many it skipped. The caller bounds counter (MaxSkip).
func (c *ReceiveChain) Expect(counter uint32) int {
	if counter <= c.Next {
		return 0
	}
	if c.Skipped == nil {
		c.Skipped = make(map[uint32]MessageKey)
	}
	n := int(counter - c.Next)
	for c.Next < counter {
		c.Skipped[c.Next] = c.Key.messageKey()
		c.Key = c.Key.next()
		c.Next++
	}
	c.evict()
	return n
}

func (c *ReceiveChain) evict() {
	if len(c.Skipped) <= MaxSkipped {
		return
	}
	counters := make([]uint32, 0, len(c.Skipped))
	for n := range c.Skipped {
		counters = append(counters, n)
	}
	sort.Slice(counters, func(i, j int) bool { return counters[i] < counters[j] })
	for _, n := range counters[:len(counters)-MaxSkipped] {
		delete(c.Skipped, n)
	}
}

// Missing returns the skipped counters still awaited, in order.
func (c *ReceiveChain) Missing() []uint32 {
	out := make([]uint32, 0, len(c.Skipped))
	for n := range c.Skipped {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// MarshalBinary encodes the chain state for storage (encrypt it: it holds
// keys).
func (c *ReceiveChain) MarshalBinary() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddBytes(c.Key[:])
	b.AddUint32(c.Next)
	missing := c.Missing()
	b.AddUint16(uint16(len(missing)))
	for _, n := range missing {
		mk := c.Skipped[n]
		b.AddUint32(n)
		b.AddBytes(mk[:])
	}
	return b.Bytes()
}

// PeekReceiveChain reads from an encoded ReceiveChain (MarshalBinary)
// its Next and how many skipped keys it holds, without decoding the
// keys: what a caller checking many chains per message needs (is this
// one behind a report? has it nothing awaited?). ok is false when data
// is too short to be a chain; ParseReceiveChain checks the rest.
func PeekReceiveChain(data []byte) (next uint32, skipped int, ok bool) {
	if len(data) < 32+4+2 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(data[32:]), int(binary.BigEndian.Uint16(data[36:])), true
}

// ParseReceiveChain is the inverse of ReceiveChain.MarshalBinary.
func ParseReceiveChain(data []byte) (*ReceiveChain, error) {
	s := cryptobyte.String(data)
	c := &ReceiveChain{Skipped: make(map[uint32]MessageKey)}
	var n uint16
	if !s.CopyBytes(c.Key[:]) || !s.ReadUint32(&c.Next) || !s.ReadUint16(&n) || int(n) > MaxSkipped {
		return nil, malformed("receive chain", "bad header")
	}
	for i := 0; i < int(n); i++ {
		var counter uint32
		var mk MessageKey
		if !s.ReadUint32(&counter) || !s.CopyBytes(mk[:]) || counter >= c.Next {
			return nil, malformed("receive chain", "bad skipped key")
		}
		if _, dup := c.Skipped[counter]; dup {
			return nil, malformed("receive chain", "duplicate skipped key")
		}
		c.Skipped[counter] = mk
	}
	if !s.Empty() {
		return nil, malformed("receive chain", "trailing data")
	}
	return c, nil
}

// MarshalBinary encodes the sending chain for storage.
func (c *SendChain) MarshalBinary() ([]byte, error) {
	return binary.BigEndian.AppendUint32(append([]byte(nil), c.Key[:]...), c.Next), nil
}

// ParseSendChain is the inverse of SendChain.MarshalBinary.
func ParseSendChain(data []byte) (*SendChain, error) {
	if len(data) != 36 {
		return nil, malformed("send chain", "wrong length")
	}
	c := &SendChain{Next: binary.BigEndian.Uint32(data[32:])}
	copy(c.Key[:], data)
	return c, nil
}
