package chat

import (
	"context"
	"errors"
	"fmt"
	"io"

	tea "github.com/charmbracelet/bubbletea"

	"parley/client"
)

// Config is what the chat needs from the command.
type Config struct {
	// Client is the open home. The chat does not close it.
	Client *client.Client
	// Channel is the name of the channel shown.
	Channel string
	// CheckPassphrase unlocks the locked screen: nil when the
	// passphrase opens this home. An error wrapping ErrEnd ends the chat
	// at once, without showing the channel again, and Run returns it.
	CheckPassphrase func(string) error
}

// ErrEnd, wrapped in CheckPassphrase's answer, ends the chat: the home on
// disk is no longer the one shown (the duress passphrase replaced it).
var ErrEnd = errors.New("the chat ended")

// HomeCheck is the CheckPassphrase of a chat of channel in the home in
// dir: nil when the passphrase opens that home. The duress passphrase
// opens an empty home in its place (client.Client.Duressed); the chat
// then ends with an empty home's answer for the channel.
func HomeCheck(dir, channel string) func(string) error {
	return func(p string) error {
		again, err := client.Open(dir, p)
		if err != nil {
			return err
		}
		duressed := again.Duressed()
		if err := again.Close(); err != nil {
			return err
		}
		if duressed {
			return fmt.Errorf("%w: %w", &client.NoChannelError{Name: channel}, ErrEnd)
		}
		return nil
	}
}

// Screen is a chat with its channel loaded and followed, not shown yet.
type Screen struct{ m *model }

// New loads the channel's transcript and starts following it. It fails
// when the home has no such channel or has not been admitted to it yet.
// Run must follow: it shows the screen and stops following.
func New(cfg Config) (*Screen, error) {
	m, err := newModel(cfg)
	if err != nil {
		return nil, err
	}
	return &Screen{m}, nil
}

// Run shows the chat full-screen on the terminal in and out until the
// user quits or ctx ends. It runs in the terminal's alternate screen, so
// nothing of the conversation lands in the scrollback, and clears the
// screen on exit. A send in flight gets five seconds to finish before Run
// returns; quitting is not an error.
func (s *Screen) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	m := s.m
	defer m.close()
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err := p.Run()
	// The alternate screen is gone; clear the main one as well.
	fmt.Fprint(out, "\x1b[H\x1b[2J")
	m.close()
	if m.endErr != nil {
		return m.endErr
	}
	if errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
