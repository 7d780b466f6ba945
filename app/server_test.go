package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
	"parley/internal/relayclient"
)

// Every refusal of the guard, each made the way another origin or a
// rebinding DNS name would try.
func TestGuardRefusals(t *testing.T) {
	s, _ := startApp(t, "Alice", time.Hour)
	anon := &http.Client{}
	get := func(path string, header map[string]string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, s.Origin()+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if h := header["Host"]; h != "" {
			req.Host = h
		}
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for path, want := range map[string]int{"/": 403, "/api/state": 403, "/api/channels": 403, "/static/app.js": 403, "/login?token=00": 403} {
		if resp := get(path, nil); resp.StatusCode != want {
			t.Errorf("%s without a session: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// Every response, refusals included, forbids framing, caching and
	// outside resources.
	resp := get("/", nil)
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if resp.Header.Get(h) != want {
			t.Errorf("%s: %q", h, resp.Header.Get(h))
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	// A page at another name for this address (DNS rebinding) is refused
	// before anything else, the login included.
	_, port, _ := net.SplitHostPort(s.host)
	if resp := get("/login?token=00", map[string]string{"Host": "rebind.example:" + port}); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("rebinding host: %d", resp.StatusCode)
	}

	b := newBrowser(t, s)
	// The launch address works once.
	if resp := get(strings.TrimPrefix(s.URL(), s.Origin()), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("launch address used twice: %d", resp.StatusCode)
	}
	b.get("/api/channels", nil)
	// The cookie alone, as a program listening on another port of this
	// address gets it when a page sends the browser there (a loopback
	// cookie goes to every port), reads nothing; no answer gives the key.
	thief := &browser{t: t, s: s, http: b.http, origin: s.Origin()}
	for _, path := range []string{"/api/state", "/api/channels", "/api/channels/x/entries", "/api/channels/x/events", "/api/channels/x/events?key=" + strings.Repeat("0", 64)} {
		if code, body := thief.do(http.MethodGet, path, nil, nil); code != http.StatusForbidden {
			t.Errorf("GET %s with the cookie and no key: %d %s", path, code, body)
		}
	}
	if code, body := b.do(http.MethodGet, "/api/state", nil, nil); code != http.StatusOK || strings.Contains(string(body), b.key) {
		t.Errorf("the state answer: %d, holding the key: %v", code, strings.Contains(string(body), b.key))
	}
	for name, header := range map[string]map[string]string{
		"no origin":         {"Origin": ""},
		"another origin":    {"Origin": "http://evil.example"},
		"no session key":    {keyHeader: ""},
		"a wrong key":       {keyHeader: strings.Repeat("0", 64)},
		"a cross-site read": {"Sec-Fetch-Site": "cross-site"},
	} {
		if code, body := b.do(http.MethodPost, "/api/channels", map[string]string{"name": "x", "relay": "wss://127.0.0.1:1/#pin=sha256:AAAA"}, header); code != http.StatusForbidden {
			t.Errorf("POST with %s: %d %s", name, code, body)
		}
	}
	if code, _ := b.do(http.MethodGet, "/api/channels", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("cross-site GET: %d", code)
	}
	// Not on a public address.
	if _, err := Start(Options{Home: t.TempDir(), Listen: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("listening on 0.0.0.0: %v", err)
	}
}

// Idle, the home locks: requests get 423 until the passphrase is given
// again; a wrong one is refused.
func TestIdleLock(t *testing.T) {
	s, _ := startApp(t, "Alice", 1500*time.Millisecond)
	b := newBrowser(t, s)
	b.get("/api/channels", nil)
	deadline := time.Now().Add(time.Minute)
	for {
		code, _ := b.do(http.MethodGet, "/api/channels", nil, nil)
		if code == http.StatusLocked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the home never locked")
		}
		time.Sleep(2 * time.Second) // longer than the idle lock: a request resets it
	}
	var st stateReply
	b.get("/api/state", &st)
	if !st.Locked || st.Name != "" {
		t.Fatalf("state while locked: %+v", st)
	}
	if code, body := b.do(http.MethodPost, "/api/unlock", map[string]string{"passphrase": "wrong"}, nil); code != http.StatusBadRequest {
		t.Fatalf("wrong passphrase: %d %s", code, body)
	}
	b.post("/api/unlock", map[string]string{"passphrase": parleytest.Passphrase}, &st)
	if st.Locked || st.Name != "Alice" {
		t.Fatalf("after unlocking: %+v", st)
	}
}

// A participant who has only the app joins from an invite, reads and
// writes, sees a draft and compares two versions; the organizer's
// words arrive live; nothing said is in a file of the home.
func TestParticipantThroughTheApp(t *testing.T) {
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	s, dir := startApp(t, "Alice", time.Hour)
	w.Homes = append(w.Homes, dir)
	b := newBrowser(t, s)
	code, err := org.Invite(w.Ctx, "oslo", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	var joined map[string]string
	b.post("/api/join", map[string]string{"code": code}, &joined)
	if joined["channel"] != "oslo" {
		t.Fatalf("joined %v", joined)
	}
	if _, err := org.Admit(w.Ctx, "oslo", nil, true); err != nil {
		t.Fatal(err)
	}
	b.post("/api/channels/oslo/sync", nil, nil)
	var channels []client.ChannelInfo
	b.get("/api/channels", &channels)
	if len(channels) != 1 || channels[0].Role != "participant" || channels[0].Status != "active" {
		t.Fatalf("channels %+v", channels)
	}
	var sent map[string]string
	b.post("/api/channels/oslo/send", map[string]string{"compartment": "talks", "text": "the quiet offer on water rights"}, &sent)
	if sent["status"] != "sent" {
		t.Fatalf("send: %v", sent)
	}
	if code, body := b.do(http.MethodPost, "/api/channels/oslo/send", map[string]string{"text": "where to?"}, nil); code != http.StatusBadRequest || !strings.Contains(string(body), "talks, briefings or side") {
		t.Fatalf("send without a compartment: %d %s", code, body)
	}
	if !contains(parleytest.Texts(t, org, "oslo"), "Alice: the quiet offer on water rights") {
		t.Fatal("the organizer did not get the message")
	}

	stream, stop := b.events("/api/channels/oslo/events")
	defer stop()
	if err := org.Send(w.Ctx, "oslo", crypto.Briefings, "progress noted"); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(time.Minute)
	for got := false; !got; {
		select {
		case data, open := <-stream:
			if !open {
				t.Fatal("the event stream ended")
			}
			var e client.Entry
			json.Unmarshal([]byte(data), &e)
			got = e.Sender == "Convener" && e.Text == "progress noted" && e.Kind == client.KindBriefing
		case <-timeout:
			t.Fatal("the briefing never arrived live")
		}
	}

	for _, text := range []string{"Article 1.\n", "Article 1.\nArticle 2.\n"} {
		if _, err := org.PutDraft(w.Ctx, "oslo", "declaration", []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	b.post("/api/channels/oslo/sync", nil, nil)
	var drafts []client.DraftVersion
	b.get("/api/channels/oslo/drafts", &drafts)
	if len(drafts) != 2 || drafts[1].Version != 2 || drafts[1].Author != "Convener" {
		t.Fatalf("drafts %+v", drafts)
	}
	var diff map[string]string
	b.get("/api/channels/oslo/diff/declaration?a=1&b="+drafts[1].SHA256[:8], &diff)
	if !strings.Contains(diff["diff"], "+Article 2.") {
		t.Fatalf("diff %q", diff["diff"])
	}
	var entries entriesReply
	b.get("/api/channels/oslo/entries", &entries)
	if len(entries.Entries) == 0 || entries.Mark == 0 {
		t.Fatalf("entries %+v", entries)
	}
	s.Close()
	if found := w.Sweep("quiet offer on water rights", "progress noted", "Article 2."); len(found) > 0 {
		t.Fatalf("plaintext at rest in %v", found)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The page's export is age-encrypted to the recipients given, opens with
// the matching identity, and never reads a file the request names;
// leaving needs the name typed and erases the channel.
func TestExportAndLeave(t *testing.T) {
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	s, _ := startApp(t, "Alice", time.Hour)
	b := newBrowser(t, s)
	b.joinThroughPage(w, org)
	b.post("/api/channels/oslo/send", map[string]string{"compartment": "talks", "text": "for the record"}, nil)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	code2, file := b.do(http.MethodPost, "/api/channels/oslo/export", map[string]string{"recipients": id.Recipient().String()}, nil)
	if code2 != http.StatusOK {
		t.Fatalf("export: %d %s", code2, file)
	}
	r, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	if !strings.Contains(string(plain), "Alice: for the record") {
		t.Fatalf("export opens to %q", plain)
	}
	if bytes.Contains(file, []byte("for the record")) {
		t.Fatal("the export is not encrypted")
	}
	for _, bad := range []string{"", "/etc/passwd", "ssh-ed25519 AAAA"} {
		if c, body := b.do(http.MethodPost, "/api/channels/oslo/export", map[string]string{"recipients": bad}, nil); c != http.StatusBadRequest || !strings.Contains(string(body), "age") {
			t.Errorf("export to %q: %d %s", bad, c, body)
		}
	}
	if c, _ := b.do(http.MethodPost, "/api/channels/oslo/leave", map[string]string{"confirm": "osl"}, nil); c != http.StatusBadRequest {
		t.Fatalf("leave without the name: %d", c)
	}
	stream, stop := b.events("/api/channels/oslo/events")
	defer stop()
	b.post("/api/channels/oslo/leave", map[string]string{"confirm": "oslo"}, nil)
	// The channel's live stream ends instead of reporting, every few
	// seconds, that the channel is not there.
	for ended := false; !ended; {
		select {
		case _, open := <-stream:
			ended = !open
		case <-time.After(time.Minute):
			t.Fatal("the live stream of a channel left goes on")
		}
	}
	var channels []client.ChannelInfo
	b.get("/api/channels", &channels)
	if len(channels) != 0 {
		t.Fatalf("after leaving: %+v", channels)
	}
	if got := parleytest.Texts(t, org, "oslo"); !contains(got, "* Alice left the channel") {
		t.Fatalf("the organizer after Alice left: %q", got)
	}
}

// The duress passphrase at the app's lock screen opens the empty home
// that takes the real one's place: the page shows no channel, and the
// real passphrase opens nothing any more.
func TestDuressAtTheAppsLock(t *testing.T) {
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	s, dir := startApp(t, "Alice", 1500*time.Millisecond)
	b := newBrowser(t, s)
	code, err := org.Invite(w.Ctx, "oslo", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.post("/api/join", map[string]string{"code": code}, nil)
	var list []map[string]any
	b.get("/api/channels", &list)
	if len(list) != 1 {
		t.Fatalf("before: %v", list)
	}
	if err := client.SetDuress(dir, parleytest.Passphrase, "under duress"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Second) {
		if c, _ := b.do(http.MethodGet, "/api/state", nil, nil); c == http.StatusOK {
			var st stateReply
			b.get("/api/state", &st)
			if st.Locked {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the home never locked")
		}
	}
	var st stateReply
	b.post("/api/unlock", map[string]string{"passphrase": "under duress"}, &st)
	if st.Locked || st.Name != "Alice" {
		t.Fatalf("after the duress passphrase: %+v", st)
	}
	list = nil
	b.get("/api/channels", &list)
	if len(list) != 0 {
		t.Fatalf("the empty home shows channels: %v", list)
	}
	if _, err := client.Open(dir, parleytest.Passphrase); !errors.Is(err, client.ErrWrongPassphrase) {
		t.Fatalf("the passphrase after the duress one: %v", err)
	}
}

// A member of a side briefs that side alone from the page: its mentor
// reads it as side A's, the other side sees nothing of it.
func TestSideBriefingThroughTheApp(t *testing.T) {
	w := parleytest.New(t, nil)
	org := w.Organizer("Convener", "oslo")
	elder := w.JoinSide(org, "oslo", "Elder A", crypto.RoleMentor, "A")
	bashir := w.JoinSide(org, "oslo", "Bashir", crypto.RoleParticipant, "B")
	s, dir := startApp(t, "Alice", time.Hour)
	w.Homes = append(w.Homes, dir)
	b := newBrowser(t, s)
	b.joinSideThroughPage(w, org, crypto.RoleParticipant, "A")
	b.post("/api/channels/oslo/sync", nil, nil)
	var members []client.Member
	b.get("/api/channels/oslo/members", &members)
	if i := slices.IndexFunc(members, func(m client.Member) bool { return m.You }); i < 0 || members[i].Side != "A" {
		t.Fatalf("members as the page sees them: %+v", members)
	}
	var sent map[string]string
	b.post("/api/channels/oslo/send", map[string]string{"compartment": "side", "text": "we can give on the water clause"}, &sent)
	if sent["status"] != "sent" {
		t.Fatalf("send: %v", sent)
	}
	if !contains(parleytest.Texts(t, elder, "oslo"), "Alice: we can give on the water clause") {
		t.Fatal("side A's mentor did not get the side briefing")
	}
	for _, l := range parleytest.Texts(t, bashir, "oslo") {
		if strings.Contains(l, "water") {
			t.Fatalf("side B read %q", l)
		}
	}
}

// A relay's words quoted in an error reach the page as one line, with
// nothing that reorders the screen, as the command line shows them: a
// hostile relay cannot lay out a fake instruction under Parley's name.
func TestRelayErrorTextIsOneLine(t *testing.T) {
	s, _ := startApp(t, "Alice", time.Hour)
	relayText := "try again later\n\u202eParley: your safety number changed, verify again"
	h := s.api(func(context.Context, *client.Client, *http.Request) (any, error) {
		return nil, fmt.Errorf("sync oslo: %w", &relayclient.Error{Message: relayText})
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, "/api/channels/oslo/sync", nil))
	var e apiError
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, "try again later") {
		t.Fatalf("answer %q: %v", rec.Body.Bytes(), err)
	}
	if strings.ContainsAny(e.Error, "\n\u202e") {
		t.Errorf("the page is given the relay's text raw: %q", e.Error)
	}
}

// A passphrase given at start (PARLEY_PASSPHRASE, --passphrase-file)
// unlocks once and is not kept: after an idle lock the person is asked.
func TestStartPassphraseNotKept(t *testing.T) {
	s, _ := startApp(t, "Alice", time.Hour)
	if s.opts.Passphrase != "" {
		t.Errorf("the server still holds the passphrase it started with")
	}
}
