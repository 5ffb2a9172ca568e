package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// target is one server under test.
type target struct {
	name    string
	addr    string
	proc    *proc
	dataDir string // Haven's, when it has one (and so a query log)
}

// bench is one benchmark run: its processes, files and results.
type bench struct {
	opt      *options
	tools    tools
	dir      string
	log      io.Writer // progress, to stderr
	procs    procs
	tick     time.Duration
	upstream *proc
	havenBin string
	self     string // this program, run as the fake upstream, null responder and plain forwarder
	listFile string
	servers  []*target
	list     []string
	files    map[string]string // workload → query file (zipf, mix)
	seed     uint64
	runs     []*runResult
}

func benchMain(args []string, stdout, stderr io.Writer) int {
	opt, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "haven-bench: %v\n", err)
		}
		return 2
	}
	t, missing := findTools(opt.skipUnbound)
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "haven-bench: missing: %s\n%s", strings.Join(missing, ", "), missingHelp)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{opt: opt, tools: t, log: stderr, tick: clockTick(), seed: 20260101}
	rep, err := b.run(ctx)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "haven-bench: interrupted; every process it started is stopped")
			return 130
		}
		fmt.Fprintf(stderr, "haven-bench: %v\n", err)
		return 1
	}
	rep.Command = "haven-bench " + strings.Join(args, " ")
	rep.writeMarkdown(stdout)
	if opt.out != "" {
		if err := rep.writeJSON(opt.out); err != nil {
			fmt.Fprintf(stderr, "haven-bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "wrote %s\n", opt.out)
	}
	return 0
}

// run sets everything up, measures, and always stops what it started.
func (b *bench) run(ctx context.Context) (*report, error) {
	var err error
	if b.dir, err = os.MkdirTemp("", "haven-bench-"); err != nil {
		return nil, err
	}
	if b.opt.keep {
		fmt.Fprintf(b.log, "keeping %s\n", b.dir)
	} else {
		defer os.RemoveAll(b.dir)
	}
	defer b.procs.stopAll()
	if err := b.prepare(ctx); err != nil {
		return nil, err
	}
	for _, w := range b.opt.workloads {
		if err := b.runWorkload(ctx, w); err != nil {
			return nil, err
		}
	}
	return b.report(), nil
}

// runWorkload measures every server on workload w, in fresh processes, so
// that its caches and RSS owe nothing to the workloads before it.
func (b *bench) runWorkload(ctx context.Context, w string) error {
	defer b.procs.stopAll()
	if err := b.startServers(ctx, w); err != nil {
		return err
	}
	if f := b.files[w]; f != "" && b.opt.warmup {
		if err := b.warmup(ctx, w, f); err != nil {
			return err
		}
	}
	for round := 1; round <= b.opt.rounds; round++ {
		// Rotate the order each round, so that no server is always
		// measured right after the same neighbour.
		n := len(b.servers)
		for i := range n {
			t := b.servers[(i+round-1)%n]
			if err := b.measure(ctx, w, t, round); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepare writes the list and query files and builds Haven.
func (b *bench) prepare(ctx context.Context) error {
	var err error
	fmt.Fprintf(b.log, "reading the first %d names of %s\n", b.opt.listSize, b.opt.list)
	if b.list, err = readNames(b.opt.list, b.opt.listSize); err != nil {
		return err
	}
	if len(b.list) < b.opt.listSize {
		fmt.Fprintf(b.log, "note: the list has only %d usable names\n", len(b.list))
	}
	b.listFile = filepath.Join(b.dir, "list.txt")
	if err := writeNames(b.listFile, b.list); err != nil {
		return err
	}
	if err := b.writeWorkloads(); err != nil {
		return err
	}
	b.havenBin = b.opt.havenBin
	if b.havenBin == "" {
		if b.havenBin, err = buildHaven(ctx, b.dir, b.log); err != nil {
			return err
		}
	}
	b.self, err = os.Executable()
	return err
}

// startServers starts the fake upstream and the servers, and checks that
// each answers as expected.
func (b *bench) startServers(ctx context.Context, w string) error {
	b.servers = nil
	up, upAddr, err := b.procs.startResponder(b.self, "upstream")
	if err != nil {
		return fmt.Errorf("fake upstream: %w", err)
	}
	b.upstream = up
	fmt.Fprintf(b.log, "fake upstream on %s (pid %d)\n", upAddr, up.Pid())

	null, nullAddr, err := b.procs.startResponder(b.self, "null")
	if err != nil {
		return fmt.Errorf("null responder: %w", err)
	}
	b.servers = append(b.servers, &target{name: "null", addr: nullAddr, proc: null})

	fwd, fwdAddr, err := b.procs.startResponder(b.self, "fwd", "--upstream", upAddr, "--list", b.listFile)
	if err != nil {
		return fmt.Errorf("plain forwarder: %w", err)
	}
	b.servers = append(b.servers, &target{name: "fwd", addr: fwdAddr, proc: fwd})

	if w == "miss" {
		// The floor of a miss: the same four socket legs, batched, with
		// no work between them.
		relay, relayAddr, err := b.procs.startResponder(b.self, "relay", "--upstream", upAddr)
		if err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		b.servers = append(b.servers, &target{name: "relay", addr: relayAddr, proc: relay})
	}

	if !b.opt.skipUnbound {
		t, err := b.startUnbound(upAddr, w)
		if err != nil {
			return err
		}
		b.servers = append(b.servers, t)
	}
	t, err := b.startHaven(upAddr, w, "haven")
	if err != nil {
		return err
	}
	b.servers = append(b.servers, t)
	if b.opt.havenNoLog {
		t, err := b.startHaven(upAddr, w, "haven-nolog")
		if err != nil {
			return err
		}
		b.servers = append(b.servers, t)
	}
	if b.opt.havenBatch {
		t, err := b.startHaven(upAddr, w, "haven-batch")
		if err != nil {
			return err
		}
		b.servers = append(b.servers, t)
	}
	for _, t := range b.servers {
		if err := waitReady(ctx, t); err != nil {
			return err
		}
		if err := checkAnswers(t, b.list); err != nil {
			return err
		}
		if strings.HasPrefix(t.name, "haven") {
			if err := checkFeatures(t); err != nil {
				return err
			}
		}
		fmt.Fprintf(b.log, "%s ready on %s (pid %d)\n", t.name, t.addr, t.proc.Pid())
	}
	return nil
}

func (b *bench) startUnbound(upstream, w string) (*target, error) {
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.dir, "unbound-"+w)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	conf, err := writeUnboundConfFile(unboundConf{Dir: dir, Listen: listen, Upstream: upstream, Threads: 2, Names: b.list}, b.tools.checkconf)
	if err != nil {
		return nil, err
	}
	p, _, err := b.procs.start("unbound", filepath.Join(dir, "stderr.log"), b.tools.unbound, "-d", "-c", conf)
	if err != nil {
		return nil, err
	}
	return &target{name: "unbound", addr: listen, proc: p}, nil
}

// startHaven starts Haven as server name: "haven" as configured by
// default, with a data directory and so the query log; "haven-nolog"
// without one, so without the log; "haven-batch" as "haven" with
// udp_batch: true.
func (b *bench) startHaven(upstream, w, name string) (*target, error) {
	bin := b.havenBin
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.dir, name+"-"+w)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	hc := havenConf{Listen: listen, Upstream: upstream, List: b.listFile, UDPBatch: name == "haven-batch", Now: time.Now()}
	if name == "haven" || name == "haven-batch" {
		hc.DataDir = filepath.Join(dir, "data")
	}
	conf, err := writeHavenConfFile(dir, hc)
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command(bin, "config", "check", conf).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haven config check %s: %w: %s", conf, err, out)
	}
	p, _, err := b.procs.start(name, filepath.Join(dir, "haven.log"), bin, "serve", "--config", conf)
	if err != nil {
		return nil, err
	}
	return &target{name: name, addr: listen, proc: p, dataDir: hc.DataDir}, nil
}

// warmup sends each server one pass of the workload's file, so that
// round 1 measures warm caches like the rounds after it.
func (b *bench) warmup(ctx context.Context, w, file string) error {
	for _, t := range b.servers {
		fmt.Fprintf(b.log, "warm-up %s %s\n", w, t.name)
		_, err := runPerf(ctx, perfArgs{addr: t.addr, file: file, clients: b.opt.clients, outstanding: b.opt.outstanding, timeout: 3 * time.Second})
		if err != nil {
			return fmt.Errorf("warm-up %s %s: %w", w, t.name, err)
		}
	}
	return nil
}

// measure runs workload w against t: once as fast as it answers, once at
// the fixed latency rate.
func (b *bench) measure(ctx context.Context, w string, t *target, round int) error {
	kinds := []string{"max"}
	if b.opt.latencyQPS > 0 {
		kinds = append(kinds, "fixed")
	}
	for _, kind := range kinds {
		a := perfArgs{addr: t.addr, clients: b.opt.clients, outstanding: b.opt.outstanding, duration: b.opt.duration, timeout: 3 * time.Second}
		if kind == "fixed" {
			a.rate, a.verbose = b.opt.latencyQPS, true
		}
		file, lines, err := b.queryFile(w, t.name, round, kind)
		if err != nil {
			return err
		}
		a.file = file
		r, err := b.measureOne(ctx, t, a)
		if err != nil {
			return fmt.Errorf("round %d %s %s %s: %w", round, w, t.name, kind, err)
		}
		r.Workload, r.Server, r.Round, r.Kind = w, t.name, round, kind
		// The null responder and the relay cache nothing, so a name asked
		// twice costs them the same.
		r.Wrapped = w == "miss" && t.name != "null" && t.name != "relay" && r.Sent > int64(lines)
		b.runs = append(b.runs, r)
		fmt.Fprintf(b.log, "round %d %-4s %-11s %-5s %8.0f qps  %6.1f µs/q  upstream %5.1f µs/q  %6.1f MB  lost %d  others %3.0f%% CPU",
			round, w, t.name, kind, r.QPS, r.CPUPerQueryUS, r.UpstreamCPUPerQueryUS, float64(r.RSSBytes)/(1<<20), r.Lost, 100*r.OtherCPUShare)
		if kind == "fixed" {
			fmt.Fprintf(b.log, "  p50 %.3f ms  p99 %.3f ms", r.P50MS, r.P99MS)
		}
		fmt.Fprintln(b.log)
		time.Sleep(500 * time.Millisecond) // let sockets drain before the next run
	}
	return nil
}

// measureOne runs dnsperf once and reads the CPU time of the server, the
// fake upstream and the whole machine around it.
func (b *bench) measureOne(ctx context.Context, t *target, a perfArgs) (*runResult, error) {
	for _, p := range []*proc{t.proc, b.upstream} {
		if err := p.alive(); err != nil {
			return nil, err
		}
	}
	before, err := b.cpuSnapshot(t)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res, err := runPerf(ctx, a)
	if err != nil {
		return nil, err
	}
	wall := time.Since(start)
	after, err := b.cpuSnapshot(t)
	if err != nil {
		return nil, err
	}
	mem, err := rss(t.proc.Pid())
	if err != nil {
		return nil, err
	}
	r := &runResult{QPS: res.QPS, Sent: res.Sent, Completed: res.Completed, Lost: res.Lost, Rcodes: res.Rcodes, RSSBytes: mem}
	server, upstream := after[0]-before[0], after[1]-before[1]
	if res.Completed > 0 {
		n := float64(res.Completed)
		r.CPUPerQueryUS = float64(server.Microseconds()) / n
		r.UpstreamCPUPerQueryUS = float64(upstream.Microseconds()) / n
	}
	// Whatever else ran: other users of this shared machine, mostly.
	other := (after[3] - before[3]) - server - upstream - (after[2] - before[2]) - res.CPU
	r.OtherCPUShare = max(0, other.Seconds()/(wall.Seconds()*float64(runtime.NumCPU())))
	if a.verbose {
		r.P50MS, r.P99MS = 1000*res.percentile(0.50), 1000*res.percentile(0.99)
	}
	return r, nil
}

// cpuSnapshot reads the CPU time used so far by t, the fake upstream, this
// program and the whole machine, in that order.
func (b *bench) cpuSnapshot(t *target) ([4]time.Duration, error) {
	var s [4]time.Duration
	var err error
	for i, pid := range []int{t.proc.Pid(), b.upstream.Pid(), os.Getpid()} {
		if s[i], err = cpuTime(pid, b.tick); err != nil {
			return s, err
		}
	}
	s[3], err = busyTime(b.tick)
	return s, err
}

func (b *bench) report() *report {
	names := []string{}
	for _, t := range []string{"null", "fwd", "relay", "unbound", "haven", "haven-nolog", "haven-batch"} {
		for _, s := range b.servers {
			if s.name == t {
				names = append(names, t)
			}
		}
	}
	rep := &report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machineInfo(runtime.NumCPU()),
		Settings: map[string]any{
			"rounds": b.opt.rounds, "duration_s": b.opt.duration.Seconds(), "latency_qps": b.opt.latencyQPS,
			"clients": b.opt.clients, "outstanding": b.opt.outstanding, "list": b.opt.list, "list_names": len(b.list),
			"queries": b.opt.queries, "zipf_s": b.opt.zipfS, "warmup": b.opt.warmup, "haven_nolog": b.opt.havenNoLog, "haven_batch": b.opt.havenBatch,
		},
		Runs: b.runs,
	}
	for k, v := range versions(b.tools, b.havenBin) {
		rep.Machine[k] = v
	}
	for _, w := range b.opt.workloads {
		wr := &workloadReport{Name: w, Description: describe(w, b.opt), Servers: summarize(b.runs, w, names, b.opt.latencyQPS)}
		var other []float64
		for _, r := range b.runs {
			if r.Workload == w {
				other = append(other, r.OtherCPUShare)
			}
		}
		if len(other) > 0 {
			wr.OtherCPUMedian, wr.OtherCPUMax = median(other), slices.Max(other)
		}
		rep.Workloads = append(rep.Workloads, wr)
	}
	return rep
}
