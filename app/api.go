package app

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"rsc.io/qr"

	"parley/client"
	"parley/crypto"
)

//go:embed assets
var assets embed.FS

// opTimeout bounds one request's work with the relay.
const opTimeout = 2 * time.Minute

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.HandleFunc("GET /api/state", s.state)
	mux.HandleFunc("POST /api/unlock", s.postUnlock)
	mux.HandleFunc("POST /api/init", s.postInit)
	mux.HandleFunc("POST /api/lock", s.api(func(_ context.Context, _ *client.Client, _ *http.Request) (any, error) {
		go s.lock()
		return ok{}, nil
	}))
	mux.HandleFunc("POST /api/quit", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ok{})
		go s.quit()
	})
	mux.HandleFunc("GET /api/channels", s.api(s.channels))
	mux.HandleFunc("POST /api/channels", s.api(s.createChannel))
	mux.HandleFunc("POST /api/join", s.api(s.join))
	mux.HandleFunc("GET /api/channels/{ch}/entries", s.api(s.entries))
	mux.HandleFunc("GET /api/channels/{ch}/events", s.events)
	mux.HandleFunc("POST /api/channels/{ch}/send", s.api(s.send))
	mux.HandleFunc("POST /api/channels/{ch}/sync", s.api(func(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
		_, err := c.Sync(ctx, r.PathValue("ch"))
		return ok{}, err
	}))
	mux.HandleFunc("GET /api/channels/{ch}/members", s.api(func(_ context.Context, c *client.Client, r *http.Request) (any, error) {
		list, err := c.Members(r.PathValue("ch"))
		for i := range list {
			list[i].Name = cleanName(list[i].Name)
		}
		return orEmpty(list, err)
	}))
	mux.HandleFunc("POST /api/channels/{ch}/verify", s.api(s.verify))
	mux.HandleFunc("GET /api/channels/{ch}/relays", s.api(func(_ context.Context, c *client.Client, r *http.Request) (any, error) {
		return orEmpty(c.Relays(r.PathValue("ch")))
	}))
	mux.HandleFunc("GET /api/channels/{ch}/drafts", s.api(func(_ context.Context, c *client.Client, r *http.Request) (any, error) {
		list, err := c.Drafts(r.PathValue("ch"))
		for i := range list {
			list[i].Name, list[i].Author = cleanName(list[i].Name), cleanName(list[i].Author)
			for j := range list[i].Initials {
				list[i].Initials[j].Name, list[i].Initials[j].Side = cleanName(list[i].Initials[j].Name), cleanName(list[i].Initials[j].Side)
			}
		}
		return orEmpty(list, err)
	}))
	mux.HandleFunc("GET /api/channels/{ch}/drafts/{name}", s.api(s.draft))
	mux.HandleFunc("GET /api/channels/{ch}/drafts/{name}/file", s.draftFile)
	mux.HandleFunc("GET /api/channels/{ch}/diff/{name}", s.api(s.diff))
	mux.HandleFunc("POST /api/channels/{ch}/drafts/{name}", s.api(s.putDraft))
	mux.HandleFunc("POST /api/channels/{ch}/drafts/{name}/initial", s.api(s.initialDraft))
	mux.HandleFunc("POST /api/channels/{ch}/drafts/{name}/agreement", s.agreement)
	mux.HandleFunc("POST /api/channels/{ch}/invite", s.api(s.invite))
	mux.HandleFunc("GET /api/channels/{ch}/pending", s.api(func(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
		list, err := c.Pending(ctx, r.PathValue("ch"))
		for i := range list {
			list[i].Name = cleanName(list[i].Name)
		}
		return orEmpty(list, err)
	}))
	mux.HandleFunc("POST /api/channels/{ch}/admit", s.api(s.admit))
	mux.HandleFunc("GET /api/channels/{ch}/proposals", s.api(s.proposals))
	mux.HandleFunc("POST /api/channels/{ch}/approve", s.api(s.approve))
	mux.HandleFunc("POST /api/channels/{ch}/withdraw", s.api(func(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
		p, err := c.Withdraw(ctx, r.PathValue("ch"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"version": p.Version}, nil
	}))
	mux.HandleFunc("POST /api/channels/{ch}/refuse", s.api(s.refuseJoin))
	mux.HandleFunc("POST /api/channels/{ch}/remove", s.api(s.remove))
	mux.HandleFunc("POST /api/channels/{ch}/burn", s.api(s.burn))
	mux.HandleFunc("POST /api/channels/{ch}/leave", s.api(s.leave))
	mux.HandleFunc("POST /api/channels/{ch}/export", s.export)
	return s.guard(mux)
}

type ok struct {
	OK bool `json:"ok"`
}

type apiError struct {
	Error  string `json:"error"`
	Locked bool   `json:"locked,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	if e, ok := v.(apiError); ok {
		// An error may quote a relay's words: one line, with nothing
		// that reorders the screen, as the command line shows them.
		e.Error = client.OneLine(e.Error)
		v = e
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// orEmpty turns a nil list into an empty one, so the page gets [].
func orEmpty[T any](list []T, err error) (any, error) {
	if list == nil {
		list = []T{}
	}
	return list, err
}

// api wraps a handler that needs the unlocked home: it answers 423 when
// the home is locked, the handler's error as one line, its value as JSON.
func (s *Server) api(f func(ctx context.Context, c *client.Client, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, _, err := s.home()
		if err != nil {
			writeJSON(w, http.StatusLocked, apiError{Error: err.Error(), Locked: true})
			return
		}
		if r.Header.Get(pollHeader) == "" {
			s.touch() // a person did something; the page's own polling is not that
		}
		ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
		defer cancel()
		v, err := f(ctx, c, r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// decode reads a JSON request body of at most 16 MiB (a draft).
func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20)).Decode(v); err != nil {
		return errors.New("the request is not valid JSON")
	}
	return nil
}

type stateReply struct {
	Locked bool `json:"locked"`
	// NoHome is set when there is no home yet: the page offers to make
	// one (what parley init does).
	NoHome       bool   `json:"no_home,omitempty"`
	Name         string `json:"name,omitempty"`
	SafetyNumber string `json:"safety_number,omitempty"`
	IdleLockSecs int    `json:"idle_lock_seconds"`
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	rep := stateReply{Locked: true, IdleLockSecs: int(s.opts.IdleLock / time.Second), NoHome: !client.HomeExists(s.opts.Home)}
	if c, _, err := s.home(); err == nil {
		id := c.Whoami()
		rep.Locked, rep.Name, rep.SafetyNumber = false, id.Name, id.SafetyNumber
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) postUnlock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Passphrase string `json:"passphrase"`
	}
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	if err := s.unlock(req.Passphrase); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error(), Locked: true})
		return
	}
	s.state(w, r)
}

// postInit makes the home, as parley init does, and opens it.
func (s *Server) postInit(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name, Passphrase string }
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	if err := client.Init(s.opts.Home, strings.TrimSpace(req.Name), req.Passphrase); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error(), Locked: true})
		return
	}
	if err := s.unlock(req.Passphrase); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error(), Locked: true})
		return
	}
	s.state(w, r)
}

func (s *Server) createChannel(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct {
		Name, Relay, Secrecy string
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	policy := crypto.PolicyHard
	switch req.Secrecy {
	case "", "hard":
	case "soft":
		policy = crypto.PolicySoft
	default:
		return nil, errors.New("secrecy is hard or soft")
	}
	// One relay address a line (or separated by spaces): a channel may
	// live on several relays.
	relays := strings.Fields(req.Relay)
	if len(relays) == 0 {
		return nil, errors.New("give the address of at least one relay")
	}
	return ok{true}, c.CreateChannel(ctx, strings.TrimSpace(req.Name), relays[0], policy, relays[1:]...)
}

func (s *Server) join(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Code, As string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	name, err := c.Join(ctx, strings.TrimSpace(req.Code), strings.TrimSpace(req.As))
	return map[string]string{"channel": name}, err
}

type entriesReply struct {
	Entries []client.Entry `json:"entries"`
	Mark    int64          `json:"mark"`
}

func (s *Server) entries(_ context.Context, c *client.Client, r *http.Request) (any, error) {
	mark, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	list, next, err := c.ReadAfter(r.PathValue("ch"), mark)
	if err != nil {
		return nil, err
	}
	out := make([]client.Entry, len(list))
	for i, e := range list {
		out[i] = cleanEntry(e)
	}
	s.shown(r.PathValue("ch"), next)
	return entriesReply{Entries: out, Mark: next}, nil
}

func (s *Server) send(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Compartment, Text string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	comp := crypto.Talks
	switch req.Compartment {
	case "talks":
	case "briefings":
		comp = crypto.Briefings
	case "side":
		comp = crypto.Side
	default:
		return nil, errors.New("say which compartment: talks, briefings or side")
	}
	err := c.Send(ctx, r.PathValue("ch"), comp, req.Text)
	var notice *client.SentOnceNotice
	var queued *client.QueuedError
	switch {
	case err == nil:
		return map[string]string{"status": "sent"}, nil
	case errors.As(err, &notice):
		return map[string]string{"status": "sent", "note": client.OneLine(notice.Error())}, nil
	case errors.As(err, &queued):
		return map[string]string{"status": "queued", "note": client.OneLine(queued.Error())}, nil
	}
	return nil, err
}

func (s *Server) verify(_ context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Member string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	sn, verified, err := c.Verify(r.PathValue("ch"), req.Member, true)
	return map[string]any{"safety_number": sn, "verified": verified}, err
}

func (s *Server) draft(_ context.Context, c *client.Client, r *http.Request) (any, error) {
	data, err := c.GetDraft(r.PathValue("ch"), r.PathValue("name"), r.URL.Query().Get("version"))
	if err != nil {
		return nil, err
	}
	if !isText(data) {
		return map[string]any{"binary": true, "size": len(data)}, nil
	}
	return map[string]any{"text": cleanText(string(data)), "size": len(data)}, nil
}

// draftFile answers with a version's exact bytes, to save as a file.
func (s *Server) draftFile(w http.ResponseWriter, r *http.Request) {
	c, _, err := s.home()
	if err != nil {
		writeJSON(w, http.StatusLocked, apiError{Error: err.Error(), Locked: true})
		return
	}
	s.touch()
	data, err := c.GetDraft(r.PathValue("ch"), r.PathValue("name"), r.URL.Query().Get("version"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
}

func (s *Server) diff(_ context.Context, c *client.Client, r *http.Request) (any, error) {
	q := r.URL.Query()
	d, err := c.DiffDraft(r.PathValue("ch"), r.PathValue("name"), q.Get("a"), q.Get("b"))
	return map[string]string{"diff": cleanText(d)}, err
}

func (s *Server) putDraft(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Text string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	v, err := c.PutDraft(ctx, r.PathValue("ch"), r.PathValue("name"), []byte(req.Text))
	return map[string]int{"version": v}, err
}

// initialDraft initials the version whose full hash the page showed,
// after the page's warning: it signs nothing the person did not see.
func (s *Server) initialDraft(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct {
		SHA256     string
		Understood bool
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.SHA256) != 64 || !req.Understood {
		return nil, errors.New("initialling needs the version's full hash and the warning acknowledged")
	}
	d, err := c.InitialDraft(ctx, r.PathValue("ch"), r.PathValue("name"), req.SHA256)
	var queued *client.QueuedError
	switch {
	case err == nil:
		return map[string]any{"status": "sent", "version": d.Version}, nil
	case errors.As(err, &queued):
		return map[string]any{"status": "queued", "note": client.OneLine(queued.Error())}, nil
	}
	return nil, err
}

// agreement answers with the record of a version every side initialled,
// signed by this home as the channel's founder, to save as a file.
func (s *Server) agreement(w http.ResponseWriter, r *http.Request) {
	c, _, err := s.home()
	if err != nil {
		writeJSON(w, http.StatusLocked, apiError{Error: err.Error(), Locked: true})
		return
	}
	s.touch()
	var req struct {
		SHA256     string
		Understood bool
	}
	if err := decode(r, &req); err != nil || !req.Understood {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "exporting the record needs the warning acknowledged"})
		return
	}
	a, err := c.ExportAgreement(r.PathValue("ch"), r.PathValue("name"), req.SHA256)
	var out []byte
	if err == nil {
		out, err = a.MarshalJSON()
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="agreement.json"`)
	w.Write(append(out, '\n'))
}

func (s *Server) invite(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct {
		Role    string
		Expires string // a Go duration, "" for the default
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	role, found := crypto.ParseRole(req.Role)
	if !found {
		return nil, errors.New("role is participant, mentor or organizer")
	}
	expires := 24 * time.Hour
	if req.Expires != "" {
		d, err := time.ParseDuration(req.Expires)
		if err != nil || d <= 0 {
			return nil, errors.New("expiry is a duration such as 24h")
		}
		expires = d
	}
	code, err := c.Invite(ctx, r.PathValue("ch"), role, expires, 0)
	if err != nil {
		return nil, err
	}
	return inviteReply{Code: code, QR: inviteQR(code)}, nil
}

type inviteReply struct {
	Code string `json:"code"`
	// QR is a PNG of the code as a QR code, for a handover in person; it
	// travels in the reply, never in an address.
	QR []byte `json:"qr_png,omitempty"`
}

// inviteQR draws the invite code as a QR code (error correction M).
func inviteQR(code string) []byte {
	q, err := qr.Encode(code, qr.M)
	if err != nil {
		return nil // too long for a QR code: the text form still works
	}
	q.Scale = 4
	return q.PNG()
}

func (s *Server) admit(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct {
		Names []string
		All   bool
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	admitted, err := c.Admit(ctx, r.PathValue("ch"), req.Names, req.All)
	if p, ok := proposed(err); ok {
		return p, nil
	}
	return orEmpty(admitted, err)
}

// proposed turns a change that waits for other sides' approval into
// what the page shows: not an error, and not "admitted" either.
func proposed(err error) (any, bool) {
	var w *client.AwaitingApprovalError
	if !errors.As(err, &w) {
		return nil, false
	}
	return map[string]any{"status": "proposed", "version": w.Version, "missing_sides": w.Sides, "note": client.OneLine(w.Error())}, true
}

// proposals syncs first, so an approval is given to the proposal as it
// stands, then lists the proposals waiting.
func (s *Server) proposals(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	if _, err := c.Sync(ctx, r.PathValue("ch")); err != nil {
		return nil, err
	}
	list, err := c.Proposals(r.PathValue("ch"))
	for i := range list {
		list[i].Maker = cleanName(list[i].Maker)
		for j := range list[i].Change {
			list[i].Change[j] = cleanName(list[i].Change[j])
		}
	}
	return orEmpty(list, err)
}

func (s *Server) approve(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Version uint64 }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Version == 0 {
		return nil, errors.New("say which roster version to approve: the page shows it")
	}
	p, err := c.Approve(ctx, r.PathValue("ch"), req.Version)
	switch {
	case p == nil:
		return nil, err
	case err != nil:
		// Signed and queued, not yet at the relay: said as such.
		return map[string]any{"status": "queued", "version": p.Version, "missing_sides": p.Missing, "note": client.OneLine(err.Error())}, nil
	}
	return map[string]any{"status": "sent", "version": p.Version, "missing_sides": p.Missing}, nil
}

func (s *Server) remove(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Member string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	err := c.Remove(ctx, r.PathValue("ch"), req.Member)
	if p, ok := proposed(err); ok {
		return p, nil
	}
	return ok{true}, err
}

// burn needs the channel's name typed again, as the page's confirmation
// asks: a slip of the mouse does not erase a channel.
func (s *Server) burn(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Confirm string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Confirm != r.PathValue("ch") {
		return nil, errors.New("type the channel's name to confirm the burn")
	}
	var partial *client.BurnIncompleteError
	if err := c.Burn(ctx, r.PathValue("ch")); errors.As(err, &partial) {
		return map[string]string{"note": client.OneLine(partial.Error())}, nil
	} else if err != nil {
		return nil, err
	}
	return ok{true}, nil
}

// leave, like burn, needs the channel's name typed again.
func (s *Server) leave(ctx context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Confirm string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Confirm != r.PathValue("ch") {
		return nil, errors.New("type the channel's name to confirm that you leave it")
	}
	return ok{true}, c.Leave(ctx, r.PathValue("ch"))
}

// export answers with the transcript encrypted to the age recipients
// given (one per line). Unlike the command line, the page cannot name a
// file of recipients: a request must not make the server read a path.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	c, _, err := s.home()
	if err != nil {
		writeJSON(w, http.StatusLocked, apiError{Error: err.Error(), Locked: true})
		return
	}
	s.touch()
	var req struct{ Recipients string }
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	// No recipients asks for plain text, which the client allows for a
	// soft channel only: the rule is the command line's, not the page's.
	var recipients []age.Recipient
	if strings.TrimSpace(req.Recipients) != "" {
		if recipients, err = parseRecipients(req.Recipients); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
	}
	var out bytes.Buffer
	if err := c.ExportTo(r.PathValue("ch"), &out, recipients); err != nil {
		if errors.Is(err, client.ErrPlaintextExportRefused) {
			err = errors.New("this channel's secrecy policy is hard: plaintext export is refused; give an age recipient")
		}
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	if recipients == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="transcript.txt"`)
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="transcript.age"`)
	}
	w.Write(out.Bytes())
}

// parseRecipients reads age recipients, one per line, from text only.
func parseRecipients(text string) ([]age.Recipient, error) {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if !strings.HasPrefix(l, "age1") {
			return nil, errors.New("give age recipients (age1… or age1pq1…), one a line")
		}
		lines = append(lines, l)
	}
	rs, err := age.ParseRecipients(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		return nil, fmt.Errorf("recipients: %v", err)
	}
	return rs, nil
}

// isText reports whether a draft can be shown as text.
func isText(b []byte) bool {
	return !strings.ContainsRune(string(b), 0) && strings.ToValidUTF8(string(b), "\uFFFD") == string(b)
}
