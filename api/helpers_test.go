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

func (f *fakeController) Status(context.Context) (any, error) {
	if err := f.record("status"); err != nil {
		return nil, err
	}
	return map[string]int{"queries": 42}, nil
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
