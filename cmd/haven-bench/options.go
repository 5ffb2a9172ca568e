package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// options are the benchmark's flags.
type options struct {
	rounds      int
	duration    time.Duration
	quick       bool
	skipUnbound bool
	list        string
	listSize    int
	out         string
	workloads   []string
	latencyQPS  int
	clients     int
	outstanding int
	queries     int
	zipfS       float64
	missQPS     int
	havenBin    string
	havenNoLog  bool
	havenBatch  bool
	keep        bool
	warmup      bool
	testdata    string
}

// defaultList is the blocklist, relative to $HAVEN_TESTDATA.
const defaultList = "blocklists/large/blocklistproject_all-nl_concat_ee3bdbad.txt.gz"

var allWorkloads = []string{"zipf", "mix", "miss"}

var errUsage = errors.New("usage")

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("haven-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.rounds, "rounds", 3, "measurement rounds (each server and workload once per round)")
	secs := fs.Float64("duration", 10, "length of each dnsperf run, in `seconds`")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 1 round of 3 s, zipf only")
	fs.BoolVar(&o.skipUnbound, "skip-unbound", false, "run without Unbound (no Unbound column)")
	fs.StringVar(&o.list, "list", "", "blocklist `file` (one name a line or hosts; .gz ok); default: $HAVEN_TESTDATA/"+defaultList)
	fs.IntVar(&o.listSize, "list-size", 100000, "use the first `N` names of the list")
	fs.StringVar(&o.out, "out", "", "also write the results as JSON to `file`")
	wl := fs.String("workloads", strings.Join(allWorkloads, ","), "comma-separated workloads: zipf, mix, miss")
	fs.IntVar(&o.latencyQPS, "latency-qps", 20000, "rate of the fixed-load latency runs (0: none)")
	fs.IntVar(&o.clients, "clients", 8, "dnsperf -c: client sockets")
	// dnsperf sends -q queries in one burst when it starts, with or
	// without -Q; beyond ~190 they overflow the default 208 KiB receive
	// buffer of a one-socket server (Haven's, the null responder's), and
	// the losses would be an artefact of the tool, not of the server.
	fs.IntVar(&o.outstanding, "outstanding", 150, "dnsperf -q: most queries in flight")
	fs.IntVar(&o.queries, "queries", 200000, "lines in the zipf and mix query files")
	fs.Float64Var(&o.zipfS, "zipf-s", 1.0, "Zipf exponent of the zipf workload")
	fs.IntVar(&o.missQPS, "miss-qps", 150000, "fastest rate a server is expected to reach on miss; sizes its files of new names")
	fs.StringVar(&o.havenBin, "haven", "", "Haven `binary` to run instead of building ./cmd/haven")
	fs.BoolVar(&o.havenNoLog, "haven-nolog", false, "also measure Haven without data_dir, so without the query log, as server haven-nolog")
	fs.BoolVar(&o.havenBatch, "haven-batch", false, "also measure Haven with udp_batch: true (otherwise as haven), as server haven-batch")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs, query files)")
	fs.BoolVar(&o.warmup, "warmup", true, "before measuring, send each server one pass of the zipf and mix files")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "haven-bench: unexpected argument %q\n", fs.Arg(0))
		return nil, errUsage
	}
	o.duration = time.Duration(*secs * float64(time.Second))
	o.workloads = strings.Split(*wl, ",")
	if o.quick {
		o.rounds, o.duration, o.workloads = 1, 3*time.Second, []string{"zipf"}
	}
	for _, w := range o.workloads {
		if !slices.Contains(allWorkloads, w) {
			return nil, fmt.Errorf("--workloads: unknown workload %q (want %s)", w, strings.Join(allWorkloads, ", "))
		}
	}
	switch {
	case o.rounds < 1:
		return nil, errors.New("--rounds must be at least 1")
	case o.duration < time.Second:
		return nil, errors.New("--duration must be at least 1 second")
	case o.listSize < 1, o.queries < 1, o.clients < 1, o.outstanding < 1, o.missQPS < 1:
		return nil, errors.New("--list-size, --queries, --clients, --outstanding and --miss-qps must be positive")
	case o.latencyQPS < 0:
		return nil, errors.New("--latency-qps must not be negative")
	}
	o.testdata = os.Getenv("HAVEN_TESTDATA")
	if o.testdata == "" {
		return nil, errors.New(`HAVEN_TESTDATA is not set.
The query workloads are built from $HAVEN_TESTDATA/queries/ and the default
blocklist is $HAVEN_TESTDATA/` + defaultList + `.
Point it at the shared data set, e.g.:
  HAVEN_TESTDATA=../shared/data go run ./cmd/haven-bench --quick`)
	}
	if o.list == "" {
		o.list = filepath.Join(o.testdata, defaultList)
	}
	return o, nil
}

// tools are the external programs the benchmark runs.
type tools struct {
	dnsperf, unbound, checkconf string // "" for unbound ones with --skip-unbound
}

// findTools looks the programs up and returns the names of those missing.
// It installs nothing: benchMain reports what is missing with the command
// that installs it.
func findTools(skipUnbound bool) (tools, []string) {
	var t tools
	var missing []string
	look := func(name string) string {
		p := lookTool(name)
		if p == "" {
			missing = append(missing, name)
		}
		return p
	}
	t.dnsperf = look("dnsperf")
	if !skipUnbound {
		t.unbound = look("unbound")
		t.checkconf = look("unbound-checkconf")
	}
	return t, missing
}

// lookTool finds a program on PATH or in /usr/sbin and /usr/local/sbin
// (where Debian puts unbound, and which a normal user's PATH may lack); ""
// if it is nowhere.
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// missingHelp is printed when tools are missing.
const missingHelp = `haven-bench installs nothing itself. Install them with:
  sudo apt-get install dnsperf unbound
(or run with --skip-unbound to leave out the Unbound column; dnsperf is
always needed). If the package starts a system Unbound on port 53, it does
not get in the way: the benchmark runs its own on a free loopback port.
`
