package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/state"
)

// The control commands (pause, allow, resume, status) change or show a
// running server's runtime state through its HTTP API, which they find in
// the same config file the server was started with.

// controlTimeout bounds one control command; the server answers these
// requests from memory and a small state file.
const controlTimeout = 30 * time.Second

func pauseCmd(args []string, stdout, stderr io.Writer) error {
	file, pos, when, err := parseTimed("pause", "pause", args, 1, stderr, "usage: haven pause [--config FILE] TARGET (--for DURATION | --until TIME)\n\n"+
		"Blocks everything but the allow list for a device or profile.")
	if err != nil {
		return err
	}
	var e state.Entry
	err = callServer(file, func(ctx context.Context, c *api.Client) (err error) {
		e, err = c.Pause(ctx, pos[0], when)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s paused until %s\n", e.Target, describeUntil(e.Until, time.Now()))
	return nil
}

func allowCmd(args []string, stdout, stderr io.Writer) error {
	file, pos, when, err := parseTimed("allow", "exception", args, 2, stderr, "usage: haven allow [--config FILE] TARGET WHAT (--for DURATION | --until TIME)\n\n"+
		"Lets a device or profile reach a service, category or domain for a while.")
	if err != nil {
		return err
	}
	var e state.Entry
	err = callServer(file, func(ctx context.Context, c *api.Client) (err error) {
		e, err = c.Allow(ctx, pos[0], pos[1], when)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s allowed for %s until %s\n", e.What, e.Target, describeUntil(e.Until, time.Now()))
	return nil
}

func resumeCmd(args []string, stdout, stderr io.Writer) error {
	fs, file := controlFlags("resume", stderr)
	pos, err := parseArgs(fs, args, 1, stderr, "usage: haven resume [--config FILE] TARGET\n\n"+
		"Ends every pause and exception of a device or profile.")
	if err != nil {
		return err
	}
	var n int
	err = callServer(*file, func(ctx context.Context, c *api.Client) (err error) {
		n, err = c.Resume(ctx, pos[0])
		return err
	})
	if err != nil {
		return err
	}
	switch n {
	case 0:
		fmt.Fprintf(stdout, "%s had no pauses or exceptions\n", pos[0])
	case 1:
		fmt.Fprintf(stdout, "%s resumed (1 entry removed)\n", pos[0])
	default:
		fmt.Fprintf(stdout, "%s resumed (%d entries removed)\n", pos[0], n)
	}
	return nil
}

func statusCmd(args []string, stdout, stderr io.Writer) error {
	fs, file := controlFlags("status", stderr)
	if _, err := parseArgs(fs, args, 0, stderr, "usage: haven status [--config FILE]\n\n"+
		"Shows the active pauses and exceptions."); err != nil {
		return err
	}
	var es []state.Entry
	err := callServer(*file, func(ctx context.Context, c *api.Client) (err error) {
		es, err = c.Entries(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if len(es) == 0 {
		fmt.Fprintln(stdout, "no active pauses or exceptions")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSTATE\tUNTIL\tBY")
	for _, e := range es {
		what := "paused"
		if e.Kind == state.Allow {
			what = "allowed " + e.What
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Target, what, describeUntil(e.Until, now), e.By)
	}
	return tw.Flush()
}

// controlFlags returns the flag set of a control command with its --config
// flag.
func controlFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := newFlagSet(name, stderr)
	file := fs.String("config", "", "config `file` of the running server (default: built-in defaults)")
	return fs, file
}

// parseTimed parses the command line of a control command that adds an
// entry for a while: --config, --for or --until (the length of what), and
// n positional arguments.
func parseTimed(name, what string, args []string, n int, stderr io.Writer, usage string) (file string, pos []string, when api.When, err error) {
	fs, f := controlFlags(name, stderr)
	var w whenFlags
	w.register(fs, what)
	if pos, err = parseArgs(fs, args, n, stderr, usage); err != nil {
		return "", nil, api.When{}, err
	}
	if when, err = w.when(fs); err != nil {
		return "", nil, api.When{}, err
	}
	return *f, pos, when, nil
}

// parseArgs parses args with parseInterleaved and checks that exactly n
// positional arguments remain. usage (the usage line and a description) is
// printed, followed by the flags, on -h or a wrong count.
func parseArgs(fs *flag.FlagSet, args []string, n int, stderr io.Writer, usage string) ([]string, error) {
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// callServer runs call against the API of the server that config file
// runs, within controlTimeout. A failure to reach the server is explained.
func callServer(file string, call func(context.Context, *api.Client) error) error {
	c, err := controlClient(file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	if err := call(ctx, c.Client); err != nil {
		return c.explain(err)
	}
	return nil
}

// whenFlags are --for and --until, of which exactly one is needed.
type whenFlags struct {
	forStr, until string
}

func (w *whenFlags) register(fs *flag.FlagSet, what string) {
	fs.StringVar(&w.forStr, "for", "", "how long the "+what+" lasts: a `duration` such as 30m, 1h30m or 2d")
	fs.StringVar(&w.until, "until", "", "when the "+what+" ends: `HH:MM` (the next such time on the server's clock) or an RFC 3339 time")
}

func (w *whenFlags) when(fs *flag.FlagSet) (api.When, error) {
	switch {
	case w.forStr == "" && w.until == "":
		fs.Usage()
		return api.When{}, errUsage
	case w.forStr != "" && w.until != "":
		return api.When{}, errors.New("give --for or --until, not both")
	case w.until != "":
		// Sent as written: the server decides what a wall-clock time
		// means, on its own clock and zone.
		return api.When{Until: w.until}, nil
	}
	d, err := api.ParseDuration(w.forStr)
	if err != nil {
		return api.When{}, fmt.Errorf("--for: %w", err)
	}
	if d <= 0 {
		return api.When{}, fmt.Errorf("--for: %q must be positive", w.forStr)
	}
	return api.When{For: d}, nil
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments ("haven pause kid-tablet --for 30m"), which the
// flag package alone stops at. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// controlAPI is a client for the API of the server a config file runs.
type controlAPI struct {
	*api.Client
}

func controlClient(file string) (*controlAPI, error) {
	cfg, err := loadConfig(file)
	if err != nil {
		return nil, err
	}
	if cfg.HTTP == "" {
		return nil, errors.New("the config has no http: address; the running server's API is needed")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("http API needs data_dir for its token")
	}
	base, err := apiBase(cfg.HTTP)
	if err != nil {
		return nil, err
	}
	tok, err := api.ReadToken(cfg.DataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (the server creates it when it starts with http: set; is it running with this config?)", err)
	}
	if err != nil {
		return nil, err
	}
	return &controlAPI{&api.Client{
		Base:  base,
		Token: tok,
		By:    "cli",
		// No proxy: the token must not leave for one, even when the API
		// listens on a LAN address that the environment would proxy.
		HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}}, nil
}

// explain turns a failure to reach the server into advice; the API's own
// errors are already sentences.
func (c *controlAPI) explain(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return err
	}
	return fmt.Errorf("cannot reach the haven server at %s (is it running with this config?): %w", c.Base, err)
}

// apiBase returns the URL to reach an API listening on addr: a wildcard
// address is reached on loopback.
func apiBase(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("http: %q: %w", addr, err)
	}
	switch ip, err := netip.ParseAddr(host); {
	case host == "":
		host = "127.0.0.1"
	case err == nil && ip.IsUnspecified() && ip.Is4():
		host = "127.0.0.1"
	case err == nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// describeUntil says when something ends, for people: "19:30 (in 30m)",
// "tomorrow 07:00 (in 12h)".
func describeUntil(until, now time.Time) string {
	// The clock is rounded like the duration: 18:29:59.8 reads 18:30.
	clock := until.In(now.Location()).Round(time.Minute)
	return fmt.Sprintf("%s (in %s)", dayAndClock(clock, now), roughly(until.Sub(now)))
}

func dayAndClock(t, now time.Time) string {
	y, m, d := now.Date()
	ty, tm, td := t.Date()
	ny, nm, nd := time.Date(y, m, d+1, 0, 0, 0, 0, now.Location()).Date()
	switch {
	case ty == y && tm == m && td == d:
		return t.Format("15:04")
	case ty == ny && tm == nm && td == nd:
		return "tomorrow " + t.Format("15:04")
	case t.Sub(now) < 6*24*time.Hour:
		return t.Format("Mon 15:04")
	case ty == y:
		return t.Format("Mon 2 Jan 15:04")
	}
	return t.Format("2 Jan 2006 15:04")
}

// roughly formats a duration to the minute: "30m", "1h30m", "2d3h".
func roughly(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "less than a minute"
	}
	days, hours, mins := d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute
	var b strings.Builder
	if days > 0 {
		fmt.Fprintf(&b, "%dd", days)
	}
	if hours > 0 {
		fmt.Fprintf(&b, "%dh", hours)
	}
	if mins > 0 && days == 0 {
		fmt.Fprintf(&b, "%dm", mins)
	}
	return b.String()
}
