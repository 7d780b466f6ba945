// Package app is Parley's graphical client: a web server on the loopback
// interface, started by `parley app`, that the system browser shows. It
// serves people who will not use a terminal; every rule (who may post
// where, the hard and soft policies, what a relay's refusal means) is the
// client library's, called the same way the command line calls it.
//
// The server holds an unlocked home, so it is built like the careful
// local web UIs (Jupyter's token, Syncthing's host and CSRF checks):
//
//   - it listens on a loopback address only, a random port by default;
//   - a 256-bit secret, made at each launch, is in the address it opens
//     once; the first request that shows it gets an HttpOnly,
//     SameSite=Strict session cookie and, in the fragment of the address
//     it is sent on to, the session's key; the secret is spent. Every
//     other request without that cookie is refused, and every API
//     request without the key in a header. A browser sends a loopback
//     cookie to every port of the address, so a program listening on
//     another port that the browser is sent to gets the cookie; the key
//     stays in the page's sessionStorage, which only this origin reads;
//   - the Host header must be the exact address served (no DNS
//     rebinding); a request that changes anything must come from that
//     origin (Origin header); the browser's Sec-Fetch-Site, when sent,
//     must say same-origin;
//   - every response forbids framing, caching, referrers and any
//     resource from elsewhere (Content-Security-Policy default-src
//     'self', no inline script); assets are embedded in the binary;
//   - after IdleLock without a request the home is locked: the client is
//     closed and its keys dropped from memory, and the page asks for the
//     passphrase again;
//   - text from the channel is only ever put into the page as text
//     (textContent), never as HTML.
package app
