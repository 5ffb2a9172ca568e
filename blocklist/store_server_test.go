package blocklist

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

// listServer serves one list on 127.0.0.1 and can be told to misbehave.
type listServer struct {
	srv *httptest.Server

	mu        sync.Mutex
	mode      string // "ok" or one of the failure modes in serve
	body      []byte
	etag      string
	lastMod   string
	gzipEnc   bool // send the body with Content-Encoding: gzip (body must be gzip)
	hits      int
	failFirst int      // answer the first requests with 500
	inm       []string // If-None-Match of every request
	ims       []string // If-Modified-Since of every request
	accEnc    []string // Accept-Encoding of every request

	streamed atomic.Int64  // bytes written by mode "huge"
	stopped  chan struct{} // closed when a "huge" or "hang" handler returns
	release  chan struct{} // closed at cleanup to free "hang" handlers
}

func newListServer(t testing.TB, body string) *listServer {
	t.Helper()
	ls := &listServer{mode: "ok", body: []byte(body), stopped: make(chan struct{}, 16), release: make(chan struct{})}
	ls.srv = httptest.NewServer(http.HandlerFunc(ls.serve))
	t.Cleanup(func() {
		close(ls.release)
		ls.srv.Close()
	})
	return ls
}

func (ls *listServer) url() string { return ls.srv.URL + "/list.txt" }

func (ls *listServer) set(f func(ls *listServer)) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	f(ls)
}

func (ls *listServer) requests() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.hits
}

func (ls *listServer) serve(w http.ResponseWriter, r *http.Request) {
	ls.mu.Lock()
	ls.hits++
	ls.inm = append(ls.inm, r.Header.Get("If-None-Match"))
	ls.ims = append(ls.ims, r.Header.Get("If-Modified-Since"))
	ls.accEnc = append(ls.accEnc, r.Header.Get("Accept-Encoding"))
	mode, body, etag, lastMod, gz := ls.mode, ls.body, ls.etag, ls.lastMod, ls.gzipEnc
	if ls.hits <= ls.failFirst {
		mode = "500"
	}
	ls.mu.Unlock()

	switch mode {
	case "ok":
		if etag != "" {
			w.Header().Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		if lastMod != "" {
			w.Header().Set("Last-Modified", lastMod)
			if r.Header.Get("If-Modified-Since") == lastMod {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		if gz {
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Write(body)
	case "500":
		http.Error(w, "internal error", http.StatusInternalServerError)
	case "404":
		http.Error(w, "not found", http.StatusNotFound)
	case "html":
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "\n<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>ads.example.com</body></html>\n")
	case "empty":
	case "invalid":
		io.WriteString(w, "%%%\n$$$ $$$\n-bad-.example.com\n")
	case "biglen":
		w.Header().Set("Content-Length", "1000000000")
		io.WriteString(w, "ads.example.com\n")
	case "huge":
		defer func() { ls.stopped <- struct{}{} }()
		chunk := []byte(strings.Repeat("filler.example.com\n", 1<<10))
		for {
			n, err := w.Write(chunk)
			ls.streamed.Add(int64(n))
			if err != nil {
				return
			}
		}
	case "hang":
		defer func() { ls.stopped <- struct{}{} }()
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-ls.release:
		}
	}
}

// newTestClock returns a test clock at the tests' fixed start time.
func newTestClock() *dnstest.Clock {
	return dnstest.NewClock(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
}

// newTestStore returns a Store that logs to the test output, retries fast
// and uses dir as DataDir ("" for memory only).
func newTestStore(t testing.TB, dir string, c *dnstest.Clock, mod func(*StoreOptions)) *Store {
	t.Helper()
	opt := StoreOptions{
		DataDir: dir,
		Timeout: 5 * time.Second,
		Retries: 2,
		Now:     c.Now,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opt)
	}
	s := NewStore(opt)
	s.backoff = time.Millisecond
	return s
}

const testList = `# a test list
ads.example.com
0.0.0.0 tracker.example.net
`

func storeBlocks(s *Store, name string, cats ...string) bool {
	m := s.Matcher()
	return m.Lookup(name, m.Mask(cats...)).Blocked
}

func statusOf(t testing.TB, s *Store, name string) SourceStatus {
	t.Helper()
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no status for source %q", name)
	return SourceStatus{}
}
