package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"parley/client"
)

// events streams a channel's new transcript entries as server-sent
// events while the page is open: "entry" for each one, "status" for the
// connection to the relay, "problem" for an error; it ends with "locked"
// when the home locks, or "gone" when the channel is no longer here.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	c, lockCtx, err := s.home()
	if err != nil {
		writeJSON(w, http.StatusLocked, apiError{Error: err.Error(), Locked: true})
		return
	}
	flusher, canFlush := w.(http.Flusher)
	if !canFlush {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	s.stream(+1)
	defer s.stream(-1)
	mark, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	channel := r.PathValue("ch")
	out := make(chan string, 64)
	done := make(chan struct{})
	ctx := r.Context()
	gone := false // the channel was erased here (burn, leave): the stream ends
	go func() {
		defer close(done)
		for ctx.Err() == nil && lockCtx.Err() == nil {
			err := c.Follow(mergeDone(ctx, lockCtx), channel, &mark, func(e client.Entry) {
				raw, _ := json.Marshal(struct {
					client.Entry
					Mark int64 `json:"mark"`
				}{cleanEntry(e), mark})
				s.shown(channel, mark)
				out <- "event: entry\ndata: " + string(raw) + "\n\n"
			}, func(st string) {
				out <- "event: status\ndata: " + strconv.Quote(st) + "\n\n"
			})
			if errors.Is(err, client.ErrNoChannel) {
				gone = true
				return
			}
			if err != nil {
				raw, _ := json.Marshal(client.OneLine(err.Error()))
				out <- "event: problem\ndata: " + string(raw) + "\n\n"
			}
			select {
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
			case <-lockCtx.Done():
			}
		}
	}()
	for {
		select {
		case msg := <-out:
			fmt.Fprint(w, msg)
			flusher.Flush()
		case <-done:
			if gone {
				fmt.Fprint(w, "event: gone\ndata: true\n\n")
				flusher.Flush()
				return
			}
			fmt.Fprint(w, "event: locked\ndata: true\n\n")
			flusher.Flush()
			return
		}
	}
}

// mergeDone returns a context that ends when a or b does.
func mergeDone(a, b context.Context) context.Context {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	context.AfterFunc(ctx, func() { stop() })
	return ctx
}
