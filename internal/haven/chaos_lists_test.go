package haven_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// listServer serves a blocklist over HTTP on 127.0.0.1 in one of several
// modes, switched by the test: a good list, or one of the ways a list
// server fails.
type listServer struct {
	*httptest.Server
	mode    atomic.Value // string
	written atomic.Int64 // bytes of the last endless stream
	endless sync.WaitGroup
}

func newListServer(t *testing.T, mode string) *listServer {
	t.Helper()
	s := &listServer{}
	s.mode.Store(mode)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Close()
		s.endless.Wait()
	})
	return s
}

func (s *listServer) set(mode string) { s.mode.Store(mode) }

func (s *listServer) url() string { return s.URL + "/list.txt" }

func (s *listServer) serve(w http.ResponseWriter, r *http.Request) {
	switch mode := s.mode.Load().(string); mode {
	case "good":
		fmt.Fprint(w, "# a good list\n0.0.0.0 bad.test\n")
	case "good2":
		fmt.Fprint(w, "# a good list, grown\n0.0.0.0 bad.test\n0.0.0.0 worse.test\n")
	case "html":
		// A captive portal or a login wall, served with 200.
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in</body></html>\n")
	case "500":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "<html><body><h1>500 Internal Server Error</h1></body></html>\n")
	case "empty":
	case "invalid":
		for i := range 200 {
			fmt.Fprintf(w, "this is not a rule %d !!\n<<%d>>\n", i, i)
		}
	case "endless":
		// Valid lines, forever: only the size cap stops the download.
		s.endless.Add(1)
		defer s.endless.Done()
		s.written.Store(0)
		line := []byte(strings.Repeat("0.0.0.0 endless-stream-entry.test\n", 1024))
		for {
			n, err := w.Write(line)
			s.written.Add(int64(n))
			if err != nil {
				return
			}
		}
	default:
		http.Error(w, "unknown mode "+mode, http.StatusTeapot)
	}
}

// isBlocked reports whether name gets Haven's block answer (EDE 17).
func isBlocked(t *testing.T, addr, name string) bool {
	t.Helper()
	r := ask(t, "udp", addr, name, dns.TypeA, true)
	e := ede(r)
	return r.Rcode == dns.RcodeNameError && e != nil && e.InfoCode == dns.ExtendedErrorCodeFiltered
}

func urlStatus(t *testing.T, s *blocklist.Store, url string) blocklist.SourceStatus {
	t.Helper()
	for _, st := range s.Status() {
		if st.Kind == blocklist.SourceURL && strings.Contains(st.Name, url) {
			return st
		}
	}
	t.Fatalf("no status for source %s in %+v", url, s.Status())
	return blocklist.SourceStatus{}
}

// TestListFaults downloads a good list, then lets the list server fail in
// every way it can: after each refresh the last good copy still blocks, and
// the source's status says what went wrong.
func TestListFaults(t *testing.T) {
	t.Parallel()
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	lists := newListServer(t, "good")
	dataDir := t.TempDir()
	h, stop := launchFile(t, "", loopbackListen+fmt.Sprintf(`upstreams: ["udp://%s"]
data_dir: %q
refresh: 0
lists: {adult: [%q]}
block: [adult]
`, up.Addr(), dataDir, lists.url()), haven.Options{})
	ctx := context.Background()
	if err := h.Store().Refresh(ctx); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	if !isBlocked(t, h.Addr(), "bad.test.") {
		t.Fatal("bad.test not blocked by the good list: the test proves nothing")
	}

	faults := []struct {
		mode, want string // want: in the refresh error and the status
	}{
		{"html", "HTML"},
		{"500", "500"},
		{"endless", "too large"},
		{"empty", "no rules"},
		{"invalid", "no rules"},
	}
	for _, f := range faults {
		lists.set(f.mode)
		err := h.Store().Refresh(ctx)
		if err == nil || !strings.Contains(err.Error(), f.want) {
			t.Errorf("%s: refresh error %v, want one saying %q", f.mode, err, f.want)
		}
		st := urlStatus(t, h.Store(), lists.url())
		if !st.HasCopy || !strings.Contains(st.LastError, f.want) {
			t.Errorf("%s: status HasCopy=%v LastError=%q, want the copy kept and %q", f.mode, st.HasCopy, st.LastError, f.want)
		}
		if !isBlocked(t, h.Addr(), "bad.test.") {
			t.Errorf("%s: bad.test no longer blocked: the last good copy was lost", f.mode)
		}
		if isBlocked(t, h.Addr(), "endless-stream-entry.test.") {
			t.Errorf("%s: a name from the refused endless stream is blocked", f.mode)
		}
		if f.mode == "endless" {
			lists.endless.Wait() // the handler returns once Haven hangs up
			if n := lists.written.Load(); n > blocklist.DefaultMaxBytes+8<<20 {
				t.Errorf("endless stream: %d bytes sent before Haven hung up, cap %d", n, blocklist.DefaultMaxBytes)
			}
		}
	}
	// No temporary download was left behind in the cache.
	entries, _ := os.ReadDir(filepath.Join(dataDir, "lists"))
	for _, e := range entries {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("temporary file %s left in the list cache", e.Name())
		}
	}

	// What is on disk is the good copy: a restart with the list server
	// down blocks from it.
	stop()
	lists.Close()
	h2, _ := launchFile(t, "", loopbackListen+fmt.Sprintf(`upstreams: ["udp://%s"]
data_dir: %q
refresh: 0
lists: {adult: [%q]}
block: [adult]
`, up.Addr(), dataDir, lists.url()), haven.Options{})
	if !isBlocked(t, h2.Addr(), "bad.test.") {
		t.Errorf("after the faults and a restart, bad.test is not blocked from the disk cache")
	}
}

// TestListRecoversAfterFaults checks the other half: once the server is
// good again, the next refresh takes the new list and clears the error.
func TestListRecoversAfterFaults(t *testing.T) {
	t.Parallel()
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	lists := newListServer(t, "good")
	h, _ := launchFile(t, "", loopbackListen+fmt.Sprintf("upstreams: [\"udp://%s\"]\ndata_dir: %q\nrefresh: 0\nlists: {adult: [%q]}\nblock: [adult]\n",
		up.Addr(), t.TempDir(), lists.url()), haven.Options{})
	ctx := context.Background()
	if err := h.Store().Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	lists.set("html")
	if err := h.Store().Refresh(ctx); err == nil {
		t.Fatal("HTML page accepted as a list")
	}
	lists.set("good2")
	if err := h.Store().Refresh(ctx); err != nil {
		t.Fatalf("refresh after recovery: %v", err)
	}
	if st := urlStatus(t, h.Store(), lists.url()); st.LastError != "" {
		t.Errorf("error %q still reported after a good download", st.LastError)
	}
	if !isBlocked(t, h.Addr(), "worse.test.") || !isBlocked(t, h.Addr(), "bad.test.") {
		t.Errorf("new list not in force after recovery")
	}
}

// storageHaven runs a Haven with its API on, data in dir, and one device
// to pause; it returns the Haven, an API client and a stop function.
func storageHaven(t *testing.T, upAddr, listURL, dir string) (*haven.Haven, *api.Client, func()) {
	t.Helper()
	h, stop := launchFile(t, "", loopbackListen+fmt.Sprintf(`upstreams: ["udp://%s"]
data_dir: %q
http: "127.0.0.1:0"
refresh: 0
lists: {adult: [%q]}
block: [adult]
devices: [{name: kid, match: ["192.0.2.99"]}]
`, upAddr, dir, listURL), haven.Options{})
	token, err := api.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h, &api.Client{Base: "http://" + h.APIAddr(), Token: token, By: "test"}, stop
}

func entryIDs(t *testing.T, c *api.Client) map[string]bool {
	t.Helper()
	es, err := c.Entries(context.Background())
	if err != nil {
		t.Fatalf("entries: %v", err)
	}
	ids := map[string]bool{}
	for _, e := range es {
		ids[e.ID] = true
	}
	return ids
}

// TestStorageFaults breaks the data directory under a running Haven: DNS
// goes on answering, a pause fails with an error that says why, and once
// the fault is cleared nothing stored before is lost, in memory, on disk,
// or across a restart.
func TestStorageFaults(t *testing.T) {
	t.Parallel()
	type storageFault struct {
		name string
		// prepare makes dir ready before Haven starts (or skips the test).
		prepare func(t *testing.T, dir string)
		// breakIt breaks dir and returns what undoes it.
		breakIt func(t *testing.T, dir string) (repair func())
		want    string // in the failed pause's error
	}
	faults := []storageFault{
		{
			name:    "state file replaced by a directory",
			prepare: func(*testing.T, string) {},
			breakIt: func(t *testing.T, dir string) func() {
				file := filepath.Join(dir, "state.json")
				if err := os.Rename(file, file+".saved"); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(file, "in-the-way"), 0o755); err != nil {
					t.Fatal(err)
				}
				return func() {
					if err := os.RemoveAll(file); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(file+".saved", file); err != nil {
						t.Fatal(err)
					}
				}
			},
			want: "state.json",
		},
		{
			name: "disk full",
			prepare: func(t *testing.T, dir string) {
				if _, err := exec.LookPath("mount"); err != nil {
					t.Skip("no mount command: disk-full fault not tested")
				}
				if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir).CombinedOutput(); err != nil {
					t.Skipf("cannot mount a small tmpfs (needs root): disk-full fault not tested: %v: %s", err, out)
				}
				// Registered before Haven's own cleanup, so it runs after.
				t.Cleanup(func() {
					if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
						t.Errorf("umount %s: %v: %s", dir, err, out)
					}
				})
			},
			breakIt: func(t *testing.T, dir string) func() {
				filler := filepath.Join(dir, "filler")
				f, err := os.Create(filler)
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 4096)
				for {
					if _, err := f.Write(buf); err != nil {
						break // full
					}
				}
				f.Close()
				return func() {
					if err := os.Remove(filler); err != nil {
						t.Fatal(err)
					}
				}
			},
			want: "no space left",
		},
	}
	concurrently(t, faults, func(f storageFault) string { return f.name }, func(t *testing.T, f storageFault) {
		up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
		lists := newListServer(t, "good")
		dir := t.TempDir()
		f.prepare(t, dir)
		ctx := context.Background()
		h, c, stop := storageHaven(t, up.Addr(), lists.url(), dir)
		if err := h.Store().Refresh(ctx); err != nil {
			t.Fatalf("first refresh: %v", err)
		}
		first, err := c.Pause(ctx, "kid", api.When{For: time.Hour})
		if err != nil {
			t.Fatalf("pause before the fault: %v", err)
		}

		repair := f.breakIt(t, dir)
		answerIs(t, ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false), "192.0.2.1")
		if !isBlocked(t, h.Addr(), "bad.test.") {
			t.Errorf("bad.test not blocked during the fault")
		}
		_, err = c.Pause(ctx, "default", api.When{For: time.Hour})
		t.Logf("pause during the fault: %v", err)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusInternalServerError ||
			!strings.Contains(err.Error(), "state") || !strings.Contains(err.Error(), f.want) {
			t.Errorf("pause during the fault: %v; want a 500 naming the state store and %q", err, f.want)
		}
		// A list refresh during the fault keeps the copy in use.
		lists.set("good2")
		h.Store().Refresh(ctx)
		if !isBlocked(t, h.Addr(), "bad.test.") {
			t.Errorf("bad.test not blocked after a refresh during the fault")
		}
		if ids := entryIDs(t, c); !ids[first.ID] || len(ids) != 1 {
			t.Errorf("entries during the fault %v, want only %s", ids, first.ID)
		}
		answerIs(t, ask(t, "tcp", h.Addr(), "example.com.", dns.TypeA, false), "192.0.2.1")

		repair()
		second, err := c.Pause(ctx, "default", api.When{For: time.Hour})
		if err != nil {
			t.Fatalf("pause after the fault cleared: %v", err)
		}
		if ids := entryIDs(t, c); !ids[first.ID] || !ids[second.ID] || len(ids) != 2 {
			t.Errorf("entries after the fault %v, want %s and %s", ids, first.ID, second.ID)
		}
		data, err := os.ReadFile(filepath.Join(dir, "state.json"))
		if err != nil || !strings.Contains(string(data), first.ID) || !strings.Contains(string(data), second.ID) {
			t.Errorf("state file after the fault lacks an entry (%v):\n%s", err, data)
		}

		// A restart reads back both entries, and the list from disk.
		stop()
		lists.Close()
		h2, c2, _ := storageHaven(t, up.Addr(), lists.url(), dir)
		if ids := entryIDs(t, c2); !ids[first.ID] || !ids[second.ID] || len(ids) != 2 {
			t.Errorf("entries after a restart %v, want %s and %s", ids, first.ID, second.ID)
		}
		if !isBlocked(t, h2.Addr(), "bad.test.") {
			t.Errorf("bad.test not blocked after a restart with the list server down")
		}
	})
}
