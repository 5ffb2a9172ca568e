// Command haven-bench measures Haven against references in one run: Unbound
// (a caching forwarder with the same blocklist), a plain miekg/dns
// forwarder (internal/plainfwd, same blocklist) and a null responder (the
// fastest a miekg/dns server answers on this machine), all forwarding to
// one fake upstream, all on 127.0.0.1, loaded by dnsperf. Only ratios
// within one run mean anything: the load generator shares the cores.
//
//	go run ./cmd/haven-bench [--quick] [--rounds N] [--duration SECONDS] [--out FILE.json]
//
// The subcommands "upstream", "null" and "fwd" are the fake upstream, the
// null responder and the plain forwarder; the benchmark runs them as its
// own child processes.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "upstream", "null", "fwd", "relay":
			serve := func() error { return serveResponder(args[0], args[1:], stdout, stderr) }
			switch args[0] {
			case "fwd":
				serve = func() error { return serveForwarder(args[1:], stdout, stderr) }
			case "relay":
				serve = func() error { return serveRelay(args[1:], stdout, stderr) }
			}
			if err := serve(); err != nil {
				fmt.Fprintf(stderr, "haven-bench %s: %v\n", args[0], err)
				return 1
			}
			return 0
		}
	}
	return benchMain(args, stdout, stderr)
}
