// Package client is the Parley client as a library: the keystore, channel
// state, the sync engine and the rules a receiving client enforces. The
// parley command and the terminal UI are thin layers over it.
//
// # What it guarantees
//
//   - At rest, a home holds nothing readable without the passphrase: the
//     identity file is age-encrypted under an scrypt passphrase recipient;
//     every channel's state in the SQLite database is sealed with
//     XChaCha20-Poly1305 under a key kept in that identity file, and rows
//     are found by keyed hashes, never by names; transcripts are
//     age-encrypted to a hybrid post-quantum (ML-KEM-768 + X25519)
//     recipient whose secret lives in the identity file. The database runs
//     with secure_delete, so erased rows do not linger in free pages.
//   - It only ever encrypts to the members of the current signed roster,
//     and accepts a roster only if it chains to the one it holds (or, for
//     its first, was signed by the organizer its invite names).
//   - It shows nothing it has not authenticated: each message is opened
//     (AEAD, then the sender's pairwise tag) before anything in it is
//     used; replays are dropped, gaps in a sender's chain become system
//     lines, and messages from a removed member after the removal are
//     rejected.
//   - State changes that must not be repeated (a message counter, a new
//     epoch) are committed before anything leaves the machine, through an
//     outbox, so a crash never makes it send two different things under
//     one counter or two rosters of one version.
//
// # Forward secrecy, and its bound
//
// Epoch secrets are deleted as soon as the per-sender chains of the epoch
// are derived, and chain keys advance past every message read. But the
// relay keeps every epoch bundle until the channel burns, and a member's
// per-channel KEM key opens every bundle wrapped to it: whoever takes a
// member's unlocked state can, with the relay's store, reopen the epochs
// wrapped to its current KEM key. That key is replaced every
// KeyUpdateInterval (7 days), so forward secrecy holds for what is older
// than the member's current KEM key, not per message.
package client
