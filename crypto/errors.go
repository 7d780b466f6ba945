package crypto

import "errors"

// Sentinel errors, for errors.Is. Functions wrap them with context.
var (
	// ErrMalformed means an encoding could not be parsed.
	ErrMalformed = errors.New("malformed encoding")
	// ErrBadSignature means a signature did not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownSigner means a signature was made by a key that has no
	// authority over the structure.
	ErrUnknownSigner = errors.New("signer has no authority")
	// ErrRollback means a roster or access list older than the current one.
	ErrRollback = errors.New("rolled-back version")
	// ErrFork means a roster with the same version as, or not chained to,
	// the current one.
	ErrFork = errors.New("forked roster")
	// ErrGap means a roster more than one version ahead; the ones between
	// must be verified first.
	ErrGap = errors.New("missing intermediate roster")
	// ErrDuplicate means the structure is the one already held.
	ErrDuplicate = errors.New("already held")
	// ErrWrongChannel means a structure belongs to another channel.
	ErrWrongChannel = errors.New("wrong channel")
	// ErrWrongEpoch means a message or wrap belongs to another epoch.
	ErrWrongEpoch = errors.New("wrong epoch")
	// ErrNoCompartment means the caller holds no secret for a compartment
	// (a mentor and the talks compartment).
	ErrNoCompartment = errors.New("no access to compartment")
	// ErrDecrypt means an AEAD or HPKE open failed: tampered, truncated,
	// or sealed under another key.
	ErrDecrypt = errors.New("decryption failed")
	// ErrBadTag means a message decrypted but its sender tag for this
	// recipient did not verify: it was not written by the claimed sender.
	ErrBadTag = errors.New("sender authentication failed")
	// ErrReplay means a message counter was already used, or its key was
	// discarded from the skipped-key window.
	ErrReplay = errors.New("replayed or expired message counter")
	// ErrTooFarAhead means a counter jumps further than the skipped-key
	// window allows.
	ErrTooFarAhead = errors.New("message counter too far ahead")
	// ErrTooLarge means an input exceeds its fixed maximum.
	ErrTooLarge = errors.New("input too large")
	// ErrLowOrder means a Diffie-Hellman public key gave an all-zero result.
	ErrLowOrder = errors.New("low-order public key")
	// ErrNotMember means a key is not in the roster.
	ErrNotMember = errors.New("not a member")
	// ErrPolicy means a roster breaks its own secrecy policy.
	ErrPolicy = errors.New("violates secrecy policy")
	// ErrQuorum means a roster change lacks an approval its channel's
	// quorum rule requires (Roster.Quorum).
	ErrQuorum = errors.New("lacks the approvals the channel's quorum rule requires")
	// ErrMismatch means an epoch bundle and the roster inside it disagree.
	ErrMismatch = errors.New("bundle does not match its roster")
	// ErrChecksum means an invite code was mistyped.
	ErrChecksum = errors.New("invite code checksum mismatch")
)

// FormatError reports which structure failed to parse and why. It unwraps
// to ErrMalformed.
type FormatError struct {
	Structure string
	Reason    string
}

func (e *FormatError) Error() string {
	return "malformed " + e.Structure + ": " + e.Reason
}

func (e *FormatError) Unwrap() error { return ErrMalformed }

func malformed(structure, reason string) error {
	return &FormatError{Structure: structure, Reason: reason}
}
