package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/state"
)

const testToken = "test-token-0123456789abcdef"

// fakeController records what the API asked and answers from its fields.
type fakeController struct {
	mu      sync.Mutex
	calls   []string
	entries []state.Entry
	err     error // returned by every method when set
	removed int

	devices []Device
	rows    []querylog.Row
	next    int64
	stats   []querylog.Stat
	top     []querylog.Count
	deleted int64
}

func (f *fakeController) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeController) lastCall() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeController) Pause(_ context.Context, target string, until time.Time, by string) (state.Entry, error) {
	if err := f.record("pause %s until %s by %s", target, until.Format(time.RFC3339), by); err != nil {
		return state.Entry{}, err
	}
	return state.Entry{ID: "p1", Target: target, Kind: state.Pause, Until: until, Created: until.Add(-time.Hour), By: by}, nil
}

func (f *fakeController) Allow(_ context.Context, target, what string, until time.Time, by string) (state.Entry, error) {
	if err := f.record("allow %s %s until %s by %s", target, what, until.Format(time.RFC3339), by); err != nil {
		return state.Entry{}, err
	}
	return state.Entry{ID: "a1", Target: target, Kind: state.Allow, What: what, Until: until, By: by}, nil
}

func (f *fakeController) Resume(_ context.Context, target string) (int, error) {
	if err := f.record("resume %s", target); err != nil {
		return 0, err
	}
	return f.removed, nil
}

func (f *fakeController) Entries(context.Context) ([]state.Entry, error) {
	if err := f.record("entries"); err != nil {
		return nil, err
	}
	return f.entries, nil
}

func (f *fakeController) Explain(_ context.Context, client, name, qtype string) (any, error) {
	if err := f.record("explain %q %s %s", client, name, qtype); err != nil {
		return nil, err
	}
	return map[string]string{"name": name, "decision": "blocked"}, nil
}

func (f *fakeController) Status(context.Context) (Status, error) {
	if err := f.record("status"); err != nil {
		return Status{}, err
	}
	return Status{
		Version:   "test",
		Lists:     []ListStatus{{Name: "builtin:adult", Category: "adult", Kind: "builtin", Rules: 42, HasCopy: true}},
		Upstreams: []UpstreamStatus{{Name: "tls://1.1.1.1:853", Healthy: true, Queries: 10, RTT: Duration(12 * time.Millisecond)}},
	}, nil
}

func (f *fakeController) Devices(context.Context) ([]Device, error) {
	if err := f.record("devices"); err != nil {
		return nil, err
	}
	return f.devices, nil
}

func (f *fakeController) Search(_ context.Context, q querylog.Filter) ([]querylog.Row, int64, error) {
	if err := f.record("search %+v", q); err != nil {
		return nil, 0, err
	}
	return f.rows, f.next, nil
}

func (f *fakeController) Stats(_ context.Context, from, to time.Time, b querylog.Bucket, by string) ([]querylog.Stat, error) {
	if err := f.record("stats %s %s %s %q", from.Format(time.RFC3339), to.Format(time.RFC3339), b, by); err != nil {
		return nil, err
	}
	return f.stats, nil
}

func (f *fakeController) Top(_ context.Context, from, to time.Time, blocked bool, device string, n int) ([]querylog.Count, error) {
	if err := f.record("top %s %s %v %q %d", from.Format(time.RFC3339), to.Format(time.RFC3339), blocked, device, n); err != nil {
		return nil, err
	}
	return f.top, nil
}

func (f *fakeController) DeleteDeviceLog(_ context.Context, device string) (int64, error) {
	if err := f.record("delete log %s", device); err != nil {
		return 0, err
	}
	return f.deleted, nil
}

func (f *fakeController) Reload(context.Context) error {
	return f.record("reload")
}

func (f *fakeController) RefreshLists(context.Context) error {
	return f.record("refresh")
}

// testNow is 18:00 on a Friday in a zone east of UTC, so that a wrong
// zone shows in the results.
var testZone = time.FixedZone("CET", 3600)

func testNow() time.Time { return time.Date(2026, 11, 27, 18, 0, 0, 0, testZone) }

// startServer runs a Server on a loopback port and returns its base URL.
func startServer(tb testing.TB, ctl Controller, now func() time.Time) string {
	tb.Helper()
	s := New(Options{Addr: "127.0.0.1:0", Controller: ctl, Token: testToken, Now: now})
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
	})
	return "http://" + s.Addr()
}

// call sends one request and returns the status, the decoded JSON body and
// the response headers.
func call(tb testing.TB, method, url, token, body string) (int, map[string]any, http.Header) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%s %s: body %q is not a JSON object: %v", method, url, b, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		tb.Errorf("%s %s: Content-Type %q", method, url, ct)
	}
	return resp.StatusCode, v, resp.Header
}
