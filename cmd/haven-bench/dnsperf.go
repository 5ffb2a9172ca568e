package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// perfResult is what one dnsperf run reports.
type perfResult struct {
	Sent, Completed, Lost int64
	QPS                   float64
	AvgLatency            float64          // seconds
	Rcodes                map[string]int64 // "NOERROR" → count
	// Latencies (seconds) of every answered query, sorted; only with -v.
	Latencies []float64     `json:"-"`
	Timeouts  int64         // "> T" lines, only with -v
	CPU       time.Duration // dnsperf's own CPU time
}

// percentile returns the p-quantile (0 < p ≤ 1) of the answered queries'
// latencies by the nearest-rank method, or 0 without them.
func (r *perfResult) percentile(p float64) float64 {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.Latencies)))) - 1
	return r.Latencies[max(i, 0)]
}

// perfArgs are dnsperf's arguments for one run against addr.
type perfArgs struct {
	addr        string // 127.0.0.1:PORT
	file        string
	clients     int
	outstanding int
	duration    time.Duration // 0 = one pass through the file (-n 1)
	rate        int           // queries per second; 0 = as fast as the server answers
	timeout     time.Duration
	verbose     bool // one line per query: the per-query latencies
}

func (a perfArgs) argv() ([]string, error) {
	host, port, err := net.SplitHostPort(a.addr)
	if err != nil {
		return nil, err
	}
	argv := []string{"dnsperf", "-s", host, "-p", port, "-d", a.file,
		"-c", strconv.Itoa(a.clients), "-q", strconv.Itoa(a.outstanding),
		"-t", strconv.Itoa(max(1, int(a.timeout/time.Second)))}
	if a.duration > 0 {
		argv = append(argv, "-l", strconv.FormatFloat(a.duration.Seconds(), 'f', -1, 64))
	} else {
		argv = append(argv, "-n", "1")
	}
	if a.rate > 0 {
		argv = append(argv, "-Q", strconv.Itoa(a.rate))
	}
	if a.verbose {
		argv = append(argv, "-v")
	}
	return argv, nil
}

// runPerf runs dnsperf and parses its report. Its output is read as it
// comes, so a verbose run keeps only the latencies, not the text.
func runPerf(ctx context.Context, a perfArgs) (*perfResult, error) {
	argv, err := a.argv()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	var cpu time.Duration
	go func() {
		var err error
		cpu, err = runCmd(ctx, pw, &stderr, argv...)
		pw.CloseWithError(err)
		done <- err
	}()
	res, perr := parsePerf(pr)
	_, _ = io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	if perr != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), perr)
	}
	res.CPU = cpu
	return res, nil
}

// parsePerf reads dnsperf 2.x output: the statistics block, and with -v
// one line per query, "> RCODE NAME TYPE SECONDS" or "> T NAME TYPE" for a
// timeout.
func parsePerf(r io.Reader) (*perfResult, error) {
	res := &perfResult{Rcodes: map[string]int64{}}
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "> "); ok {
			f := strings.Fields(rest)
			switch {
			case len(f) == 3 && f[0] == "T":
				res.Timeouts++
			case len(f) == 4:
				v, err := strconv.ParseFloat(f[3], 64)
				if err != nil {
					return nil, fmt.Errorf("latency in %q: %w", line, err)
				}
				res.Latencies = append(res.Latencies, v)
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Queries sent":
			res.Sent, err = firstInt(val)
			seen++
		case "Queries completed":
			res.Completed, err = firstInt(val)
			seen++
		case "Queries lost":
			res.Lost, err = firstInt(val)
			seen++
		case "Queries per second":
			res.QPS, err = strconv.ParseFloat(val, 64)
			seen++
		case "Average Latency (s)":
			res.AvgLatency, err = strconv.ParseFloat(strings.Fields(val)[0], 64)
		case "Response codes":
			err = parseRcodes(val, res.Rcodes)
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if seen < 4 {
		return nil, fmt.Errorf("no statistics in dnsperf output")
	}
	slices.Sort(res.Latencies)
	return res, nil
}

func firstInt(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("no number")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// parseRcodes reads "NOERROR 900 (90.00%), NXDOMAIN 100 (10.00%)".
func parseRcodes(s string, into map[string]int64) error {
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return err
		}
		into[f[0]] = n
	}
	return nil
}
