package main

// The unlock agent: parley unlock keeps a home unlocked for a bounded
// time in a process of its own, as ssh-agent and gpg-agent keep keys, so
// that a script's commands do not each pay the passphrase's scrypt (0.7 s
// of CPU and 275 MB at work factor 2^18). The agent holds the unlocked
// home and runs the commands it is given on a Unix socket in the home;
// the keys never leave its process. docs/threat-model.md §3.14 says what
// it risks.
//
// A command that finds the socket sends its arguments, its working
// folder and the few environment variables commands read (agentEnv) to
// the agent, which runs it on the home it holds and sends back stdout,
// stderr and the exit status, asking for stdin when the command reads
// it. Commands that change the passphrase or the identity (init, duress
// set), the interactive ones (chat, app) and read --follow never go to
// the agent: they unlock by themselves, as before.
//
// The agent ends, drops the home and removes its socket: at parley lock;
// at its deadline (--for; wall clock and monotonic clock both, so a
// laptop asleep past the deadline finds it ended); after --idle without
// a command; when the identity file changes (a duress unlock elsewhere
// destroyed the home); when its socket is removed or replaced; when a
// command gives a passphrase other than the one it was unlocked with
// (that command then unlocks by itself, so a duress passphrase does
// what it does at any unlock); on SIGINT or SIGTERM.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

const (
	agentSocketName = "agent.sock"
	// agentServeEnv marks the agent process that parley unlock starts.
	agentServeEnv = "PARLEY_AGENT_SERVE"

	defaultUnlockFor  = 15 * time.Minute
	defaultUnlockIdle = 10 * time.Minute
	maxUnlockFor      = 8 * time.Hour
	// agentTick is how often the agent checks its bounds, the identity
	// file and its socket.
	agentTick = 250 * time.Millisecond
)

// agentCommands are the commands an agent runs: those that only use an
// unlocked home. Others (init, duress, chat, app, agreement, help,
// version, unlock, lock) never go to it.
var agentCommands = map[string]bool{
	"whoami": true, "channel": true, "invite": true, "join": true, "pending": true,
	"admit": true, "approve": true, "withdraw": true, "members": true, "remove": true,
	"leave": true, "send": true, "brief": true, "sync": true, "outbox": true,
	"read": true, "transcript": true, "verify": true, "burn": true, "draft": true,
}

// agentCommand reports whether an agent may run the command rest (the
// arguments after the global options). read --follow runs until it is
// stopped, so it keeps its own unlock rather than hold the agent.
func agentCommand(rest []string) bool {
	if len(rest) == 0 || !agentCommands[rest[0]] {
		return false
	}
	for _, a := range rest[1:] {
		if a == "--" {
			break
		}
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && (name == "follow" || strings.HasPrefix(name, "follow=")) {
			return false
		}
	}
	return true
}

// agentEnv are the environment variables a command sent to the agent
// takes along; nothing else of the caller's environment is used.
var agentEnv = []string{"HOME", "PARLEY_HOME", "PARLEY_PROXY", "ALL_PROXY", "all_proxy", "PARLEY_SYNC_SPREAD"}

// agentRequest is a command sent to the agent.
type agentRequest struct {
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	Dir      string            `json:"dir"`
	Terminal bool              `json:"terminal"`
	// Passphrase is the passphrase the caller was given, if it was
	// given one: the agent runs the command only if it is the one it
	// was unlocked with.
	Passphrase *string `json:"passphrase,omitempty"`
}

// agentStatus is the agent's answer to a status request.
type agentStatus struct {
	Until time.Time     `json:"until"`
	Idle  time.Duration `json:"idle"`
}

// agentExit is a forwarded command's exit status: the agent has printed
// its error already.
type agentExit int

func (e agentExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// maxSocketPath is the longest path a Unix socket can be bound at: the
// sun_path of Linux holds 108 bytes and that of macOS and the BSDs 104,
// each with its terminating zero.
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

// agentSocket is the path of the socket of the agent of home. A home
// whose path leaves no room for it cannot be unlocked: the error says so
// rather than the system's "invalid argument".
func agentSocket(home string) (string, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", err
	}
	sock := filepath.Join(abs, agentSocketName)
	if len(sock) > maxSocketPath() {
		return "", fmt.Errorf("this home's path is too long for the unlock socket (%d bytes with %s; at most %d): move the home to a shorter path, or go on without parley unlock", len(sock), agentSocketName, maxSocketPath())
	}
	return sock, nil
}

var errOtherUser = errors.New("the unlock socket is another user's: remove it")

// dialAgent connects to the agent of home: nil without error when none
// answers there. An agent of another user is an error.
func dialAgent(home string) (*net.UnixConn, error) {
	sock, err := agentSocket(home)
	if err != nil {
		return nil, nil
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		// No socket, a stale one, a path too long for a socket:
		// there is no agent to use.
		return nil, nil
	}
	uid, err := peerUID(conn)
	if err != nil || uid != os.Getuid() {
		conn.Close()
		return nil, fmt.Errorf("%w (%s)", errOtherUser, sock)
	}
	return conn, nil
}

// checkPrivate refuses a home other users can enter: the socket's own
// mode is set only after it is made.
func checkPrivate(home string) error {
	info, err := os.Stat(home)
	if err != nil {
		return err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("other users can open the home folder %s: chmod 700 it first", home)
	}
	return nil
}
