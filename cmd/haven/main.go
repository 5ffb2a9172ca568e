// Command haven is a DNS-based family content filter: point a router's DNS
// setting at it and it answers every query, blocking names on the lists of
// the categories you choose and forwarding the rest to upstream resolvers.
//
// Usage:
//
//	haven serve [--config FILE] [--listen ADDR]... [--upstream URL]...
//	haven check [--config FILE] NAME [TYPE]
//	haven config check FILE
//	haven pause [--config FILE] TARGET (--for DURATION | --until TIME)
//	haven allow [--config FILE] TARGET WHAT (--for DURATION | --until TIME)
//	haven resume [--config FILE] TARGET
//	haven status [--config FILE]
//	haven password [--generate] < FILE
//	haven version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `haven is a DNS-based family content filter.

Usage:
  haven serve [--config FILE] [--listen ADDR]... [--upstream URL]...
  haven check [--config FILE] NAME [TYPE]
  haven config check FILE
  haven pause  [--config FILE] TARGET (--for DURATION | --until TIME)
  haven allow  [--config FILE] TARGET WHAT (--for DURATION | --until TIME)
  haven resume [--config FILE] TARGET
  haven status [--config FILE]
  haven password [--generate] < FILE
  haven version

With no --config, haven runs on its built-in defaults: public DNS-over-TLS
upstreams and small embedded adult and malware lists.

pause, allow, resume and status control a running server through its
HTTP API (the config's http: address, with the token in its data_dir).
TARGET is a device or profile name; WHAT a service, category or domain.

password reads the web console's password from stdin (or makes one with
--generate) and prints the config line that sets it.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage means the command line was wrong; usage has been printed.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "check":
		err = check(args[1:], stdout, stderr)
	case "pause":
		err = pauseCmd(args[1:], stdout, stderr)
	case "allow":
		err = allowCmd(args[1:], stdout, stderr)
	case "resume":
		err = resumeCmd(args[1:], stdout, stderr)
	case "status":
		err = statusCmd(args[1:], stdout, stderr)
	case "password":
		err = passwordCmd(args[1:], os.Stdin, stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = configCheck(args[2:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "haven", version)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "haven: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintln(stderr, "haven:", err)
		return 1
	}
}

// multiFlag collects a flag given several times.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint([]string(*m)) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
