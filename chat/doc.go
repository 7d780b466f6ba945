// Package chat is `parley chat`: the full-screen terminal client for one
// channel, built with Bubble Tea over the same client library as the
// other commands. The command (cmd/parley) parses its flags, makes sure
// it has a terminal, opens the home and hands the rest to New and Run;
// docs/chat.md describes the screen, its keys and its slash commands.
//
// What it promises, beyond what the client library does:
//
//   - Locking: ctrl+l or /lock replaces the whole screen with a
//     passphrase prompt; not even the channel's name stays. Messages
//     keep arriving underneath, unseen. The screen comes back only when
//     Config.CheckPassphrase accepts the passphrase (the command opens
//     the home's identity with it again); a half-typed message is kept.
//   - Clearing on exit: the chat runs in the terminal's alternate screen,
//     so nothing of the conversation lands in the scrollback; its last
//     frame is blank and the main screen is cleared as well. A send in
//     flight gets five seconds to finish; what is committed but not yet
//     acknowledged stays in the outbox for the next sync.
//   - Text is always text: what other members wrote, their names and
//     draft names reach the terminal with control characters (escape
//     sequences among them) and bidirectional overrides replaced by
//     U+FFFD, so a message cannot rewrite the screen or disguise itself.
//     The other way, words typed or pasted never act as keys: a burst of
//     characters that spells "tab" or "enter" lands in the compose box
//     verbatim, and only the keys themselves switch between the talks
//     and the briefings, send or scroll.
//   - Compartments: what is typed goes to the tab shown when enter was
//     pressed. A mentor has only the briefings tab; the talks and drafts
//     never reach a mentor's client, and the screen has no trace of them.
//   - No notifications: the chat never rings the bell, sets the window
//     title or sends a desktop notification, so no message content
//     leaves the screen.
//
// One goroutine (session.go) owns everything that talks to the relay:
// it follows the channel and pauses Follow for each action that syncs
// or sends, so two syncs of one channel never run at once in the process
// and an outbox item is never posted twice.
//
// No claim of docs/threat-model.md rests on this package: it is a layer
// over the client library, which enforces who may read and post what.
package chat
