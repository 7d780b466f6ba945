package main

// Starting the unlock agent's process (agent.go) and its main.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"parley/client"
)

// agentConfig is what parley unlock hands the agent process, on a pipe
// (never its arguments or environment).
type agentConfig struct {
	Home       string        `json:"home"`
	Passphrase string        `json:"passphrase"`
	For        time.Duration `json:"for"`
	Idle       time.Duration `json:"idle"`
}

// spawnAgent starts the agent process and waits until it has unlocked
// the home and listens, or failed (a wrong passphrase).
func spawnAgent(ctx context.Context, cfg agentConfig) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	stR, stW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stR.Close()
	defer stW.Close()
	cmd := exec.Command(exe)
	cmd.Args = []string{os.Args[0]}
	cmd.Dir = "/"
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "PARLEY_PASSPHRASE" && k != "PARLEY_DURESS_PASSPHRASE" && k != agentServeEnv {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, agentServeEnv+"=1")
	cmd.ExtraFiles = []*os.File{cfgR, stW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	cfgR.Close()
	stW.Close()
	data, _ := json.Marshal(cfg)
	cfgW.Write(data)
	cfgW.Close()
	status := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(stR, 4096))
		status <- string(b)
	}()
	select {
	case <-ctx.Done():
		cmd.Process.Kill()
		cmd.Wait()
		return ctx.Err()
	case s := <-status:
		if s == "ready\n" {
			return cmd.Process.Release()
		}
		cmd.Wait()
		if msg, ok := strings.CutPrefix(s, "error "); ok {
			return errors.New(strings.TrimSpace(msg))
		}
		return errors.New("the unlock agent did not start")
	}
}

// agentMain is the agent process: it reads its configuration on fd 3,
// unlocks, says "ready" on fd 4, and serves until it ends.
func agentMain(ctx context.Context) int {
	cfgF, stF := os.NewFile(3, "config"), os.NewFile(4, "status")
	if cfgF == nil || stF == nil {
		return 2
	}
	var cfg agentConfig
	err := json.NewDecoder(io.LimitReader(cfgF, 1<<16)).Decode(&cfg)
	cfgF.Close()
	var a *agent
	if err == nil {
		hardenProcess()
		a, err = startAgent(cfg)
	}
	if err != nil {
		fmt.Fprintf(stF, "error %s\n", client.OneLine(err.Error()))
		stF.Close()
		return 1
	}
	fmt.Fprintln(stF, "ready")
	stF.Close()
	select {
	case <-ctx.Done():
		a.end()
	case <-a.done:
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		a.mu.Lock()
		n := a.replying
		a.mu.Unlock()
		if n == 0 {
			break
		}
	}
	return 0
}
