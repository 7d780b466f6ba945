package crypto

import "time"

// Role is a member's role in a channel.
type Role uint8

const (
	RoleOrganizer   Role = 1
	RoleParticipant Role = 2
	RoleMentor      Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleOrganizer:
		return "organizer"
	case RoleParticipant:
		return "participant"
	case RoleMentor:
		return "mentor"
	}
	return "unknown"
}

// ParseRole maps "organizer", "participant" or "mentor" to a Role.
func ParseRole(s string) (Role, bool) {
	for _, r := range []Role{RoleOrganizer, RoleParticipant, RoleMentor} {
		if r.String() == s {
			return r, true
		}
	}
	return 0, false
}

func (r Role) valid() bool { return r >= RoleOrganizer && r <= RoleMentor }

// CanRead reports whether the role is given the secret of compartment c.
// Mentors read briefings only.
func (r Role) CanRead(c Compartment) bool {
	switch c {
	case Talks:
		return r == RoleOrganizer || r == RoleParticipant
	case Briefings:
		return r.valid()
	}
	return false
}

// CanPost reports whether the role may post in compartment c: the one
// rule that the client and the relay (Capability) both follow. It is
// CanRead today (a member writes where it reads), named apart so that
// every caller says which question it asks.
func (r Role) CanPost(c Compartment) bool { return r.CanRead(c) }

// Compartment is one of the two secrets of an epoch.
type Compartment uint8

const (
	// Talks is the negotiation itself: messages and drafts, for organizers
	// and participants.
	Talks Compartment = 1
	// Briefings is what every member, mentors included, may read.
	Briefings Compartment = 2
	// Side is a side's own briefings: what a delegation's participants,
	// organizers and mentors tell each other, and no other side. A
	// message in it is for its sender's side; only that side's members
	// hold the secret (Member.Reads).
	Side Compartment = 3
)

func (c Compartment) String() string {
	switch c {
	case Talks:
		return "talks"
	case Briefings:
		return "briefings"
	case Side:
		return "side briefings"
	}
	return "unknown"
}

func (c Compartment) valid() bool { return c == Talks || c == Briefings || c == Side }

// Reads reports whether m is given the secret of compartment c: for
// Side, the secret of side's briefings (side: the sender's).
func (m *Member) Reads(c Compartment, side string) bool {
	if c == Side {
		return m.Side != "" && m.Side == side
	}
	return m.Role.CanRead(c)
}

// Posts reports whether m may post in compartment c: where it reads, and
// in Side only to its own side.
func (m *Member) Posts(c Compartment) bool {
	if c == Side {
		return m.Side != ""
	}
	return m.Role.CanPost(c)
}

// Policy is a channel's secrecy policy, signed into its roster.
type Policy uint8

const (
	// PolicyHard is the default: a small member cap, short retention and
	// no plaintext export.
	PolicyHard Policy = 1
	// PolicySoft allows more members, longer retention and plaintext
	// export.
	PolicySoft Policy = 2
)

// MaxMembers is the most members any roster may list; it sizes the tag
// area of every message.
const MaxMembers = 64

func (p Policy) String() string {
	switch p {
	case PolicyHard:
		return "hard"
	case PolicySoft:
		return "soft"
	}
	return "unknown"
}

// ParsePolicy maps "hard" or "soft" to a Policy.
func ParsePolicy(s string) (Policy, bool) {
	switch s {
	case "hard":
		return PolicyHard, true
	case "soft":
		return PolicySoft, true
	}
	return 0, false
}

func (p Policy) valid() bool { return p == PolicyHard || p == PolicySoft }

// MemberCap is the largest roster the policy allows.
func (p Policy) MemberCap() int {
	if p == PolicySoft {
		return 50
	}
	return 12
}

// Retention is how long the relay and the clients keep messages.
func (p Policy) Retention() time.Duration {
	if p == PolicySoft {
		return 30 * 24 * time.Hour
	}
	return 72 * time.Hour
}

// AllowsPlaintextExport reports whether transcripts may be exported
// unencrypted.
func (p Policy) AllowsPlaintextExport() bool { return p == PolicySoft }
