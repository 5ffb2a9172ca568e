package blocklist

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// Environment of the child process of BenchmarkLoadRSS: the list file the
// Store reads, the versions that replace it one after the other, and
// whether the Store has a DataDir.
const (
	rssChildEnv    = "HAVEN_RSS_CHILD"
	rssVersionsEnv = "HAVEN_RSS_VERSIONS" // name=path,name=path...
	rssMemoryEnv   = "HAVEN_RSS_MEMORY"
)

// procMemory returns VmHWM (peak resident set) and VmRSS of this process,
// in bytes.
func procMemory(tb testing.TB) (hwm, rss int64) {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = kb << 10
		case "VmRSS:":
			rss = kb << 10
		}
	}
	if hwm == 0 || rss == 0 {
		tb.Skip("no VmHWM/VmRSS in /proc/self/status")
	}
	return hwm, rss
}

// settledRSS is the resident set once the garbage of a build is collected
// and returned to the system, which the runtime's scavenger otherwise does
// over the following minutes.
func settledRSS(tb testing.TB) int64 {
	runtime.GC()
	debug.FreeOSMemory()
	_, rss := procMemory(tb)
	return rss
}

// resetPeak sets VmHWM to the current resident set (Linux 4.0+).
func resetPeak() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

// TestLoadRSSChild is the child process of BenchmarkLoadRSS: a fresh
// process that loads the large list from a file into a Store, then
// refreshes it with every version in turn (the file replaced by the next
// version, then Refresh, with the old Matcher serving), then rebuilds it
// with every name's facts changed (the source made exact). It prints the
// resident set settled before each step and the peak during it.
func TestLoadRSSChild(t *testing.T) {
	if os.Getenv(rssChildEnv) == "" {
		t.Skip("run as a child process by BenchmarkLoadRSS")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "list.txt.gz")
	data, err := os.ReadFile(filepath.Join(fullDataDir(t), largeList))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	data = nil
	opt := StoreOptions{DataDir: t.TempDir()}
	if os.Getenv(rssMemoryEnv) != "" {
		opt.DataDir = ""
	}
	src := []Source{{Category: "all", Path: path}}
	s := NewStore(opt)
	if err := s.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	report := func(step string, before int64, f func()) {
		if !resetPeak() {
			t.Skip("cannot reset VmHWM")
		}
		f()
		peak, _ := procMemory(t)
		fmt.Fprintf(&out, " %s=%d,%d", step, before, peak)
	}
	report("load", settledRSS(t), func() { s.Load(ctx) })
	if n := s.Matcher().Len(); n < 700_000 {
		t.Fatalf("Len() = %d, want about 730,000", n)
	}
	for _, v := range strings.Split(os.Getenv(rssVersionsEnv), ",") {
		name, file, _ := strings.Cut(v, "=")
		next := path + ".next"
		copyFile(t, file, next)
		report(name, settledRSS(t), func() {
			if err := os.Rename(next, path); err != nil {
				t.Fatal(err)
			}
			if err := s.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	report("all-facts", settledRSS(t), func() {
		src[0].Exact = true
		if err := s.SetSources(ctx, src); err != nil {
			t.Fatal(err)
		}
	})
	end := settledRSS(t)
	runtime.KeepAlive(s)
	fmt.Printf("rss%s end=%d,%d\n", out.String(), end, end)
}

// copyFile copies a file through a small buffer, so that it costs the
// process no memory to speak of.
func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// rssVersions writes the versions of the large list the child refreshes
// to, and returns them as rssVersionsEnv wants them: "one-name" adds one
// name (a second gzip member, as BenchmarkRefreshLarge does), "churn-1pct"
// is churnList's version.
func rssVersions(b *testing.B) string {
	dir := b.TempDir()
	large := readLarge(b)
	base, err := os.ReadFile(filepath.Join(fullDataDir(b), largeList))
	if err != nil {
		b.Fatal(err)
	}
	one := append(base[:len(base):len(base)], gzipBytes(b, "bench1.example.com\n")...)
	var versions []string
	for _, v := range []struct {
		name string
		data []byte
	}{
		{"one-name", one},
		{"churn-1pct", gzipBytes(b, string(churnList(large)))},
	} {
		p := filepath.Join(dir, v.name+".gz")
		if err := os.WriteFile(p, v.data, 0o644); err != nil {
			b.Fatal(err)
		}
		versions = append(versions, v.name+"="+p)
	}
	return strings.Join(versions, ",")
}

// BenchmarkLoadRSS runs TestLoadRSSChild in a child process and reports
// its resident set: the peak of each step over the resident set settled
// before it (peak/steady), and the steady resident set after the load.
// The child is a fresh process so that its peaks are its own, not those
// of whatever ran before; VmHWM sees every page, where heap sampling can
// miss a short peak.
func BenchmarkLoadRSS(b *testing.B) {
	fullDataDir(b)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	versions := rssVersions(b)
	for _, mode := range []string{"disk", "memory"} {
		b.Run(mode, func(b *testing.B) {
			var steps [][3]string
			for b.Loop() {
				cmd := exec.Command(exe, "-test.run=^TestLoadRSSChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), rssChildEnv+"=1", rssVersionsEnv+"="+versions)
				if mode == "memory" {
					cmd.Env = append(cmd.Env, rssMemoryEnv+"=1")
				}
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				steps = parseRSS(b, out)
			}
			// The steady state of a step is the one settled before the
			// next (for the load) or before the step itself.
			const mib = 1 << 20
			for i, st := range steps {
				before, _ := strconv.ParseFloat(st[1], 64)
				peak, _ := strconv.ParseFloat(st[2], 64)
				switch {
				case st[0] == "end":
				case st[0] == "load" && i+1 < len(steps):
					steady, _ := strconv.ParseFloat(steps[i+1][1], 64)
					b.ReportMetric(steady/mib, "steady-MiB")
					b.ReportMetric(peak/mib, "load-peak-MiB")
					b.ReportMetric(peak/steady, "load-peak/steady")
				default:
					b.ReportMetric(peak/before, st[0]+"-peak/steady")
				}
			}
		})
	}
}

// parseRSS reads the child's "rss step=before,peak ..." line.
func parseRSS(tb testing.TB, out []byte) [][3]string {
	i := bytes.Index(out, []byte("rss "))
	if i < 0 {
		tb.Fatalf("child printed no figures:\n%s", out)
	}
	line, _, _ := bytes.Cut(out[i+4:], []byte("\n"))
	var steps [][3]string
	for _, f := range strings.Fields(string(line)) {
		name, v, _ := strings.Cut(f, "=")
		before, peak, _ := strings.Cut(v, ",")
		steps = append(steps, [3]string{name, before, peak})
	}
	return steps
}

// churnList returns a version of a list of names with 1% of them dropped
// and another 1% replaced by a new name next to each (NAME becomes
// new-NAME): the kind of change a day brings to a big list, spread over
// all of it.
func churnList(list []byte) []byte {
	var churn bytes.Buffer
	for i, l := range bytes.Split(list, []byte("\n")) {
		switch {
		case len(l) == 0 || l[0] == '#':
		case i%100 == 0:
			continue
		case i%100 == 50:
			churn.WriteString("new-")
		}
		churn.Write(l)
		churn.WriteByte('\n')
	}
	return churn.Bytes()
}
