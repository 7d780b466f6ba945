package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
)

// startApp makes a home for name and serves it, unlocked with the test
// passphrase.
func startApp(t *testing.T, name string, idle time.Duration) (*Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	if err := client.Init(dir, name, parleytest.Passphrase); err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{Home: dir, Passphrase: parleytest.Passphrase, Listen: "127.0.0.1:0", IdleLock: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// browser is what a page does: it logs in with the launch address, keeps
// the cookie and the session's key (from the fragment of the address
// the login sends it to), sends the key with every API request and the
// origin with every change.
type browser struct {
	t      *testing.T
	s      *Server
	http   *http.Client
	key    string
	origin string
}

func newBrowser(t *testing.T, s *Server) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, s: s, http: &http.Client{Jar: jar, Timeout: 3 * time.Minute}, origin: s.Origin()}
	b.key = b.login(s.URL())
	return b
}

// login spends a launch address and returns the key the login's
// redirect carries.
func (b *browser) login(url string) string {
	b.t.Helper()
	b.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	defer func() { b.http.CheckRedirect = nil }()
	resp, err := b.http.Get(url)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Path != "/" || !strings.HasPrefix(loc.Fragment, keyParam+"=") {
		b.t.Fatalf("login: %s, to %v", resp.Status, loc)
	}
	return strings.TrimPrefix(loc.Fragment, keyParam+"=")
}

// do sends a request and returns the status and body.
func (b *browser) do(method, path string, body any, header map[string]string) (int, []byte) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, b.s.Origin()+path, rd)
	req.Header.Set(keyHeader, b.key)
	if method != http.MethodGet {
		req.Header.Set("Origin", b.origin)
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (b *browser) get(path string, v any) {
	b.t.Helper()
	code, body := b.do(http.MethodGet, path, nil, nil)
	if code != http.StatusOK {
		b.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			b.t.Fatalf("GET %s: %v", path, err)
		}
	}
}

func (b *browser) post(path string, in, v any) {
	b.t.Helper()
	code, body := b.do(http.MethodPost, path, in, nil)
	if code != http.StatusOK {
		b.t.Fatalf("POST %s: %d %s", path, code, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			b.t.Fatalf("POST %s: %v", path, err)
		}
	}
}

// events opens a channel's event stream and returns its "entry" events'
// data as they come.
func (b *browser) events(path string) (<-chan string, func()) {
	b.t.Helper()
	// As EventSource, which cannot add a header: the key in the query.
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest(http.MethodGet, b.s.Origin()+path+sep+keyParam+"="+b.key, nil)
	c := &http.Client{Jar: b.http.Jar}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	out := make(chan string, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "entry":
				out <- strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out, func() { resp.Body.Close() }
}

// joinThroughPage has the page join channel "oslo" with an invite from
// org, and org admit it.
func (b *browser) joinThroughPage(w *parleytest.World, org *client.Client) {
	b.t.Helper()
	b.joinSideThroughPage(w, org, crypto.RoleParticipant, "")
}

// joinSideThroughPage is joinThroughPage with a role and a side (none
// when side is empty).
func (b *browser) joinSideThroughPage(w *parleytest.World, org *client.Client, role crypto.Role, side string) {
	b.t.Helper()
	code, err := org.InviteToSide(w.Ctx, "oslo", role, side, time.Hour, 0)
	if err != nil {
		b.t.Fatal(err)
	}
	b.post("/api/join", map[string]string{"code": code}, nil)
	if _, err := org.Admit(w.Ctx, "oslo", nil, true); err != nil {
		b.t.Fatal(err)
	}
}

// pendingHome makes a home for name that has asked to join org's
// channel "oslo" (not admitted), closes it, and returns its folder.
func pendingHome(t *testing.T, w *parleytest.World, org *client.Client, name string) string {
	t.Helper()
	h := w.Home(name)
	code, err := org.Invite(w.Ctx, "oslo", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Join(w.Ctx, code, "oslo"); err != nil {
		t.Fatal(err)
	}
	h.Close()
	return w.Dir(h)
}
