// Package e2e holds end-to-end tests that run the parley and parley-relay
// binaries as separate processes: crash tests with kill -9 of clients and
// of the relay, and the attacks of a hostile relay operator (the
// internal/hostilerelay process) against real parley homes. It has no
// code of its own.
package e2e
