package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/client"
)

// agentHome makes a home (cheap scrypt) and returns its folder.
func agentHome(t *testing.T, name, passphrase string) string {
	t.Setenv("PARLEY_SCRYPT_LOGN", "10")
	home := filepath.Join(t.TempDir(), "h")
	if err := client.Init(home, name, passphrase); err != nil {
		t.Fatal(err)
	}
	return home
}

// startTestAgent unlocks home in an agent in this process.
func startTestAgent(t *testing.T, home, passphrase string, uid int, d time.Duration) *agent {
	t.Helper()
	a, err := startAgentFor(agentConfig{Home: home, Passphrase: passphrase, For: d, Idle: d}, uid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.end)
	return a
}

// parley runs a command in this process as the command line would,
// with the environment vars (and no passphrase unless vars gives one).
func parley(t *testing.T, vars map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code = run(context.Background(), e, args)
	return out.String(), errb.String(), code
}

func TestAgentRunsCommandsWithoutThePassphrase(t *testing.T) {
	home := agentHome(t, "Ambassador Lund", "lighthouse keeper")
	before := homeFiles(t, home)
	a := startTestAgent(t, home, "lighthouse keeper", os.Getuid(), time.Minute)

	// The socket: this user's only, in a folder only this user enters.
	info, err := os.Lstat(a.sock)
	if err != nil || info.Mode().Type() != fs.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v: %v", info.Mode(), err)
	}
	if hi, _ := os.Stat(home); hi.Mode().Perm() != 0o700 {
		t.Fatalf("home mode %v", hi.Mode())
	}

	out, errs, code := parley(t, nil, "", "--home", home, "whoami")
	if code != 0 || !strings.HasPrefix(out, "Ambassador Lund\nsafety number: ") {
		t.Fatalf("whoami through the agent: %d %q %q", code, out, errs)
	}
	safety := strings.TrimSpace(strings.TrimPrefix(out, "Ambassador Lund\nsafety number: "))
	// stdin reaches the command when it reads it; errors come back as
	// one line with the command's exit status.
	_, errs, code = parley(t, nil, "not a code", "--home", home, "join", "-")
	if code != 1 || !strings.HasPrefix(errs, "parley: ") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("join - through the agent: %d %q", code, errs)
	}
	_, errs, code = parley(t, nil, "", "--home", home, "send")
	if code != 2 || errs != "parley: usage: parley send CHANNEL [TEXT]\n" {
		t.Fatalf("usage error through the agent: %d %q", code, errs)
	}

	// Nothing readable on disk while it runs: the socket holds no bytes.
	for _, p := range []string{"Ambassador Lund", safety, "lighthouse keeper"} {
		if f := findInFiles(t, home, p); f != "" {
			t.Fatalf("%q found in %s while unlocked", p, f)
		}
	}

	_, _, code = parley(t, nil, "", "--home", home, "lock")
	if code != 0 {
		t.Fatal("lock failed")
	}
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not end at lock")
	}
	_, errs, code = parley(t, nil, "", "--home", home, "whoami")
	if code != 1 || !strings.Contains(errs, "no passphrase") {
		t.Fatalf("after lock: %d %q", code, errs)
	}
	// It leaves the home as it found it (state.db's WAL files aside,
	// which any unlock makes).
	if after := homeFiles(t, home); !sameFiles(before, after) {
		t.Fatalf("home files before %v, after %v", before, after)
	}
}

func TestAgentDeadline(t *testing.T) {
	home := agentHome(t, "Envoy", "pw")
	a := startTestAgent(t, home, "pw", os.Getuid(), 1500*time.Millisecond)
	if _, _, code := parley(t, nil, "", "--home", home, "whoami"); code != 0 {
		t.Fatal("whoami through the agent failed")
	}
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent outlived its deadline")
	}
	if _, err := os.Lstat(a.sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, errs, code := parley(t, nil, "", "--home", home, "whoami"); code != 1 || !strings.Contains(errs, "no passphrase") {
		t.Fatalf("after the deadline: %d %q", code, errs)
	}
}

// An agent serving another user refuses this one: the peer's user id,
// as the kernel gives it, is checked on every connection.
func TestAgentRefusesAnotherUID(t *testing.T) {
	home := agentHome(t, "Envoy", "pw")
	startTestAgent(t, home, "pw", os.Getuid()+1, time.Minute)
	if _, errs, code := parley(t, nil, "", "--home", home, "whoami"); code != 1 || !strings.Contains(errs, "no passphrase") {
		t.Fatalf("another uid's agent ran the command: %d %q", code, errs)
	}
	if st, err := agentStatusOf(home); st != nil || err != nil {
		t.Fatalf("another uid's agent answered: %v %v", st, err)
	}
}

// A process of another user cannot reach the socket (the home is 0700),
// and, should the folder and socket be opened to everyone, the agent
// closes its connection unanswered. Needs root, to run as nobody.
func TestAgentOtherUserProcess(t *testing.T) {
	const python = "/usr/bin/python3"
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	if _, err := os.Stat(python); err != nil {
		t.Skip("needs " + python)
	}
	home := agentHome(t, "Envoy", "pw")
	a := startTestAgent(t, home, "pw", 0, time.Minute)
	for _, d := range []string{filepath.Dir(filepath.Dir(home)), filepath.Dir(home)} {
		os.Chmod(d, 0o755) // the temporary folders above the home
	}
	const script = `
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("refused by permissions"); sys.exit(0)
try:
    s.sendall(b"S\0\0\0\0")
    print("answered" if s.recv(5) else "closed unanswered")
except (BrokenPipeError, ConnectionResetError):
    print("closed unanswered")
`
	asNobody := func() string {
		cmd := exec.Command(python, "-c", script, a.sock)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := asNobody(); got != "refused by permissions" {
		t.Fatalf("nobody, home 0700: %s", got)
	}
	os.Chmod(home, 0o755)
	os.Chmod(a.sock, 0o666)
	if got := asNobody(); got != "closed unanswered" {
		t.Fatalf("nobody, socket opened to all: %s", got)
	}
	// The same script as this user is answered: the test tests something.
	out, err := exec.Command(python, "-c", script, a.sock).CombinedOutput()
	if strings.TrimSpace(string(out)) != "answered" {
		t.Fatalf("as root: %s %v", out, err)
	}
}

// A duress unlock elsewhere (chat's or app's lock screen, read
// --follow) replaces the identity file: the agent drops the home it
// holds.
func TestAgentEndsWhenTheHomeChanges(t *testing.T) {
	home := agentHome(t, "Envoy", "pw")
	if err := client.SetDuress(home, "pw", "border"); err != nil {
		t.Fatal(err)
	}
	a := startTestAgent(t, home, "pw", os.Getuid(), time.Minute)
	c, err := client.Open(home, "border")
	if err != nil || !c.Duressed() {
		t.Fatalf("duress unlock: %v", err)
	}
	c.Close()
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent kept the destroyed home")
	}
	if _, errs, code := parley(t, nil, "", "--home", home, "whoami"); code != 1 || !strings.Contains(errs, "no passphrase") {
		t.Fatalf("after duress: %d %q", code, errs)
	}
}

// A command that gives another passphrase ends the agent before it
// unlocks by itself; the one the agent was unlocked with does not.
func TestAgentEndsOnAnotherPassphrase(t *testing.T) {
	home := agentHome(t, "Envoy", "pw")
	a := startTestAgent(t, home, "pw", os.Getuid(), time.Minute)
	if _, _, code := parley(t, map[string]string{"PARLEY_PASSPHRASE": "pw"}, "", "--home", home, "whoami"); code != 0 {
		t.Fatal("the right passphrase was refused")
	}
	if a.isEnded() {
		t.Fatal("the right passphrase ended the agent")
	}
	_, errs, code := parley(t, map[string]string{"PARLEY_PASSPHRASE": "typo"}, "", "--home", home, "whoami")
	if code != 1 || errs != "parley: wrong passphrase\n" || !a.isEnded() {
		t.Fatalf("another passphrase: %d %q, ended %v", code, errs, a.isEnded())
	}
}

// The agent runs only the commands that use an unlocked home, for its
// own home.
func TestAgentRefusesOtherHomesAndCommands(t *testing.T) {
	home := agentHome(t, "Envoy", "pw")
	other := agentHome(t, "Other", "pw")
	a := startTestAgent(t, home, "pw", os.Getuid(), time.Minute)
	for _, args := range [][]string{
		{"--home", other, "whoami"},
		{"--home", home, "init", "--name", "X"},
		{"--home", home, "duress", "set"},
		{"--home", home, "chat", "c"},
		{"--home", home, "read", "c", "--follow"},
		{"--home", home, "unlock"},
		{"--home", home, "whoami", "--help"},
	} {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: a.sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		f := &frameConn{rw: conn}
		data, _ := json.Marshal(agentRequest{Args: args, Dir: "/"})
		f.write(frameRequest, data)
		typ, why, err := f.read()
		conn.Close()
		if err != nil || typ != frameRefused {
			t.Errorf("%q: answered %q %q %v", args, typ, why, err)
		}
	}
}

func homeFiles(t *testing.T, home string) []string {
	entries, err := os.ReadDir(home)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func sameFiles(before, after []string) bool {
	skip := func(n string) bool { return strings.HasPrefix(n, "state.db-") || n == "lock" }
	var b, a []string
	for _, n := range before {
		if !skip(n) {
			b = append(b, n)
		}
	}
	for _, n := range after {
		if !skip(n) {
			a = append(a, n)
		}
	}
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// findInFiles returns the first file under dir that holds s.
func findInFiles(t *testing.T, dir, s string) string {
	var found string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(s)) {
			found = p
		}
		return nil
	})
	return found
}
