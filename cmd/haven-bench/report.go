package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// runResult is one dnsperf run against one server.
type runResult struct {
	Workload string `json:"workload"`
	Server   string `json:"server"`
	Round    int    `json:"round"`
	Kind     string `json:"kind"` // "max": as fast as it goes; "fixed": at --latency-qps

	QPS       float64          `json:"qps"`
	Sent      int64            `json:"sent"`
	Completed int64            `json:"completed"`
	Lost      int64            `json:"lost"`
	Rcodes    map[string]int64 `json:"rcodes"`
	// Server CPU (user+system, all threads) per completed query.
	CPUPerQueryUS float64 `json:"cpu_us_per_query"`
	// The fake upstream's CPU per completed query: the cost of what the
	// server sent upstream.
	UpstreamCPUPerQueryUS float64 `json:"upstream_cpu_us_per_query"`
	RSSBytes              int64   `json:"rss_bytes"` // after the run
	P50MS                 float64 `json:"p50_ms,omitempty"`
	P99MS                 float64 `json:"p99_ms,omitempty"`
	// Wrapped is set when a miss run sent more queries than its file held,
	// so that some names were asked twice.
	Wrapped bool `json:"wrapped,omitempty"`
	// OtherCPUShare is the share of the machine's CPU (all cores) used
	// during the run by everything but the server, the fake upstream,
	// dnsperf and haven-bench: the noise of a shared machine.
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// summary is one server's figures for one workload, over the rounds.
type summary struct {
	Server         string  `json:"server"`
	QPSMedian      float64 `json:"qps_median"`
	QPSMin         float64 `json:"qps_min"`
	QPSMax         float64 `json:"qps_max"`
	FixedQPS       float64 `json:"fixed_qps_median"` // what the fixed-rate runs achieved
	P50MS          float64 `json:"p50_ms_median"`
	P99MS          float64 `json:"p99_ms_median"`
	CPUPerQueryUS  float64 `json:"cpu_us_per_query_median"`
	FixedCPUUS     float64 `json:"fixed_cpu_us_per_query_median"`
	UpstreamCPUUS  float64 `json:"upstream_cpu_us_per_query_median"`
	RSSMB          float64 `json:"rss_mb_max"`
	Lost           int64   `json:"lost"` // over every run, max and fixed
	NXDomainShare  float64 `json:"nxdomain_share"`
	QPSVsUnbound   float64 `json:"qps_vs_unbound,omitempty"`
	CPUVsUnbound   float64 `json:"cpu_vs_unbound,omitempty"`
	QPSVsNull      float64 `json:"qps_vs_null,omitempty"`
	CPUVsNull      float64 `json:"cpu_vs_null,omitempty"`
	QPSVsFwd       float64 `json:"qps_vs_fwd,omitempty"`
	CPUVsFwd       float64 `json:"cpu_vs_fwd,omitempty"`
	Wrapped        bool    `json:"wrapped,omitempty"`
	FixedSaturated bool    `json:"fixed_saturated,omitempty"` // fixed runs fell >5% short of the rate
}

// workloadReport is the table of one workload.
type workloadReport struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Servers     []*summary `json:"servers"`
	// The share of the machine's CPU other processes used during the
	// workload's runs.
	OtherCPUMedian float64 `json:"other_cpu_share_median"`
	OtherCPUMax    float64 `json:"other_cpu_share_max"`
}

// report is everything one benchmark run found; it is also the JSON.
type report struct {
	Date      string            `json:"date"`
	Command   string            `json:"command"`
	Machine   map[string]string `json:"machine"`
	Settings  map[string]any    `json:"settings"`
	Workloads []*workloadReport `json:"workloads"`
	Runs      []*runResult      `json:"runs"`
}

// median is 0 for no values, so that the JSON stays valid (no NaN).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarize builds the per-server figures of one workload from its runs,
// servers in the given order, with ratios against unbound, null and fwd
// when they were measured.
func summarize(runs []*runResult, workload string, servers []string, fixedRate int) []*summary {
	var out []*summary
	by := map[string]*summary{}
	for _, name := range servers {
		s := &summary{Server: name}
		var qps, fixedQPS, p50, p99, cpu, fixedCPU, upCPU []float64
		var completed, nx int64
		for _, r := range runs {
			if r.Workload != workload || r.Server != name {
				continue
			}
			s.Lost += r.Lost
			s.RSSMB = max(s.RSSMB, float64(r.RSSBytes)/(1<<20))
			s.Wrapped = s.Wrapped || r.Wrapped
			if r.Kind == "fixed" {
				fixedQPS = append(fixedQPS, r.QPS)
				p50 = append(p50, r.P50MS)
				p99 = append(p99, r.P99MS)
				fixedCPU = append(fixedCPU, r.CPUPerQueryUS)
				continue
			}
			qps = append(qps, r.QPS)
			cpu = append(cpu, r.CPUPerQueryUS)
			upCPU = append(upCPU, r.UpstreamCPUPerQueryUS)
			completed += r.Completed
			nx += r.Rcodes["NXDOMAIN"]
		}
		if len(qps) == 0 {
			continue
		}
		s.QPSMedian, s.QPSMin, s.QPSMax = median(qps), slices.Min(qps), slices.Max(qps)
		s.FixedQPS, s.P50MS, s.P99MS = median(fixedQPS), median(p50), median(p99)
		s.CPUPerQueryUS, s.FixedCPUUS, s.UpstreamCPUUS = median(cpu), median(fixedCPU), median(upCPU)
		s.FixedSaturated = fixedRate > 0 && s.FixedQPS < 0.95*float64(fixedRate)
		if completed > 0 {
			s.NXDomainShare = float64(nx) / float64(completed)
		}
		by[name] = s
		out = append(out, s)
	}
	for _, s := range out {
		if u := by["unbound"]; u != nil {
			s.QPSVsUnbound, s.CPUVsUnbound = div(s.QPSMedian, u.QPSMedian), div(s.CPUPerQueryUS, u.CPUPerQueryUS)
		}
		if n := by["null"]; n != nil {
			s.QPSVsNull, s.CPUVsNull = div(s.QPSMedian, n.QPSMedian), div(s.CPUPerQueryUS, n.CPUPerQueryUS)
		}
		if f := by["fwd"]; f != nil {
			s.QPSVsFwd, s.CPUVsFwd = div(s.QPSMedian, f.QPSMedian), div(s.CPUPerQueryUS, f.CPUPerQueryUS)
		}
	}
	return out
}

// div is a/b, or 0 (shown as "–", left out of the JSON) when b is 0.
func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// writeMarkdown prints one table per workload.
func (r *report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "haven-bench, %s\n\n", r.Date)
	fmt.Fprintf(w, "`%s`\n\n", r.Command)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Machine {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(w, "- %s: %s\n", k, r.Machine[k])
	}
	fixed := r.Settings["latency_qps"]
	for _, wl := range r.Workloads {
		fmt.Fprintf(w, "\n### %s\n\n%s\n\n", wl.Name, wl.Description)
		fmt.Fprintf(w, "| server | qps median [min–max] | p50 / p99 ms @%v qps | CPU µs/q max load | CPU µs/q @%v | RSS MB | lost | NXDOMAIN | qps ×Unbound | CPU/q ×Unbound | qps ×fwd | CPU/q ×fwd | qps ×null | CPU/q ×null |\n", fixed, fixed)
		fmt.Fprintf(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range wl.Servers {
			lat := fmt.Sprintf("%.2f / %.2f", s.P50MS, s.P99MS)
			if s.FixedSaturated {
				lat += fmt.Sprintf(" (only %.0f qps)", s.FixedQPS)
			}
			name := s.Server
			if s.Wrapped {
				name += " †"
			}
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.1f | %.1f | %.1f | %d | %.1f%% | %s | %s | %s | %s | %s | %s |\n",
				name, s.QPSMedian, s.QPSMin, s.QPSMax, lat, s.CPUPerQueryUS, s.FixedCPUUS, s.RSSMB, s.Lost,
				100*s.NXDomainShare, ratio(s.QPSVsUnbound), ratio(s.CPUVsUnbound), ratio(s.QPSVsFwd), ratio(s.CPUVsFwd),
				ratio(s.QPSVsNull), ratio(s.CPUVsNull))
		}
		fmt.Fprintf(w, "\nOther processes on the machine used %.0f%% of its CPU during these runs (median; max %.0f%%).\n",
			100*wl.OtherCPUMedian, 100*wl.OtherCPUMax)
	}
	for _, wl := range r.Workloads {
		for _, s := range wl.Servers {
			if s.Wrapped {
				fmt.Fprintf(w, "\n† %s/%s: a run sent more queries than its file of new names held, so some were asked twice; raise --miss-qps.\n", wl.Name, s.Server)
			}
		}
	}
}

func ratio(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// writeJSON writes the report to path.
func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// machineInfo describes where the benchmark ran.
func machineInfo(cpus int) map[string]string {
	m := map[string]string{"cpus": fmt.Sprint(cpus)}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
