// Package crypto is Parley's cryptographic core: identities, per-channel
// pseudonym keys, the organizer-signed roster, the relay access list, the
// epoch key schedule, message protection, invites, join requests and burn
// notices. It does no I/O and keeps no global state; every function takes
// its inputs and returns its outputs, so the client and the relay decide
// where keys live.
//
// # Security properties
//
//   - Confidentiality: message bodies, display names, identity keys and the
//     roster are only ever encrypted under secrets that the relay never
//     holds. Every sealed message is exactly [EnvelopeSize] bytes, so the
//     relay learns neither body length nor message type.
//   - Compartments: each epoch has a talks secret and a briefings secret.
//     Mentors are never wrapped the talks secret, so they cannot derive a
//     talks chain key; this is enforced here, not by the relay.
//   - Membership: every membership change makes a new epoch with fresh
//     random secrets wrapped with HPKE (ML-KEM-768 + X25519) to the members
//     of the new roster only, bound to channel, epoch and roster hash. A
//     removed member cannot open anything of a later epoch.
//   - Forward secrecy inside an epoch: per-sender hash-ratchet chains; a
//     caller that stores only the advanced chain key cannot recompute old
//     message keys.
//   - Post-compromise security: members rotate their per-channel KEM key and
//     the next epoch is wrapped to the fresh key, so a stolen old KEM key
//     opens no later epoch.
//   - Deniable sender authentication: messages carry pairwise MAC tags keyed
//     by static-static X25519 between per-channel keys. Either party of a
//     pair could have made a tag, so a transcript convinces no outsider of
//     who wrote what. Messages are never signed.
//   - Roster integrity: rosters are signed by an organizer of the previous
//     roster, chained by hash and strictly versioned; rollbacks, forks,
//     gaps and unknown signers are rejected.
//   - Domain separation: every signature, MAC and key derivation has its own
//     label (see labels.go); nothing signed in one context verifies in
//     another.
//
// # Limits
//
//   - Signed structures (roster, access list, join binding, epoch bundle,
//     burn notice) are not deniable: a leaked roster proves that an
//     organizer's key listed these identities. Authorship of messages stays
//     deniable.
//   - Pairwise MAC tags are checked by each recipient for itself: a
//     malicious member can send a message whose tag verifies for some
//     members and not others. Every member can still only claim its own
//     sender identity towards honest recipients.
//   - Forward secrecy needs the caller to delete epoch secrets and old chain
//     keys; this package returns new values and never keeps old ones.
//   - The pairwise MAC keys use classical X25519: a future quantum attacker
//     could forge old authentication tags, which is harmless after the
//     fact (and only strengthens deniability), but cannot read messages.
//   - Metadata the relay necessarily sees: channel id, pseudonym public keys,
//     compartment, epoch, sender key id and counter of each message, and
//     the timing and size class of control frames.
package crypto
