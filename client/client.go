package client

import (
	"database/sql"
	"path/filepath"
	"time"

	"filippo.io/age"

	"parley/crypto"
	"parley/internal/relayclient"
)

// Client is an unlocked home.
type Client struct {
	dir  string
	name string
	id   *crypto.Identity
	seal *sealer
	age  *age.HybridIdentity
	db   *sql.DB
	// Now is the client's clock; tests replace it.
	Now func() time.Time
	// proxy, when set, carries every connection to a relay (proxy.go).
	proxy *relayclient.Proxy
	// AdminSpread bounds the random pause before an administration
	// session that follows this home's member traffic in one command
	// (administer.go): 0, the default, pauses not at all (tests); the
	// command line sets 3 s.
	AdminSpread time.Duration
	// duressed is set when this unlock used the duress passphrase.
	duressed bool
	// erased wakes this Client's followers when it erases a channel.
	erased broadcast
	// cache holds what is derived from each epoch's stored state for
	// the messages sealed and opened there (epochcache.go).
	cache epochCache
}

// Duressed reports whether this home was opened with its duress
// passphrase, which has just destroyed the keys of the home it replaced
// (duress.go). A process that still shows that home (a lock screen)
// must end without showing it again.
func (c *Client) Duressed() bool { return c.duressed }

// Open unlocks the home in dir with passphrase.
func Open(dir, passphrase string) (*Client, error) {
	f, duressed, err := loadIdentity(dir, passphrase)
	if err != nil {
		return nil, err
	}
	id, err := crypto.ParseIdentity(f.Seed)
	if err != nil {
		return nil, err
	}
	ageID, err := age.ParseHybridIdentity(f.Age)
	if err != nil {
		return nil, err
	}
	db, err := openState(filepath.Join(dir, stateName))
	if err != nil {
		return nil, err
	}
	c := &Client{dir: dir, name: f.Name, id: id, seal: &sealer{}, age: ageID, db: db, Now: time.Now, duressed: duressed}
	copy(c.seal.key[:], f.State)
	return c, nil
}

// Close closes the home.
func (c *Client) Close() error { return c.db.Close() }

// Identity is what whoami shows.
type Identity struct {
	Name         string `json:"name"`
	SafetyNumber string `json:"safety_number"`
}

// Whoami returns the home's display name and safety number.
func (c *Client) Whoami() Identity {
	return Identity{Name: c.name, SafetyNumber: c.id.Public().SafetyNumber()}
}

// ChannelInfo is one line of channel list.
type ChannelInfo struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Status  string `json:"status"`
	Policy  string `json:"policy,omitempty"`
	Members int    `json:"members"`
	Epoch   uint64 `json:"epoch"`
}

// Channels lists the home's channels.
func (c *Client) Channels() ([]ChannelInfo, error) {
	rows, err := c.db.Query(`SELECT id, state FROM channels ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChannelInfo
	for rows.Next() {
		var id int64
		var sealed []byte
		if err := rows.Scan(&id, &sealed); err != nil {
			return nil, err
		}
		row, err := c.decodeChannel(id, sealed)
		if err != nil {
			return nil, err
		}
		info := ChannelInfo{Name: row.st.Name, Status: row.st.Status}
		if info.Status == statusRemoved && !row.st.RemovedSigned {
			// The relay's word alone is not a removal.
			info.Status = "refused"
		}
		if r, err := row.st.roster(); err == nil {
			k, _ := row.st.keys()
			if m := r.Member(k.ID()); m != nil {
				info.Role = m.Role.String()
			}
			info.Policy, info.Members, info.Epoch = r.Policy.String(), len(r.Members), r.Version
		}
		out = append(out, info)
	}
	return out, rows.Err()
}

// ChannelID returns the relay-visible id of a channel.
func (c *Client) ChannelID(name string) (crypto.ChannelID, error) {
	row, err := c.view(name)
	if err != nil {
		return crypto.ChannelID{}, err
	}
	return row.st.channelID(), nil
}
