package blocklist

import (
	"bytes"
	"compress/gzip"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func gzipBytes(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFailedRefreshKeepsLastGood downloads a good list, then lets the server
// fail in each way, with and without a disk cache: the good copy must stay
// in use and the status must name the failure.
func TestFailedRefreshKeepsLastGood(t *testing.T) {
	const maxBytes = 256 << 10
	cases := []struct {
		name    string
		mode    string
		body    []byte // replaces the body in mode "ok"
		wantErr string
	}{
		{name: "500", mode: "500", wantErr: "HTTP 500"},
		{name: "404", mode: "404", wantErr: "HTTP 404"},
		{name: "html", mode: "html", wantErr: "HTML page"},
		{name: "empty", mode: "empty", wantErr: "no rules"},
		{name: "invalid", mode: "invalid", wantErr: "no rules"},
		{name: "comments only", mode: "ok", body: []byte("# only comments\n\n"), wantErr: "no rules"},
		{name: "endless", mode: "huge", wantErr: "too large"},
		{name: "content-length", mode: "biglen", wantErr: "too large"},
		{name: "gzip bomb", mode: "ok", body: gzipBytes(t, strings.Repeat("bomb.example.com\n", 2*maxBytes/17)), wantErr: "too large"},
		{name: "bad gzip", mode: "ok", body: []byte("\x1f\x8bnot gzip at all"), wantErr: "gzip"},
		{name: "long line", mode: "ok", body: []byte(strings.Repeat("x", 70<<10) + "\n"), wantErr: "longer than"},
		{name: "hang", mode: "hang", wantErr: "timed out"},
	}
	for _, disk := range []bool{true, false} {
		for _, tc := range cases {
			name := tc.name + "/disk"
			if !disk {
				name = tc.name + "/memory"
			}
			t.Run(name, func(t *testing.T) {
				dir := ""
				if disk {
					dir = t.TempDir()
				}
				ls := newListServer(t, testList)
				c := newTestClock()
				s := newTestStore(t, dir, c, func(o *StoreOptions) {
					o.MaxBytes = maxBytes
					if tc.mode == "hang" {
						o.Timeout = 100 * time.Millisecond
					}
				})
				ctx := context.Background()
				if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
					t.Fatal(err)
				}
				if err := s.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				good := c.Now()
				c.Advance(time.Hour)
				ls.set(func(ls *listServer) {
					ls.mode = tc.mode
					if tc.body != nil {
						ls.body = tc.body
					}
				})
				err := s.Refresh(ctx)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Refresh error = %v, want %q", err, tc.wantErr)
				}
				if !storeBlocks(s, "ads.example.com", "ads") || !storeBlocks(s, "tracker.example.net", "ads") {
					t.Error("last good copy not in use")
				}
				st := statusOf(t, s, ls.url())
				if !strings.Contains(st.LastError, tc.wantErr) || !st.HasCopy || st.Rules != 2 ||
					!st.LastSuccess.Equal(good) || !st.LastAttempt.Equal(c.Now()) || st.Age != time.Hour {
					t.Errorf("status = %+v", st)
				}
				if tc.mode == "huge" || tc.mode == "hang" {
					// The handler must notice the client went away.
					select {
					case <-ls.stopped:
					case <-time.After(30 * time.Second):
						t.Fatal("server still sending: the download did not stop")
					}
				}
				if tc.mode == "huge" {
					// Socket buffers let the server write somewhat more
					// than was read; an unbounded reader would read all.
					if n := ls.streamed.Load(); n > 64<<20 {
						t.Errorf("server wrote %d bytes for a %d-byte cap", n, maxBytes)
					}
				}

				if disk {
					if tmp, _ := filepath.Glob(filepath.Join(dir, "lists", "*.tmp")); len(tmp) > 0 {
						t.Errorf("refused downloads left %v", tmp)
					}
				}

				// The server recovers: the next refresh succeeds.
				ls.set(func(ls *listServer) { ls.mode, ls.body = "ok", []byte("new.example.com\n") })
				if err := s.Refresh(ctx); err != nil {
					t.Fatalf("refresh after recovery: %v", err)
				}
				if !storeBlocks(s, "new.example.com", "ads") || storeBlocks(s, "ads.example.com", "ads") {
					t.Error("recovered list not in use")
				}
				if st := statusOf(t, s, ls.url()); st.LastError != "" {
					t.Errorf("error not cleared: %q", st.LastError)
				}
			})
		}
	}
}

func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		requests int
	}{
		{"500", 3}, // retried
		{"404", 1}, // not retried
		{"html", 1},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ls := newListServer(t, testList)
			ls.mode = tc.mode
			s := newTestStore(t, "", newTestClock(), func(o *StoreOptions) { o.Retries = 3 })
			ctx := context.Background()
			if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Refresh(ctx); err == nil {
				t.Fatal("Refresh succeeded")
			}
			if n := ls.requests(); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			if st := statusOf(t, s, ls.url()); st.HasCopy || st.LastError == "" {
				t.Errorf("status = %+v", st)
			}
		})
	}
	t.Run("passing failure", func(t *testing.T) {
		ls := newListServer(t, testList)
		ls.failFirst = 1
		s := newTestStore(t, "", newTestClock(), func(o *StoreOptions) { o.Retries = 3 })
		ctx := context.Background()
		if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Refresh(ctx); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if n := ls.requests(); n != 2 || !storeBlocks(s, "ads.example.com", "ads") {
			t.Errorf("%d requests, blocked %v", n, storeBlocks(s, "ads.example.com", "ads"))
		}
	})
}

func TestGzip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		encoded bool // Content-Encoding: gzip, undone by net/http
	}{
		{"plain", []byte(testList), false},
		{"gz file", gzipBytes(t, testList), false},
		{"content-encoding", gzipBytes(t, testList), true},
	} {
		for _, dir := range []string{"", t.TempDir()} {
			t.Run(tc.name+map[bool]string{true: "/memory", false: "/disk"}[dir == ""], func(t *testing.T) {
				ls := newListServer(t, "")
				ls.body, ls.gzipEnc = tc.body, tc.encoded
				s := newTestStore(t, dir, newTestClock(), nil)
				ctx := context.Background()
				if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url() + ".gz"}}); err != nil {
					t.Fatal(err)
				}
				if err := s.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				if !storeBlocks(s, "ads.example.com", "ads") || statusOf(t, s, ls.url()+".gz").Rules != 2 {
					t.Error("list not parsed")
				}
				ls.mu.Lock()
				ae := ls.accEnc[0]
				ls.mu.Unlock()
				if !strings.Contains(ae, "gzip") {
					t.Errorf("Accept-Encoding %q: transparent decompression off", ae)
				}
				// The stored copy is re-read on the next build.
				s.Load(ctx)
				if !storeBlocks(s, "tracker.example.net", "ads") {
					t.Error("stored copy not readable")
				}
			})
		}
	}
}
