package main

import (
	"fmt"
	"io"
	"strings"
)

// wantsHelp reports whether -h or --help is among a command's arguments
// (before a "--"): every command and subcommand answers it with its own
// usage, exit 0, before it opens the home or parses anything else.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// commandWords are the command and subcommand at the start of args.
func commandWords(args []string) []string {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") || len(words) == 2 {
			break
		}
		words = append(words, a)
	}
	return words
}

// printHelp writes the usage lines of the command named by words (all of
// them when words is empty or names nothing), taken from the general
// usage so that the two never disagree.
func printHelp(w io.Writer, words []string) {
	var lines []string
	for len(words) > 0 && len(lines) == 0 {
		for _, l := range strings.Split(usage, "\n") {
			f := strings.Fields(l)
			if strings.HasPrefix(l, "  ") && len(f) >= len(words) && strings.Join(f[:len(words)], " ") == strings.Join(words, " ") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		words = words[:len(words)-1] // "channel bogus": show channel's
	}
	if len(lines) == 0 {
		fmt.Fprint(w, usage)
		return
	}
	for _, l := range lines {
		fmt.Fprintf(w, "usage: parley %s\n", l)
	}
	fmt.Fprintln(w, "\nglobal options, anywhere on the line: --home DIR (or PARLEY_HOME), --passphrase-file F (or PARLEY_PASSPHRASE),\n  --proxy socks5h://HOST:PORT (or PARLEY_PROXY, ALL_PROXY): every relay connection through SOCKS5 (Tor), one circuit per channel membership")
}
