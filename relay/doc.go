// Package relay is Parley's relay: a WebSocket server over TLS that
// stores and forwards ciphertext between clients, enforces each channel's
// signed access list, and learns as little as possible.
//
// # What the relay enforces
//
//   - Every connection answers a fresh challenge with one channel
//     pseudonym key listed in that channel's access list, and stays bound
//     to that one key: one connection, one pseudonym.
//   - Capabilities (read talks, read briefings, write, admin) are checked
//     on every operation against the current list and the relay's clock;
//     a removed or expired key is cut off at once, live connections
//     included.
//   - Access lists are replaced only by a newer version signed by a key
//     with the admin capability in the current one.
//   - A frame is acknowledged only after it is committed to SQLite with
//     synchronous=FULL; a message's payload, kept in the frame log beside
//     the database, is synced before that commit. Readers may be pushed a
//     busy batch while its commit runs (early.go); a sequence number once
//     pushed is never given to another frame, across crashes too.
//   - A burn notice signed by an admin zeroes the channel's messages in
//     the frame log, erases its rows and checkpoints the WAL, with
//     secure_delete on, so nothing of it stays in the files; a tombstone
//     keeps the notice so offline members learn of the burn. Expired
//     messages are erased the same way.
//
// # What the relay learns and does not
//
// It stores only ciphertext it cannot open: message envelopes of a fixed
// size, epoch bundles, sealed join requests. It sees channel ids,
// member pseudonym keys and the channel's administration key (no roles),
// the epoch and sender key id of each message (its compartment and
// counter are sealed), and the timing of connections. It never sees
// names, identities, roles, channel names or plaintext. It logs counts and
// errors only: no addresses, channel ids, keys or frame contents.
//
// What the relay cannot prevent, and clients must catch: it may drop,
// delay, replay, reorder or inject frames, serve old access lists or hand
// one channel's frames to another. The client's checks (crypto package)
// make each of these visible instead of harmful.
package relay
