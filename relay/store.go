package relay

import (
	"context"
	"errors"
	"time"

	"parley/internal/wire"
)

// Store is the relay's durable state. The SQLite store is the one engine
// today; the server depends only on this interface so that another can sit
// under it. Every method that changes state returns only after the change
// is committed: an acknowledgement sent after it means the data survives a
// crash.
type Store interface {
	// CreateChannel registers a channel with its first access list.
	CreateChannel(ctx context.Context, ch ChannelID, access []byte, version uint64) error
	// Channel returns the channel's current encoded access list and the
	// sequence number its next frame will get.
	Channel(ctx context.Context, ch ChannelID) (access []byte, nextSeq uint64, err error)
	// Origin identifies this store's copy of the channel: when its first
	// epoch bundle was stored (Unix milliseconds; bundles are kept until
	// the burn), or 0 before there is one. A store that lost the channel
	// and was given it again has another origin.
	Origin(ctx context.Context, ch ChannelID) (uint64, error)
	// ReplaceAccessList swaps in a newer list if the stored version is
	// still prev (compare-and-swap, so two admins cannot race).
	ReplaceAccessList(ctx context.Context, ch ChannelID, prev, version uint64, access []byte) error
	// Append stores frames, assigning each the next sequence number of
	// its channel, and returns them as stored.
	Append(ctx context.Context, frames []NewFrame) ([]wire.Stored, error)
	// Fetch returns frames after since, at most maxBytes of payload (but
	// at least one frame), and whether more remain.
	Fetch(ctx context.Context, ch ChannelID, since uint64, maxBytes int) ([]wire.Stored, bool, error)
	// RegisterInvite records a single-use invite token id.
	RegisterInvite(ctx context.Context, ch ChannelID, tokenID [32]byte, expires time.Time) error
	// SpendInvite atomically checks that the token id is registered,
	// unspent and unexpired at now, marks it spent and stores the join
	// request.
	SpendInvite(ctx context.Context, ch ChannelID, tokenID [32]byte, now time.Time, sealed []byte) error
	// Joins lists stored join requests.
	Joins(ctx context.Context, ch ChannelID) ([]wire.JoinRequest, error)
	// DropJoins deletes join requests.
	DropJoins(ctx context.Context, ch ChannelID, ids []uint64) error
	// Burn erases every row of the channel, leaves a tombstone holding the
	// burn notice until tombstoneUntil, and makes sure that nothing of the
	// channel remains in the files.
	Burn(ctx context.Context, ch ChannelID, notice []byte, tombstoneUntil time.Time) error
	// Tombstone returns the burn notice of a burned channel.
	Tombstone(ctx context.Context, ch ChannelID) ([]byte, error)
	// Expire deletes messages, join requests, invites and tombstones whose
	// time has passed, and returns how many rows went.
	Expire(ctx context.Context, now time.Time) (int, error)
	// Usage returns the bytes of payload stored for a channel.
	Usage(ctx context.Context, ch ChannelID) (int64, error)
	Close() error
}

// ChannelID is a channel's relay-visible id.
type ChannelID = [16]byte

// NewFrame is a frame to append.
type NewFrame struct {
	Channel ChannelID
	Kind    wire.Kind
	Expires time.Time // zero: kept until the channel is burned
	Payload []byte
	// MaxBytes is the channel's storage quota; Append fails with
	// ErrQuota rather than exceed it.
	MaxBytes int64
	// Deliver, if set, may be called once by Append, with the frame as
	// it is being stored, before the commit that makes it durable: its
	// sequence number is then fixed and never given to another frame,
	// but the frame may yet fail to be stored (early.go). An Append
	// that did not call it delivers nothing.
	Deliver func(wire.Stored)
}

// Store errors.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrStale         = errors.New("stale version")
	ErrInviteInvalid = errors.New("invite unknown, spent or expired")
	ErrQuota         = errors.New("storage quota exceeded")
	ErrClosed        = errors.New("store closed")
	// ErrScrub means a burn committed but the files could not be
	// scrubbed yet.
	ErrScrub = errors.New("burned rows committed, but the WAL checkpoint failed")
)
