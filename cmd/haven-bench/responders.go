package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/havendns/haven/internal/nullresp"
	"github.com/havendns/haven/internal/plainfwd"
	"github.com/havendns/haven/internal/wirerelay"
)

// The fake upstream and the null responder are the same answerer run as
// separate processes, so that each has its own CPU and RSS figures: the
// fake is what Haven and Unbound forward to, the null responder a server
// measured beside them.
const (
	fakeA    = "192.0.2.1"
	fakeAAAA = "2001:db8::1"
	fakeTTL  = 3600
)

// serveResponder is the "upstream" and "null" subcommands: answer every
// A/AAAA query with a fixed address until SIGINT/SIGTERM. The first line of
// stdout is "listening ADDR".
func serveResponder(name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to serve UDP and TCP on")
	a := fs.String("a", fakeA, "`address` of every A answer")
	aaaa := fs.String("aaaa", fakeAAAA, "`address` of every AAAA answer")
	ttl := fs.Uint("ttl", fakeTTL, "TTL of every answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	opt := nullresp.Options{TTL: uint32(*ttl)}
	var err error
	if opt.A, err = netip.ParseAddr(*a); err != nil {
		return fmt.Errorf("-a: %w", err)
	}
	if opt.AAAA, err = netip.ParseAddr(*aaaa); err != nil {
		return fmt.Errorf("-aaaa: %w", err)
	}
	h, err := nullresp.New(opt)
	if err != nil {
		return err
	}
	return serveUntilSignal(stdout, func() (listener, error) { return nullresp.Listen(*listen, h) })
}

// listener is a running responder: nullresp's and plainfwd's servers.
type listener interface {
	Addr() string
	Shutdown(ctx context.Context) error
}

// serveUntilSignal starts a responder, prints "listening ADDR" as the first
// line of stdout, and shuts it down on SIGINT or SIGTERM.
func serveUntilSignal(stdout io.Writer, start func() (listener, error)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := start()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening %s\n", srv.Addr())
	<-ctx.Done()
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// serveForwarder is the "fwd" subcommand: the plain miekg/dns forwarder
// of internal/plainfwd, blocking the names of --list and forwarding the
// rest to --upstream, until SIGINT/SIGTERM. The first line of stdout is
// "listening ADDR".
func serveForwarder(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to serve UDP and TCP on")
	upstream := fs.String("upstream", "", "loopback `host:port` of the upstream (required)")
	list := fs.String("list", "", "`file` of names to block, one a line (each with its subtree)")
	cacheSize := fs.Int("cache-size", 100000, "most answers cached")
	sockets := fs.Int("sockets", plainfwd.DefaultSockets, "most idle upstream sockets kept")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, a := range []string{*listen, *upstream} {
		if err := checkLoopback(a); err != nil {
			return err
		}
	}
	var names []string
	if *list != "" {
		var err error
		if names, err = readNames(*list, 0); err != nil {
			return err
		}
	}
	f, err := plainfwd.New(plainfwd.Options{Upstream: *upstream, Block: names, CacheSize: *cacheSize, Sockets: *sockets})
	if err != nil {
		return err
	}
	return serveUntilSignal(stdout, func() (listener, error) {
		srv, err := plainfwd.Listen(*listen, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		return srv, nil
	})
}

// checkLoopback refuses any address but a loopback one: the benchmark
// never puts traffic anywhere else.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: only loopback addresses are allowed", hostport)
	}
	return nil
}

// serveRelay is the "relay" subcommand: relay UDP queries to the upstream
// unparsed (internal/wirerelay), the floor of a cache miss.
func serveRelay(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to serve UDP on")
	upstream := fs.String("upstream", "", "loopback `host:port` of the upstream (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, a := range []string{*listen, *upstream} {
		if err := checkLoopback(a); err != nil {
			return err
		}
	}
	return serveUntilSignal(stdout, func() (listener, error) { return wirerelay.Listen(*listen, *upstream) })
}
