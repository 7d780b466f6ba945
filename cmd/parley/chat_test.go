package main

import (
	"context"
	"strings"
	"testing"
)

// The chat itself is tested in package chat; here, only the command
// around it.

func TestChatNeedsTerminal(t *testing.T) {
	var stdout, stderr strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := run(context.Background(), e, []string{"--home", t.TempDir(), "chat", "oslo"}); code != 1 ||
		!strings.Contains(stderr.String(), "parley: chat needs a terminal") {
		t.Fatalf("parley chat without a terminal: exit %d, %q", code, stderr.String())
	}
	if code := run(context.Background(), e, []string{"chat"}); code != 2 {
		t.Fatalf("parley chat without a channel: exit %d", code)
	}
}
