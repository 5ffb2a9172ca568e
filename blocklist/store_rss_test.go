package blocklist

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// rssChildEnv makes TestLoadRSSChild run: BenchmarkLoadRSS sets it for the
// child process it starts.
const rssChildEnv = "HAVEN_RSS_CHILD"

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

// TestLoadRSSChild is the child process of BenchmarkLoadRSS: a fresh
// process that loads the large list from a file into a Store, then
// rebuilds it once (as a refresh does, with the old Matcher alive), and
// prints its resident set at each step.
func TestLoadRSSChild(t *testing.T) {
	if os.Getenv(rssChildEnv) == "" {
		t.Skip("run as a child process by BenchmarkLoadRSS")
	}
	ctx := context.Background()
	src := []Source{{Category: "all", Path: filepath.Join(fullDataDir(t), largeList)}}
	s := NewStore(StoreOptions{DataDir: t.TempDir()})
	if err := s.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	s.Load(ctx)
	if n := s.Matcher().Len(); n < 700_000 {
		t.Fatalf("Len() = %d, want about 730,000", n)
	}
	loadPeak, _ := procMemory(t)
	loadSteady := settledRSS(t)

	// Reset VmHWM to the current RSS (Linux 4.0+), then rebuild: a new
	// source name forces a build from the same copy.
	rebuildPeak := int64(0)
	if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil {
		src[0].Name = "rebuilt"
		if err := s.SetSources(ctx, src); err != nil {
			t.Fatal(err)
		}
		rebuildPeak, _ = procMemory(t)
	}
	rebuildSteady := settledRSS(t)
	runtime.KeepAlive(s)
	fmt.Printf("rss load-peak=%d load-steady=%d rebuild-peak=%d rebuild-steady=%d\n",
		loadPeak, loadSteady, rebuildPeak, rebuildSteady)
}

// BenchmarkLoadRSS runs TestLoadRSSChild in a child process and reports
// its resident set: the peak during the first load from a file (startup),
// the steady state after it, and the peak of a rebuild next to the Matcher
// in use. The child is a fresh process so that its peak is the load's, not
// that of whatever ran before; VmHWM sees every page, where heap sampling
// can miss a short peak.
func BenchmarkLoadRSS(b *testing.B) {
	fullDataDir(b)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var loadPeak, loadSteady, rebuildPeak, rebuildSteady int64
	for b.Loop() {
		cmd := exec.Command(exe, "-test.run=^TestLoadRSSChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), rssChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		i := bytes.Index(out, []byte("rss "))
		if i < 0 {
			b.Fatalf("child printed no figures:\n%s", out)
		}
		if _, err := fmt.Sscanf(string(out[i:]), "rss load-peak=%d load-steady=%d rebuild-peak=%d rebuild-steady=%d",
			&loadPeak, &loadSteady, &rebuildPeak, &rebuildSteady); err != nil {
			b.Fatalf("child output: %v\n%s", err, out)
		}
	}
	const mib = 1 << 20
	b.ReportMetric(float64(loadPeak)/mib, "load-peak-RSS-MiB")
	b.ReportMetric(float64(loadSteady)/mib, "steady-RSS-MiB")
	b.ReportMetric(float64(loadPeak)/float64(loadSteady), "load-peak/steady")
	if rebuildPeak > 0 {
		b.ReportMetric(float64(rebuildPeak)/mib, "rebuild-peak-RSS-MiB")
		b.ReportMetric(float64(rebuildPeak)/float64(rebuildSteady), "rebuild-peak/steady")
	}
}
