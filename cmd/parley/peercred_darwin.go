package main

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerUID is the user id of the process at the other end of a Unix
// socket, as the kernel saw it connect (LOCAL_PEERCRED).
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Xucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

func agentSupported() error { return nil }

// hardenProcess keeps the agent's memory out of core dumps.
func hardenProcess() {
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
}
