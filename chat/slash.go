package chat

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"parley/client"
	"parley/crypto"
)

// slash runs a slash command typed in the compose box.
func (m *model) slash(line string) tea.Cmd {
	name, rest, _ := strings.Cut(strings.TrimSpace(line[1:]), " ")
	rest = strings.TrimSpace(rest)
	usage := func(u string) tea.Cmd {
		m.setNotice("usage: "+u, true)
		return nil
	}
	switch name {
	case "help", "?":
		m.openPanel(modeHelp, "Help", m.helpText())
		return nil
	case "quit", "exit":
		m.quitting = true
		return tea.Quit
	case "lock":
		m.lock()
		return nil
	case "brief":
		if after, ok := strings.CutPrefix(rest, "--side"); ok && (after == "" || after[0] == ' ') {
			text := strings.TrimSpace(after)
			if text == "" {
				return usage("/brief --side TEXT")
			}
			return m.briefSide(text)
		}
		if rest == "" {
			return usage("/brief [--side] TEXT")
		}
		return m.send(crypto.Briefings, rest)
	case "members":
		m.openMembers()
		return m.refreshMeta()
	case "verify":
		confirm := false
		var words []string
		for _, w := range strings.Fields(rest) {
			if w == "--confirm" || w == "-confirm" {
				confirm = true
			} else {
				words = append(words, w)
			}
		}
		if len(words) == 0 {
			return usage("/verify [--confirm] NAME")
		}
		return m.verify(strings.Join(words, " "), confirm)
	case "drafts":
		return m.openDrafts()
	case "draft":
		return m.draftCommand(rest)
	case "pending", "admit", "invite", "remove":
		if !m.isOrganizer() {
			m.setNotice(fmt.Sprintf("/%s is for organizers", name), true)
			return nil
		}
		return m.organizerCommand(name, rest)
	}
	m.setNotice(fmt.Sprintf("unknown command /%s; /help lists them (// sends a message starting with /)", cleanLine(name)), true)
	return nil
}

// action runs fn on the session with Follow paused.
func (m *model) action(fn func(ctx context.Context) tea.Msg) tea.Cmd {
	if m.s == nil {
		m.setNotice("this channel is closed to you", true)
		return nil
	}
	m.busy++
	return m.s.do(fn)
}

func (m *model) verify(member string, confirm bool) tea.Cmd {
	c, ch := m.c, m.cfg.Channel
	m.busy++
	return func() tea.Msg {
		sn, verified, err := c.Verify(ch, member, confirm)
		if err != nil {
			return actionMsg{err: err}
		}
		state := "not verified: compare it with them in person, then /verify --confirm " + member
		if verified {
			state = "verified"
		}
		return actionMsg{notice: fmt.Sprintf("%s: %s (%s)", member, sn, state)}
	}
}

func (m *model) draftCommand(rest string) tea.Cmd {
	if !m.canTalk() {
		m.setNotice("drafts belong to the talks, which mentors do not receive", true)
		return nil
	}
	sub, args, _ := strings.Cut(rest, " ")
	args = strings.TrimSpace(args)
	switch sub {
	case "list", "":
		return m.openDrafts()
	case "put":
		file, name, _ := strings.Cut(args, " ")
		name = strings.TrimSpace(name)
		if file == "" {
			m.setNotice("usage: /draft put FILE [NAME]", true)
			return nil
		}
		if strings.HasPrefix(file, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				file = filepath.Join(home, file[2:])
			}
		}
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		}
		c, ch := m.c, m.cfg.Channel
		m.setNotice(fmt.Sprintf("publishing %s as %q…", file, name), false)
		return m.action(func(ctx context.Context) tea.Msg {
			data, err := os.ReadFile(file)
			if err != nil {
				return actionMsg{err: err}
			}
			v, err := c.PutDraft(ctx, ch, name, data)
			if err != nil {
				return actionMsg{err: err, reload: true}
			}
			return actionMsg{notice: fmt.Sprintf("published %q version %d (%d bytes)", name, v, len(data)), reload: true}
		})
	case "get", "open":
		name, nums := splitNumbers(args, 1)
		if name == "" {
			m.setNotice("usage: /draft get NAME [VERSION]", true)
			return nil
		}
		if len(nums) == 1 {
			return m.openDraft(name, strconv.Itoa(nums[0]), fmt.Sprintf("version %d", nums[0]))
		}
		return m.openDraft(name, "", "latest version")
	case "diff":
		name, nums := splitNumbers(args, 2)
		if name == "" || len(nums) != 2 {
			m.setNotice("usage: /draft diff NAME V1 V2", true)
			return nil
		}
		return m.diffDraft(name, strconv.Itoa(nums[0]), strconv.Itoa(nums[1]), fmt.Sprintf("version %d → %d", nums[0], nums[1]))
	}
	m.setNotice("usage: /draft put FILE [NAME] | get NAME [VERSION] | diff NAME V1 V2", true)
	return nil
}

// splitNumbers takes up to n trailing numbers off "NAME 1 2"; names
// may hold spaces.
func splitNumbers(s string, n int) (string, []int) {
	words := strings.Fields(s)
	var nums []int
	for len(words) > 1 && len(nums) < n {
		v, err := strconv.Atoi(words[len(words)-1])
		if err != nil || v < 1 {
			break
		}
		nums = append([]int{v}, nums...)
		words = words[:len(words)-1]
	}
	return strings.Join(words, " "), nums
}

func (m *model) organizerCommand(name, rest string) tea.Cmd {
	c, ch := m.c, m.cfg.Channel
	switch name {
	case "pending":
		return m.action(func(ctx context.Context) tea.Msg {
			list, err := c.Pending(ctx, ch)
			if err != nil {
				return actionMsg{err: err}
			}
			if len(list) == 0 {
				return actionMsg{notice: "no join requests waiting"}
			}
			var b strings.Builder
			for _, p := range list {
				fmt.Fprintf(&b, "%s, as %s\n    safety number %s\n", p.Name, p.Role, p.SafetyNumber)
			}
			b.WriteString("\nCompare each safety number with the person, then admit:\n/admit NAME, or /admit --all for every one.")
			return actionMsg{infoTitle: "Join requests", info: b.String()}
		})
	case "admit":
		all := rest == "--all"
		var names []string
		if !all {
			for _, n := range strings.Split(rest, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
		}
		if !all && len(names) == 0 {
			m.setNotice("usage: /admit NAME[, NAME…] | /admit --all", true)
			return nil
		}
		return m.action(func(ctx context.Context) tea.Msg {
			admitted, err := c.Admit(ctx, ch, names, all)
			if err != nil {
				return actionMsg{err: err, reload: true}
			}
			return actionMsg{notice: "admitted " + strings.Join(admitted, ", "), reload: true}
		})
	case "remove":
		if rest == "" {
			m.setNotice("usage: /remove NAME", true)
			return nil
		}
		return m.action(func(ctx context.Context) tea.Msg {
			if err := c.Remove(ctx, ch, rest); err != nil {
				return actionMsg{err: err, reload: true}
			}
			return actionMsg{notice: fmt.Sprintf("removed %s: the relay took the new epoch without them", rest), reload: true}
		})
	case "invite":
		f := strings.Fields(rest)
		if len(f) < 2 || len(f) > 3 {
			m.setNotice("usage: /invite participant|mentor|organizer FILE [EXPIRES]", true)
			return nil
		}
		role, ok := crypto.ParseRole(f[0])
		if !ok {
			m.setNotice("the role is participant, mentor or organizer", true)
			return nil
		}
		expires := 24 * time.Hour
		if len(f) == 3 {
			d, err := client.ParseDuration(f[2])
			if err != nil {
				m.setNotice(err.Error(), true)
				return nil
			}
			expires = d
		}
		file := f[1]
		return m.action(func(ctx context.Context) tea.Msg {
			if _, err := os.Stat(file); err == nil {
				return actionMsg{err: fmt.Errorf("%s exists already; the code goes to a new file", file)}
			}
			code, err := c.Invite(ctx, ch, role, expires, 0)
			if err != nil {
				return actionMsg{err: err}
			}
			if err := writeNewFile(file, []byte(code+"\n")); err != nil {
				return actionMsg{err: err}
			}
			return actionMsg{notice: fmt.Sprintf("invite for a %s in %s: single use, valid %s; hand it over in person", role, file, client.FormatDuration(expires))}
		})
	}
	return nil
}

// writeNewFile writes data to a file that must not exist, mode 0600.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// briefSide sends text to this member's own side alone, saying first who
// reads it.
func (m *model) briefSide(text string) tea.Cmd {
	var own string
	for _, mb := range m.members {
		if mb.You {
			own = mb.Side
		}
	}
	if own == "" {
		m.setNotice("you belong to no side: /brief TEXT briefs the whole channel", true)
		return nil
	}
	var readers []string
	for _, mb := range m.members {
		if mb.Side == own {
			readers = append(readers, cleanLine(mb.Name))
		}
	}
	m.setNotice("to side "+cleanLine(own)+" only: "+strings.Join(readers, ", "), false)
	return m.send(crypto.Side, text)
}
