package app

import (
	"crypto/subtle"
	"net/http"
)

const (
	sessionCookie = "parley_session"
	csrfHeader    = "X-Parley-Csrf"
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
// what to do.
func refuse(w http.ResponseWriter, code int, why string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(why + "\n"))
}

// guard is every request's first stop: the Host must be the address
// served, the launch secret is exchanged for the session cookie, every
// other request needs that cookie, and a request that changes anything
// must come from this origin with the session's CSRF token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if r.Host != s.host {
			refuse(w, http.StatusMisdirectedRequest, "wrong host: open the address parley app printed")
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			refuse(w, http.StatusForbidden, "refused: a request from another site")
			return
		}
		if r.URL.Path == "/login" {
			s.login(w, r)
			return
		}
		cookie, err := r.Cookie(sessionCookie)
		if err != nil {
			refuse(w, http.StatusForbidden, "no session: open the address parley app printed (it works once; restart parley app for a new one)")
			return
		}
		csrf, ok := s.session(cookie.Value)
		if !ok {
			refuse(w, http.StatusForbidden, "unknown session: open the address parley app printed")
			return
		}
		s.markPresent()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Header.Get("Origin") != s.Origin() {
				refuse(w, http.StatusForbidden, "refused: a change requested from another origin")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(csrf)) != 1 {
				refuse(w, http.StatusForbidden, "refused: missing or wrong CSRF token")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// login spends the launch secret and gives the browser its session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !s.spendToken(r.URL.Query().Get("token")) {
		refuse(w, http.StatusForbidden, "this address has been used already, or is wrong: restart parley app and open the new address it prints")
		return
	}
	id, _ := s.newSession()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// The secret leaves the address bar and the history.
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
