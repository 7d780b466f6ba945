package main

import (
	"errors"
	"fmt"

	"parley/client"
)

// duressWarning is said before a duress passphrase is set: what it does
// cannot be undone.
const duressWarning = `A duress passphrase, typed at any unlock instead of your passphrase, opens an
empty home of your name and destroys this home's keys on the way. Nothing
restores them: use it only if being forced to unlock this computer is a risk.
`

// cmdDuress is parley duress set.
func cmdDuress(e *env, g *global, args []string) error {
	if len(args) != 1 || args[0] != "set" {
		return usagef("usage: parley duress set")
	}
	p, err := g.passphrase(e, false)
	if err != nil {
		return err
	}
	d, err := duressPassphrase(e)
	if err != nil {
		return err
	}
	if err := client.SetDuress(g.home, p, d); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "duress passphrase set")
	return nil
}

// duressPassphrase reads the duress passphrase: $PARLEY_DURESS_PASSPHRASE,
// else asked twice at the terminal, after the warning.
func duressPassphrase(e *env) (string, error) {
	if d := e.getenv("PARLEY_DURESS_PASSPHRASE"); d != "" {
		return d, nil
	}
	if !e.terminal {
		return "", errors.New("no duress passphrase: set PARLEY_DURESS_PASSPHRASE or run in a terminal")
	}
	fmt.Fprint(e.stderr, duressWarning)
	d, err := prompt(e, "Duress passphrase: ")
	if err != nil {
		return "", err
	}
	again, err := prompt(e, "Duress passphrase again: ")
	if err != nil {
		return "", err
	}
	switch {
	case again != d:
		return "", errors.New("the duress passphrases differ")
	case d == "":
		return "", errors.New("empty duress passphrase")
	}
	return d, nil
}
