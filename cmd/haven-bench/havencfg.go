package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// havenConf is the Haven under test: a caching forwarder to the fake
// upstream with the list blocked as category "bench". It uses only keys
// config/README.md documents. Everything else stays at its defaults so
// that the benchmark measures what users run: the data directory turns on
// the query log (querylog.enabled defaults to true but needs data_dir), and
// the rate limit does not apply to loopback clients by default.
type havenConf struct {
	Listen   string // 127.0.0.1:PORT
	Upstream string // 127.0.0.1:PORT of the fake upstream
	List     string // file of names, one a line
	DataDir  string // runtime state and the query log; "" = neither
	UDPBatch bool   // udp_batch: true
}

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
	_, err := fmt.Fprintf(w, `# written by haven-bench
listen: [%q]
upstreams: [%q]
cache: {size: 100000}
%srefresh: 0
lists:
  bench: [{file: %q, name: "haven-bench list"}]
block: [bench]
`, c.Listen, "udp://"+c.Upstream, dataDir, c.List)
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
