package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// describe says what workload w sends, for the report.
func describe(w string, o *options) string {
	switch w {
	case "zipf":
		return fmt.Sprintf("%d queries (A) drawn Zipf-distributed (s=%.2f) from the 10,000 ranked names of opendns_top-domains_2014.txt; after warm-up nearly all are cache hits (names on the list are blocked).", o.queries, o.zipfS)
	case "mix":
		return fmt.Sprintf("%d queries (A), shuffled: 90%% names of cloudflare-radar_top100000.txt that the list does not cover, 10%% names on the list (blocked); warmed, so the allowed ones are cache hits.", o.queries)
	case "miss":
		return "every query a new name (A) under " + missZone + ", a fresh file per run: every query is a cache miss forwarded to the fake upstream."
	}
	return ""
}

// writeWorkloads writes the zipf and mix query files; miss files are made
// per run (queryFile).
func (b *bench) writeWorkloads() error {
	b.files = map[string]string{}
	qdir := filepath.Join(b.opt.testdata, "queries")
	for _, w := range b.opt.workloads {
		var names []string
		rng := rand.New(rand.NewPCG(b.seed, hashString(w)))
		switch w {
		case "zipf":
			ranked, err := readNames(filepath.Join(qdir, "opendns_top-domains_2014.txt"), 0)
			if err != nil {
				return err
			}
			names = zipfNames(rng, ranked, b.opt.queries, b.opt.zipfS)
		case "mix":
			popular, err := readNames(filepath.Join(qdir, "cloudflare-radar_top100000.txt"), 0)
			if err != nil {
				return err
			}
			if names, err = mixNames(rng, popular, b.list, b.opt.queries, 0.10); err != nil {
				return err
			}
		default:
			continue
		}
		path := filepath.Join(b.dir, w+".queries")
		if err := writeQueries(path, names); err != nil {
			return err
		}
		b.files[w] = path
	}
	return nil
}

// queryFile returns the query file for one run and how many queries it
// holds. A miss run gets a new file of names nobody has asked before,
// sized for the run's expected rate.
func (b *bench) queryFile(w, server string, round int, kind string) (string, int, error) {
	if w != "miss" {
		return b.files[w], b.opt.queries, nil
	}
	rate := b.opt.missQPS
	if kind == "fixed" {
		rate = b.opt.latencyQPS + b.opt.latencyQPS/5
	}
	n := int(b.opt.duration.Seconds() * float64(rate))
	tag := fmt.Sprintf("%s-%d-%s", server, round, kind)
	rng := rand.New(rand.NewPCG(b.seed, hashString(tag)))
	path := filepath.Join(b.dir, "miss.queries")
	return path, n, writeQueries(path, missNames(rng, tag, n))
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// freePort returns a 127.0.0.1 address whose port is free for UDP and
// TCP, for servers that must be told their port (Haven, Unbound). Another
// program could take it before they bind; they would then fail to start,
// loudly.
func freePort() (string, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := pc.LocalAddr().String()
		ln, err := net.Listen("tcp", addr)
		pc.Close()
		if err != nil {
			continue
		}
		ln.Close()
		return addr, nil
	}
	return "", fmt.Errorf("no port on 127.0.0.1 free for both UDP and TCP")
}

// waitReady waits until t answers a query (any answer), or fails when the
// process exits or a minute passes (Haven and Unbound read the list first).
func waitReady(ctx context.Context, t *target) error {
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion("ready."+missZone+".", dns.TypeA)
	deadline := time.Now().Add(time.Minute)
	for {
		if err := t.proc.alive(); err != nil {
			return err
		}
		if _, _, err := c.ExchangeContext(ctx, q, t.addr); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on %s within a minute%s", t.name, t.addr, t.proc.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkAnswers makes sure a server answers as the benchmark assumes: a
// forwarded name with the fake upstream's address, and (but for the null
// responder, which blocks nothing) a listed name and a name under it with
// NXDOMAIN. A setup mistake would otherwise show up only as odd figures.
func checkAnswers(t *target, list []string) error {
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
	ask := func(name string) (*dns.Msg, error) {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.Exchange(q, t.addr)
		if err != nil {
			return nil, fmt.Errorf("%s: check %s: %w", t.name, name, err)
		}
		return r, nil
	}
	r, err := ask("check." + missZone)
	if err != nil {
		return err
	}
	if a := firstA(r); r.Rcode != dns.RcodeSuccess || a != fakeA {
		return fmt.Errorf("%s: check.%s: got %s, A %q; want NOERROR, A %s", t.name, missZone, dns.RcodeToString[r.Rcode], a, fakeA)
	}
	if t.name == "null" || t.name == "relay" || len(list) == 0 {
		return nil
	}
	for _, name := range []string{list[0], "sub." + list[len(list)-1]} {
		r, err := ask(name)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeNameError {
			return fmt.Errorf("%s: %s is on the list but answered %s, want NXDOMAIN", t.name, name, dns.RcodeToString[r.Rcode])
		}
	}
	return nil
}

// checkFeatures makes sure a Haven runs with the features on that its
// config asks for, as seen by the loopback client: the device mapping to
// profile kids, its deny list, its active bedtime window, its SafeSearch,
// and, with a data directory, the query log. Without this check a config
// mistake would quietly measure a Haven with less to do.
func checkFeatures(t *target) error {
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
	for _, name := range []string{deniedName, nightName} {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.Exchange(q, t.addr)
		if err != nil {
			return fmt.Errorf("%s: check %s: %w", t.name, name, err)
		}
		if r.Rcode != dns.RcodeNameError {
			return fmt.Errorf("%s: %s answered %s, want NXDOMAIN: is the client not on profile kids, or bedtime not active?", t.name, name, dns.RcodeToString[r.Rcode])
		}
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(safeGoogle), dns.TypeA)
	r, _, err := c.Exchange(q, t.addr)
	if err != nil {
		return fmt.Errorf("%s: check %s: %w", t.name, safeGoogle, err)
	}
	if cn, ok := first(r.Answer).(*dns.CNAME); !ok || cn.Target != safeHost || firstA(r) != fakeA {
		return fmt.Errorf("%s: %s answered %v, want a CNAME to %s and A %s: SafeSearch off?", t.name, safeGoogle, r.Answer, safeHost, fakeA)
	}
	if t.dataDir != "" {
		if _, err := os.Stat(filepath.Join(t.dataDir, "querylog.db")); err != nil {
			return fmt.Errorf("%s: no query log: %w", t.name, err)
		}
	}
	return nil
}

func first(rrs []dns.RR) dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	return rrs[0]
}

func firstA(r *dns.Msg) string {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

// versions names the software measured, for the report.
func versions(t tools, havenBin string) map[string]string {
	v := map[string]string{"go": runtime.Version()}
	first := func(argv ...string) string {
		out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		for line := range strings.SplitSeq(string(out), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				return line
			}
		}
		return ""
	}
	if t.unbound != "" {
		v["unbound"] = first(t.unbound, "-V")
	}
	out, _ := exec.Command(t.dnsperf, "-h").CombinedOutput()
	for line := range strings.SplitSeq(string(out), "\n") {
		if after, ok := strings.CutPrefix(line, "Version "); ok {
			v["dnsperf"] = strings.TrimSpace(after)
		}
	}
	if havenBin != "" {
		v["haven"] = first(havenBin, "version")
	}
	return v
}
