package main

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStatTicks(t *testing.T) {
	const rest = " S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 15"
	for _, tt := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"42 (haven)" + rest, 333, true},
		{"42 (a b) c))" + rest, 333, true},
		{"42 haven" + rest, 0, false},
		{"42 (haven) S 1 2", 0, false},
		{"42 (haven) S 1 2 3 4 5 6 7 8 9 10 x 222 13", 0, false},
	} {
		got, err := parseStatTicks(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseStatTicks(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Name:\thaven\nVmRSS:\t   40960 kB\nVmData: 1 kB\n", 40960 * 1024, true},
		{"Name:\tkthreadd\n", 0, false},
		{"VmRSS:\t40 MB\n", 0, false},
	} {
		got, err := parseStatusRSS(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseStatusRSS(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestProcSelf reads this process's own /proc files, so that a kernel
// whose format the parsers misread fails here rather than mid-benchmark.
func TestProcSelf(t *testing.T) {
	tick := clockTick()
	if tick < time.Millisecond || tick > 100*time.Millisecond {
		t.Errorf("clock tick %v: want USER_HZ between 10 and 1000", tick)
	}
	if _, err := cpuTime(os.Getpid(), tick); err != nil {
		t.Error(err)
	}
	if n, err := rss(os.Getpid()); err != nil || n < 1<<20 || n > 1<<34 {
		t.Errorf("rss = %d, %v: want a plausible size", n, err)
	}
	busy, err := busyTime(tick)
	if err != nil || busy <= 0 {
		t.Errorf("busyTime = %v, %v", busy, err)
	}
	if _, err := parseProcStatBusy("intr 1 2 3\n"); err == nil {
		t.Error("parseProcStatBusy accepted a file without a cpu line")
	}
	if got, _ := parseProcStatBusy("cpu  1 2 3 1000 2000 4 5 6 7 0\ncpu0 1 2 3 4 5 6 7 8\n"); got != 21 {
		t.Errorf("parseProcStatBusy = %d, want 21 (all but idle and iowait)", got)
	}
}

const perfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 15353 -d q.txt -n 2 -v
> NOERROR a.example.com A 0.001529
> NXDOMAIN b.example.com A 0.000291
> NOERROR test. A 0.000103
> T example. A
[Status] Testing complete (end of file)

Statistics:

  Queries sent:         4
  Queries completed:    3 (75.00%)
  Queries lost:         1 (25.00%)

  Response codes:       NOERROR 2 (66.67%), NXDOMAIN 1 (33.33%)
  Average packet size:  request 27, response 53
  Run time (s):         0.002722
  Queries per second:   2204.261572

  Average Latency (s):  0.000361 (min 0.000047, max 0.001529)
  Latency StdDev (s):   0.000579
`

func TestParsePerf(t *testing.T) {
	r, err := parsePerf(strings.NewReader(perfOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 4 || r.Completed != 3 || r.Lost != 1 || r.QPS != 2204.261572 || r.AvgLatency != 0.000361 || r.Timeouts != 1 {
		t.Errorf("parsed %+v", r)
	}
	if r.Rcodes["NOERROR"] != 2 || r.Rcodes["NXDOMAIN"] != 1 {
		t.Errorf("rcodes %v", r.Rcodes)
	}
	if !slices.Equal(r.Latencies, []float64{0.000103, 0.000291, 0.001529}) {
		t.Errorf("latencies %v, want sorted", r.Latencies)
	}
	if p50, p99 := r.percentile(0.5), r.percentile(0.99); p50 != 0.000291 || p99 != 0.001529 {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
	if _, err := parsePerf(strings.NewReader("Error: could not open q.txt\n")); err == nil {
		t.Error("output without statistics parsed")
	}
}

func TestPerfArgs(t *testing.T) {
	a := perfArgs{addr: "127.0.0.1:5353", file: "q", clients: 8, outstanding: 150, duration: 10 * time.Second, rate: 20000, timeout: 3 * time.Second, verbose: true}
	got, err := a.argv()
	if err != nil {
		t.Fatal(err)
	}
	want := "dnsperf -s 127.0.0.1 -p 5353 -d q -c 8 -q 150 -t 3 -l 10 -Q 20000 -v"
	if strings.Join(got, " ") != want {
		t.Errorf("argv %q, want %q", strings.Join(got, " "), want)
	}
	a.duration, a.rate, a.verbose = 0, 0, false
	got, _ = a.argv()
	if !strings.HasSuffix(strings.Join(got, " "), "-t 3 -n 1") {
		t.Errorf("one pass: argv %q", got)
	}
}

func TestSummarize(t *testing.T) {
	var runs []*runResult
	add := func(server, kind string, qps, cpu, p99 float64) {
		runs = append(runs, &runResult{Workload: "zipf", Server: server, Kind: kind, QPS: qps, CPUPerQueryUS: cpu, P99MS: p99,
			Completed: 100, Rcodes: map[string]int64{"NXDOMAIN": 10}, RSSBytes: 10 << 20})
	}
	for _, q := range []float64{100, 300, 200} {
		add("unbound", "max", q, 4, 0)
		add("haven", "max", q/2, 12, 0)
		add("fwd", "max", q/4, 6, 0)
	}
	add("haven", "fixed", 15000, 20, 9)
	s := summarize(runs, "zipf", []string{"null", "fwd", "unbound", "haven"}, 20000)
	if len(s) != 3 || s[0].Server != "fwd" || s[1].Server != "unbound" || s[2].Server != "haven" {
		t.Fatalf("servers %v", s)
	}
	h := s[2]
	if h.QPSMedian != 100 || h.QPSMin != 50 || h.QPSMax != 150 || h.QPSVsUnbound != 0.5 || h.CPUVsUnbound != 3 || h.QPSVsNull != 0 || h.QPSVsFwd != 2 || h.CPUVsFwd != 2 {
		t.Errorf("haven %+v", h)
	}
	if h.P99MS != 9 || !h.FixedSaturated || h.NXDomainShare != 0.1 || h.RSSMB != 10 {
		t.Errorf("haven %+v", h)
	}
	if median([]float64{3, 1, 2, 10}) != 2.5 || median(nil) != 0 || math.IsNaN(div(1, 0)) {
		t.Error("median/div")
	}
}
