package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds parley, parley-relay and the hostile test relay once
// per test run.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "parley-e2e-bin")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+"/", "parley/cmd/parley", "parley/cmd/parley-relay", "parley/internal/hostilerelay").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// relayProc is a parley-relay process that can be killed and restarted on
// the same address and data folder.
type relayProc struct {
	t      testing.TB
	dir    string
	listen string
	url    string
	cmd    *exec.Cmd
	done   chan struct{}
}

func startRelay(t testing.TB) *relayProc {
	r := &relayProc{t: t, dir: t.TempDir(), listen: "127.0.0.1:0"}
	r.start()
	t.Cleanup(func() { r.kill() })
	return r
}

func (r *relayProc) start() {
	r.t.Helper()
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(filepath.Join(binaries(r.t), "parley-relay"), "--listen", r.listen, "--data", r.dir)
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			r.t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			cmd.Wait()
			if attempt < 50 && strings.Contains(stderr.String(), "address already in use") {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			r.t.Fatalf("relay did not start: %v\n%s", err, stderr.String())
		}
		r.url = strings.TrimSpace(line)
		r.listen = strings.TrimPrefix(strings.SplitN(r.url, "/#", 2)[0], "wss://")
		r.cmd, r.done = cmd, make(chan struct{})
		go func() { cmd.Wait(); close(r.done) }()
		return
	}
}

func (r *relayProc) kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.cmd = nil
}

// home runs the parley binary for one home.
type home struct {
	t   testing.TB
	dir string
}

func newHome(t testing.TB, name string) *home {
	h := &home{t: t, dir: filepath.Join(t.TempDir(), "home")}
	h.must("init", "--name", name)
	return h
}

func (h *home) command(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binaries(h.t), "parley"), append([]string{"--home", h.dir}, args...)...)
	cmd.Env = append(os.Environ(), "PARLEY_PASSPHRASE=pw", "PARLEY_SCRYPT_LOGN=10", "ALL_PROXY=", "all_proxy=", "PARLEY_PROXY=", "PARLEY_SYNC_SPREAD=0")
	return cmd
}

// run runs a command and returns its stdout and error.
func (h *home) run(stdin []byte, args ...string) (string, error) {
	cmd := h.command(args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("parley %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), err
}

func (h *home) must(args ...string) string {
	h.t.Helper()
	out, err := h.run(nil, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// channel makes a channel on relay with org and admits the others as
// participants.
func channel(t testing.TB, relayURL string, org *home, others ...*home) {
	org.must("channel", "create", "c", "--relay", relayURL)
	for _, h := range others {
		code := org.must("invite", "c", "--role", "participant")
		if _, err := h.run([]byte(code), "join", "-"); err != nil {
			t.Fatal(err)
		}
	}
	org.must("admit", "c", "--all")
	for _, h := range others {
		h.must("sync", "c")
	}
}

// killAfter starts cmd and kills it with SIGKILL after d, unless it ends
// first; it reports whether the command finished on its own, successfully.
func killAfter(t testing.TB, cmd *exec.Cmd, d time.Duration) bool {
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return false
	}
}
