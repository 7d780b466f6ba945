package client

import (
	"database/sql"
	"fmt"
	"slices"

	"parley/crypto"
)

// Refuse drops the pending join requests of names without admitting
// them. The joiner is not told: a refused request looks, to them and to
// the relay, like one nobody has answered yet. The invite it used was
// spent when the request arrived, so the same code cannot ask again.
func (c *Client) Refuse(name string, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("name the join requests to refuse")
	}
	return c.update(name, func(_ *sql.Tx, row *channelRow) error {
		if _, _, _, err := row.st.self(crypto.RoleOrganizer); err != nil {
			return err
		}
		var keep []pendingJoin
		found := map[string]bool{}
		for _, p := range row.st.Pending {
			if slices.Contains(names, p.Name) {
				found[p.Name] = true
				continue
			}
			keep = append(keep, p)
		}
		for _, n := range names {
			if !found[n] {
				return fmt.Errorf("no pending join request from %q (parley pending lists them)", n)
			}
		}
		row.st.Pending = keep
		return nil
	})
}
