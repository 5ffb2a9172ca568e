package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// unboundConf is what the benchmark's Unbound is: a caching forwarder to
// the fake upstream that answers NXDOMAIN for every name on the list and
// under it, as Haven does.
type unboundConf struct {
	Dir      string // working directory: pid file, log
	Listen   string // 127.0.0.1:PORT
	Upstream string // 127.0.0.1:PORT of the fake upstream
	Threads  int
	Names    []string // blocked names (each with its subtree)
}

// writeUnboundConf writes c in unbound.conf syntax. Everything that would
// touch the system (chroot, user switch, syslog, trust anchors, remote
// control) is off; the validator is left out since the fake upstream signs
// nothing and Haven does not validate either. The caches are sized like
// Haven's 100,000 entries: they hold the ~85,000 names of the mix workload
// without evicting (16m/32m does evict, measured), and on the miss
// workload they fill up at about as many names as Haven's.
func writeUnboundConf(w io.Writer, c unboundConf) error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("unbound listen: %w", err)
	}
	uhost, uport, err := net.SplitHostPort(c.Upstream)
	if err != nil {
		return fmt.Errorf("unbound upstream: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, `server:
	interface: %s@%s
	port: %s
	do-ip6: no
	num-threads: %d
	so-reuseport: yes
	username: ""
	chroot: ""
	directory: %q
	pidfile: %q
	use-syslog: no
	logfile: %q
	verbosity: 0
	log-queries: no
	module-config: "iterator"
	do-not-query-localhost: no
	access-control: 127.0.0.0/8 allow
	msg-cache-size: 32m
	rrset-cache-size: 64m
	prefetch: no
	statistics-interval: 0
`, host, port, port, max(c.Threads, 1), c.Dir, filepath.Join(c.Dir, "unbound.pid"), filepath.Join(c.Dir, "unbound.log"))
	for _, n := range c.Names {
		if !plainName(n) {
			return fmt.Errorf("unbound local-zone: %q is not a plain host name", n)
		}
		fmt.Fprintf(bw, "\tlocal-zone: \"%s.\" always_nxdomain\n", n)
	}
	fmt.Fprintf(bw, `remote-control:
	control-enable: no
forward-zone:
	name: "."
	forward-addr: %s@%s
`, uhost, uport)
	return bw.Flush()
}

// writeUnboundConfFile writes the config to dir/unbound.conf and has
// unbound-checkconf check it.
func writeUnboundConfFile(c unboundConf, checkconf string) (string, error) {
	path := filepath.Join(c.Dir, "unbound.conf")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := writeUnboundConf(f, c); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if checkconf != "" {
		out, err := exec.Command(checkconf, path).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("unbound-checkconf %s: %w: %s", path, err, strings.TrimSpace(string(out)))
		}
	}
	return path, nil
}
