package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"

	"parley/app"
	"parley/client"
)

// cmdApp serves the graphical client on loopback and opens the system
// browser on it, until the page's "Lock & quit" or Ctrl+C.
func cmdApp(ctx context.Context, e *env, g *global, args []string) error {
	var listen string
	var noBrowser bool
	var idle time.Duration
	pos, err := flags("app", args, func(fs *flag.FlagSet) {
		fs.StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to serve on (port 0: a free one)")
		fs.BoolVar(&noBrowser, "no-browser", false, "print the address instead of opening the browser")
		fs.DurationVar(&idle, "idle-lock", app.DefaultIdleLock, "lock the home after this long without use")
	})
	if err != nil {
		return err
	}
	if len(pos) != 0 || idle <= 0 {
		return usagef("usage: parley app [--listen 127.0.0.1:0] [--no-browser] [--idle-lock D]")
	}
	// A passphrase given for scripting unlocks at once; otherwise the
	// page asks for it (never the terminal: the point is not to need
	// one). Without a home, the page offers to make one.
	var passphrase string
	if client.HomeExists(g.home) && (g.passphraseFile != "" || e.getenv("PARLEY_PASSPHRASE") != "") {
		if passphrase, err = g.passphrase(e, false); err != nil {
			return err
		}
	}
	s, err := app.Start(app.Options{Home: g.home, Passphrase: passphrase, Listen: listen, IdleLock: idle, Proxy: g.proxy})
	if err != nil {
		return err
	}
	defer s.Close()
	url := s.URL()
	if noBrowser || openBrowser(url) != nil {
		fmt.Fprintf(e.stdout, "open this address in your browser (it works once):\n%s\n", url)
	} else {
		fmt.Fprintf(e.stdout, "Parley is open in your browser at %s\n", s.Origin())
	}
	fmt.Fprintln(e.stdout, "Ctrl+C, or Lock & quit in the page, ends it.")
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	return nil
}

// openBrowser asks the desktop to open url.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no display")
		}
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
