package app

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

const (
	sessionCookie = "parley_session"
	// keyHeader carries the session's key, which every API request
	// needs beside the cookie. A browser sends a loopback cookie to
	// every port of the address, so a program listening on another port
	// of 127.0.0.1 that a page sends the browser to receives the cookie;
	// the key it never sees. The page is given it in the address's
	// fragment at login (never sent to any server), keeps it in
	// sessionStorage (this origin's alone, port included), and sends it
	// only here, in a header no other origin may set.
	keyHeader = "X-Parley-Key"
	// keyParam is the fragment's name for the key, and the query
	// parameter of the live stream, to which EventSource cannot add a
	// header.
	keyParam = "key"
	// pollHeader marks the page's own periodic requests, which show that
	// it is open but not that a person is there.
	pollHeader = "X-Parley-Poll"
)

// securityHeaders go on every response: nothing from elsewhere, no
// inline script, no framing, nothing cached or referred.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// refuse answers a request the guard turns away, in one line that says
// what to do: as JSON to the page's API calls, which read only that.
func refuse(w http.ResponseWriter, r *http.Request, code int, why string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, code, apiError{Error: why})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(why + "\n"))
}

// guard is every request's first stop: the Host must be the address
// served, the launch secret is exchanged for the session cookie and
// key, every other request needs that cookie, every API request the
// key too, and a request that changes anything must come from this
// origin.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if r.Host != s.host {
			refuse(w, r, http.StatusMisdirectedRequest, "wrong host: open the address parley app printed")
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			refuse(w, r, http.StatusForbidden, "refused: a request from another site")
			return
		}
		if r.URL.Path == "/login" {
			s.login(w, r)
			return
		}
		cookie, err := r.Cookie(sessionCookie)
		if err != nil {
			refuse(w, r, http.StatusForbidden, "no session: open the address parley app printed (it works once; restart parley app for a new one)")
			return
		}
		key, ok := s.session(cookie.Value)
		if !ok {
			refuse(w, r, http.StatusForbidden, "unknown session: open the address parley app printed")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			given := r.Header.Get(keyHeader)
			if given == "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/events") {
				given = r.URL.Query().Get(keyParam)
			}
			if subtle.ConstantTimeCompare([]byte(given), []byte(key)) != 1 {
				refuse(w, r, http.StatusForbidden, "this window has no key to the session (it was opened from another address, or its tab was closed): open the address parley app printed")
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("Origin") != s.Origin() {
			refuse(w, r, http.StatusForbidden, "refused: a change requested from another origin")
			return
		}
		s.markPresent()
		next.ServeHTTP(w, r)
	})
}

// login spends the launch secret and gives the browser its session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !s.spendToken(r.URL.Query().Get("token")) {
		refuse(w, r, http.StatusForbidden, "this address has been used already, or is wrong: restart parley app and open the new address it prints")
		return
	}
	id, key := s.newSession()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// The launch secret leaves the address bar and the history; the
	// session's key arrives in the fragment, which the page moves into
	// its sessionStorage and takes out of the address (app.js).
	http.Redirect(w, r, "/#"+keyParam+"="+key, http.StatusSeeOther)
}
