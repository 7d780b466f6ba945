// Command parley is the Parley client: end-to-end-encrypted channels for
// hard Track-II talks. Every command works without a terminal; errors are
// one line, "parley: <what went wrong>", with a non-zero exit.
//
// The home folder is --home DIR, else $PARLEY_HOME, else ~/.parley. The
// passphrase comes from $PARLEY_PASSPHRASE, --passphrase-file, or a
// terminal prompt; never from a flag value.
package main

import (
	"parley/client"
	"parley/internal/version"

	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// env is what a command needs from the process, so tests can run the
// command in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// terminal says whether stdin is a terminal (for prompts).
	terminal bool
	// dir, when set, is the caller's working folder: a command run by
	// an unlock agent finds relative file names there (path).
	dir string
	// held, when set, is the home an unlock agent holds: commands use
	// it instead of unlocking (agent.go).
	held *client.Client
}

// path is a file name given on the command line, as the caller meant it.
func (e *env) path(name string) string {
	if e.dir == "" || name == "" || name == "-" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(e.dir, name)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, processEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}

// processEnv is the env of this process.
func processEnv() *env {
	return &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, terminal: isTerminal(os.Stdin)}
}

// usageError is a mistake in how the command was called (exit 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, e *env, args []string) int {
	if e.held == nil && e.getenv(agentServeEnv) == "1" {
		return agentMain(ctx)
	}
	err := dispatch(ctx, e, args)
	if err == nil {
		return 0
	}
	var exit agentExit
	if errors.As(err, &exit) {
		return int(exit)
	}
	fmt.Fprintf(e.stderr, "parley: %s\n", client.OneLine(err.Error()))
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const usage = `usage: parley [--home DIR] [--passphrase-file F] [--proxy socks5h://HOST:PORT] COMMAND [ARGS]

  help [COMMAND]                         this list, or one command's usage (also COMMAND --help)
  version                                the build (also --version)

  init --name NAME [--duress]            make this home's identity (--duress: and a duress passphrase)
  duress set                             a passphrase that, typed at any unlock, destroys this home's keys
  unlock [--for D] [--idle D]            keep this home unlocked for your commands: --for at most (15m; up to 8h), --idle without use (10m)
  unlock --status                        whether this home is unlocked, and until when
  lock                                   end an unlock at once
  whoami [--json]                        your name and safety number
  channel create CHANNEL --relay URL [--relay URL2 ...] [--secrecy hard|soft] [--side SIDE] [--quorum every-side|none]
  channel list [--json]
  channel quorum CHANNEL [every-side|none]   the admission rule; a change: organizer, itself under the rule
  channel relays CHANNEL [--json] [add URL | remove URL|N]   a channel's relays; changes: organizer
  invite CHANNEL --role participant|mentor|organizer [--side SIDE] [--expires D] [--membership D]
  join CODE [--as CHANNEL]               send a join request (CODE - reads it from stdin)
  pending CHANNEL [--json]               join requests and roster changes waiting (organizer)
  admit CHANNEL (--all | NAME...)        admit them (organizer; under every-side, a proposal)
  approve CHANNEL [VERSION]              approve another organizer's proposal (organizer)
  withdraw CHANNEL                       take back your proposal waiting for approval
  members CHANNEL [--json]
  remove CHANNEL MEMBER                  (organizer; new epoch)
  leave CHANNEL
  send CHANNEL [TEXT]                    talks; stdin when TEXT is absent
  brief CHANNEL [--side SIDE] [TEXT]     briefings compartment (--side: your own side only)
  sync [CHANNEL] [--spread D]            all channels: random order, a random pause below D (3s) before each
  outbox [CHANNEL] [--json] [--drop ID]  what waits to be sent; --drop takes a message back
  read CHANNEL [--follow] [--json]
  draft put CHANNEL NAME FILE            publish a new version (FILE - for stdin); prints its number
  draft list CHANNEL [--json]
  draft get CHANNEL NAME [--version N]   the exact bytes of a version (default: latest)
  draft diff CHANNEL NAME V1 V2          unified diff of two versions
  draft initial CHANNEL NAME --version N [--yes]   sign the agreed version for your side (NOT deniable)
  draft agreement CHANNEL NAME --export FILE [--version N] [--yes]   the record of a text every side initialled (founder)
  agreement verify FILE                  check a record offline; needs no home
  transcript CHANNEL [--export FILE [--to AGE_RECIPIENT]]   the local transcript, without syncing
  verify CHANNEL MEMBER [--confirm]
  burn CHANNEL                           (organizer)
  chat CHANNEL                           full-screen terminal client (? shows its keys)
  app [--no-browser] [--listen ADDR] [--idle-lock D]   the graphical client, in your browser
`

func dispatch(ctx context.Context, e *env, args []string) error {
	g, rest, err := parseGlobal(e, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		fmt.Fprint(e.stderr, usage)
		return usagef("no command")
	}
	if wantsHelp(rest) {
		printHelp(e.stdout, commandWords(rest))
		return nil
	}
	// With an unlock running for this home (parley unlock), its agent
	// runs the command; otherwise, or if it will not, the command
	// unlocks by itself.
	if e.held == nil && agentCommand(rest) {
		code, served, err := forward(ctx, e, g, args)
		if err != nil {
			return err
		}
		if served {
			if code == 0 {
				return nil
			}
			return agentExit(code)
		}
	}
	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "help":
		printHelp(e.stdout, rest)
		return nil
	case "version", "--version", "-version":
		fmt.Fprintf(e.stdout, "parley %s\n", version.String())
		return nil
	case "init":
		return cmdInit(e, g, rest)
	case "duress":
		return cmdDuress(e, g, rest)
	case "unlock":
		return cmdUnlock(ctx, e, g, rest)
	case "lock":
		return cmdLock(e, g, rest)
	case "whoami":
		return cmdWhoami(e, g, rest)
	case "channel":
		if len(rest) == 0 {
			return usagef("channel needs create, list, relays or quorum")
		}
		switch rest[0] {
		case "create":
			return cmdChannelCreate(ctx, e, g, rest[1:])
		case "list":
			return cmdChannelList(e, g, rest[1:])
		case "relays":
			return cmdChannelRelays(ctx, e, g, rest[1:])
		case "quorum":
			return cmdChannelQuorum(ctx, e, g, rest[1:])
		}
		return usagef("unknown channel command %q", rest[0])
	case "invite":
		return cmdInvite(ctx, e, g, rest)
	case "join":
		return cmdJoin(ctx, e, g, rest)
	case "pending":
		return cmdPending(ctx, e, g, rest)
	case "admit":
		return cmdAdmit(ctx, e, g, rest)
	case "approve":
		return cmdApprove(ctx, e, g, rest)
	case "withdraw":
		return cmdWithdraw(ctx, e, g, rest)
	case "members":
		return cmdMembers(e, g, rest)
	case "remove":
		return cmdRemove(ctx, e, g, rest)
	case "leave":
		return cmdLeave(ctx, e, g, rest)
	case "send":
		return cmdSend(ctx, e, g, rest, false)
	case "brief":
		return cmdSend(ctx, e, g, rest, true)
	case "sync":
		return cmdSync(ctx, e, g, rest)
	case "outbox":
		return cmdOutbox(e, g, rest)
	case "read":
		return cmdRead(ctx, e, g, rest, true)
	case "transcript":
		return cmdRead(ctx, e, g, rest, false)
	case "verify":
		return cmdVerify(e, g, rest)
	case "burn":
		return cmdBurn(ctx, e, g, rest)
	case "draft":
		return cmdDraft(ctx, e, g, rest)
	case "agreement":
		return cmdAgreement(e, rest)
	case "chat":
		return cmdChat(ctx, e, g, rest)
	case "app":
		return cmdApp(ctx, e, g, rest)
	}
	fmt.Fprint(e.stderr, usage)
	return usagef("unknown command %q", cmd)
}
