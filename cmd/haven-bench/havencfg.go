package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// havenConf is the Haven under test: a caching forwarder to the fake
// upstream with every policy feature on, as a family runs it, and yet
// answering the workloads' names as Unbound and the plain forwarder do
// (but for the search engines' names, which SafeSearch rewrites). It uses
// only keys config/README.md documents:
//
//   - two profiles: "adults" blocks the list (category "bench"); "kids"
//     inherits it and adds its own allow and deny names, SafeSearch for
//     every engine, and a "bedtime" schedule that is active during the run
//     and blocks category "night";
//   - devices: the loopback client, that is dnsperf, is a device with
//     profile "kids", so every measured query goes through the device
//     lookup, the schedule and SafeSearch;
//   - the data directory turns the query log on (querylog.enabled and the
//     profiles' log: all are the defaults), so every query is logged.
//
// The extra names (night, allow, deny) all lie under missZone, where no
// workload but miss has names, and the miss workload's are under a label
// naming the server and run, never these. Everything else stays at its
// default: the access check runs, and the rate limit exempts loopback.
type havenConf struct {
	Listen   string // 127.0.0.1:PORT
	Upstream string // 127.0.0.1:PORT of the fake upstream
	List     string // file of names, one a line
	DataDir  string // runtime state and the query log; "" = neither
	UDPBatch bool   // udp_batch: true
	// Now places the bedtime window: it starts on the hour before Now and
	// lasts four hours, in UTC, every day, so it is active for at least
	// two hours from Now: the whole workload the config is written for.
	Now time.Time
}

// Names the kids profile blocks beyond the list, or allows; the benchmark
// checks the first two before measuring, to know the features are on.
const (
	nightName   = "night." + missZone   // category night, blocked by the active bedtime window
	deniedName  = "denied." + missZone  // kids' deny
	allowedName = "allowed." + missZone // kids' allow
	safeGoogle  = "www.google.com"      // rewritten by SafeSearch
	safeHost    = "forcesafesearch.google.com."
)

// writeHavenConf writes c as a Haven YAML config. refresh: 0 keeps the
// store from re-reading the list during a run.
func writeHavenConf(w io.Writer, c havenConf) error {
	dataDir := ""
	if c.DataDir != "" {
		dataDir = fmt.Sprintf("data_dir: %q\n", c.DataDir)
	}
	if c.UDPBatch {
		dataDir += "udp_batch: true\n"
	}
	from := c.Now.UTC().Truncate(time.Hour).Add(-time.Hour)
	to := from.Add(4 * time.Hour)
	_, err := fmt.Fprintf(w, `# written by haven-bench
listen: [%q]
upstreams: [%q]
cache: {size: 100000}
%srefresh: 0
lists:
  bench: [{file: %q, name: "haven-bench list"}]
  night: [{inline: [%q], name: "haven-bench bedtime list"}]
profiles:
  adults:
    block: [bench]
  kids:
    inherit: adults
    allow: [%q]
    deny: [%q]
    safesearch: true
    timezone: UTC
    schedules:
      - {name: bedtime, days: daily, from: %q, to: %q, block: [night]}
default_profile: adults
devices:
  - {name: bench-client, match: ["127.0.0.1"], profile: kids}
`, c.Listen, "udp://"+c.Upstream, dataDir, c.List, nightName, allowedName, deniedName, from.Format("15:04"), to.Format("15:04"))
	return err
}

func writeHavenConfFile(dir string, c havenConf) (string, error) {
	path := filepath.Join(dir, "haven.yaml")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := writeHavenConf(f, c); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// buildHaven builds ./cmd/haven of the module the benchmark is run in
// into dir and returns the binary's path.
func buildHaven(ctx context.Context, dir string, log io.Writer) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the Haven module: run haven-bench from the checkout, or pass --haven BINARY")
	}
	bin := filepath.Join(dir, "haven")
	fmt.Fprintf(log, "building haven: go build -o %s ./cmd/haven\n", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/haven")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/haven: %w", err)
	}
	return bin, nil
}
