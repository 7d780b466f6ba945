// Command parley-relay runs a Parley relay: it stores and forwards
// end-to-end-encrypted frames between Parley clients over TLS, enforcing
// each channel's signed access list. See the README for running one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"parley/internal/version"
	"parley/relay"
)

func main() {
	fs := flag.NewFlagSet("parley-relay", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:7443", "address to listen on (port 0 picks a free port)")
	data := fs.String("data", "relay-data", "data folder: database, certificate, relay.url")
	certFile := fs.String("tls-cert", "", "PEM certificate to serve instead of the self-signed one")
	keyFile := fs.String("tls-key", "", "PEM private key of --tls-cert")
	ttl := fs.Duration("ttl", 72*time.Hour, "longest time messages are kept (a channel's own retention applies when shorter)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the build and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley-relay [--listen ADDR] [--data DIR] [--tls-cert F --tls-key F] [--ttl D] [--log-level L] [--version]")
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return
	} else if err != nil {
		fmt.Fprintf(os.Stderr, "parley-relay: %v (parley-relay --help lists the flags)\n", err)
		os.Exit(2)
	}
	if *showVersion {
		fmt.Printf("parley-relay %s\n", version.String())
		return
	}
	if fs.NArg() > 0 {
		fatal(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if (*certFile == "") != (*keyFile == "") {
		fatal(fmt.Errorf("--tls-cert and --tls-key go together"))
	}
	if *ttl <= 0 {
		fatal(fmt.Errorf("--ttl must be positive"))
	}
	logger, err := relay.NewLogger(os.Stderr, *level)
	if err != nil {
		fatal(err)
	}
	// Signals are caught before the URL is printed: whoever starts the
	// relay may stop it as soon as it reads the URL, and a SIGTERM that
	// came before the handler would end the process uncleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	r, err := relay.Start(relay.Options{
		Listen: *listen, DataDir: *data, CertFile: *certFile, KeyFile: *keyFile,
		Config: relay.Config{Logger: logger, TTL: *ttl},
	})
	if err != nil {
		fatal(err)
	}
	fmt.Println(r.URL)
	logger.Info("relay started", "ttl", ttl.String())
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Close(sctx); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "parley-relay: %v\n", err)
	os.Exit(1)
}
