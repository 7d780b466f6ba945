package chat

import (
	"context"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"parley/client"
)

// session connects the chat screen to the client library. One
// goroutine owns everything that talks to the relay: it runs
// client.Follow for live updates and, when the user does something that
// syncs or sends (send, draft put, remove, admit…), it stops Follow, does
// the action and starts Follow again. Two syncs of one channel never run
// at once in this process, so an outbox item is never posted twice.
// Read-only calls (Read, Members, Drafts, Queued) run beside it.
type session struct {
	c       *client.Client
	channel string

	ctx    context.Context // ends the loop
	cancel context.CancelFunc
	// jobCtx is given to actions; it outlives ctx briefly so that a send
	// in flight when the user quits can finish.
	jobCtx    context.Context
	jobCancel context.CancelFunc

	events chan tea.Msg // entries, connection state, Follow's end
	jobs   chan job
	done   chan struct{}
	once   sync.Once

	// retry is how long to wait before following again after Follow
	// failed.
	retry time.Duration
	// mark is how far into the transcript the screen has been given
	// entries; only the loop's Follow, one at a time, moves it.
	mark int64
}

type job struct {
	run   func(ctx context.Context) tea.Msg
	reply chan tea.Msg
}

// Messages from the session to the screen.
type (
	// entryMsg is a transcript entry Follow delivered.
	entryMsg struct{ e client.Entry }
	// connMsg is Follow's connection state: "connected" or
	// "reconnecting".
	connMsg struct{ state string }
	// followEndedMsg says Follow returned: the channel was burned
	// (state "burned"), we were removed ("removed") or the relay refuses our key
	// ("refused"), or err.
	followEndedMsg struct {
		state string
		err   error
	}
)

func startSession(c *client.Client, channel string, mark int64) *session {
	s := &session{c: c, channel: channel, mark: mark, events: make(chan tea.Msg, 256), jobs: make(chan job),
		done: make(chan struct{}), retry: 5 * time.Second}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.jobCtx, s.jobCancel = context.WithCancel(context.Background())
	go s.loop()
	return s
}

// emit hands a message to the screen unless the session is closing.
func (s *session) emit(msg tea.Msg) {
	select {
	case s.events <- msg:
	case <-s.ctx.Done():
	}
}

func (s *session) loop() {
	defer close(s.done)
	show := func(e client.Entry) { s.emit(entryMsg{e}) }
	status := func(state string) { s.emit(connMsg{state}) }
	for s.ctx.Err() == nil {
		fctx, stop := context.WithCancel(s.ctx)
		ended := make(chan error, 1)
		go func() { ended <- s.c.Follow(fctx, s.channel, &s.mark, show, status) }()
		select {
		case j := <-s.jobs:
			stop()
			<-ended
			j.reply <- j.run(s.jobCtx)
		case err := <-ended:
			stop()
			if s.ctx.Err() != nil {
				return
			}
			state := s.endState()
			s.emit(followEndedMsg{state: state, err: err})
			if state != "" {
				s.serve() // nothing left to follow; actions still answer
				return
			}
			select {
			case <-time.After(s.retry):
			case j := <-s.jobs:
				j.reply <- j.run(s.jobCtx)
			case <-s.ctx.Done():
			}
		case <-s.ctx.Done():
			stop()
			<-ended
			return
		}
	}
}

// endState tells why Follow returned without an error of its own.
func (s *session) endState() string {
	list, err := s.c.Channels()
	if err != nil {
		return ""
	}
	for _, ch := range list {
		if ch.Name == s.channel {
			if ch.Status == "removed" || ch.Status == "refused" {
				return ch.Status
			}
			return ""
		}
	}
	return "burned"
}

func (s *session) serve() {
	for {
		select {
		case j := <-s.jobs:
			j.reply <- j.run(s.jobCtx)
		case <-s.ctx.Done():
			return
		}
	}
}

// listen is the command that waits for the session's next message.
func (s *session) listen() tea.Cmd {
	return func() tea.Msg {
		select {
		case msg := <-s.events:
			return msg
		case <-s.ctx.Done():
			return nil
		}
	}
}

// do is the command that runs an action on the session's goroutine,
// with Follow paused, and returns its result.
func (s *session) do(run func(ctx context.Context) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		reply := make(chan tea.Msg, 1)
		select {
		case s.jobs <- job{run: run, reply: reply}:
		case <-s.done:
			return actionMsg{err: errSessionClosed}
		}
		return <-reply
	}
}

// close stops the session, letting an action in flight finish for up to
// grace.
func (s *session) close(grace time.Duration) {
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(grace):
			s.jobCancel()
			<-s.done
		}
		s.jobCancel()
	})
}
