package main

import (
	"net"
	"syscall"
)

// peerUID is the user id of the process at the other end of a Unix
// socket, as the kernel saw it connect (SO_PEERCRED).
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

func agentSupported() error { return nil }

// hardenProcess keeps the agent's memory out of core dumps, and out of
// reach of ptrace and /proc/PID/mem from other processes of the same
// user (PR_SET_DUMPABLE 0); root can still read it.
func hardenProcess() {
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0)
}
