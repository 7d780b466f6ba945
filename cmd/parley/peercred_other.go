//go:build !linux && !darwin

package main

import (
	"errors"
	"net"
)

var errNoPeerCred = errors.New("parley unlock is not available on this system: it cannot check who connects to the agent")

func peerUID(*net.UnixConn) (int, error) { return -1, errNoPeerCred }

func agentSupported() error { return errNoPeerCred }

func hardenProcess() {}
