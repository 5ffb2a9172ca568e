package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/state"
)

func TestHealthIsOpen(t *testing.T) {
	base := startServer(t, &fakeController{}, testNow)
	code, body, _ := call(t, "GET", base+"/api/v1/health", "", "")
	if code != 200 || body["status"] != "ok" {
		t.Fatalf("health: %d %v", code, body)
	}
}

func TestAuthRequired(t *testing.T) {
	ctl := &fakeController{}
	base := startServer(t, ctl, testNow)
	routes := []struct{ method, path, body string }{
		{"GET", "/api/v1/status", ""},
		{"GET", "/api/v1/state", ""},
		{"POST", "/api/v1/pause", `{"target":"kid","for":"30m"}`},
		{"POST", "/api/v1/allow", `{"target":"kid","what":"youtube","for":"30m"}`},
		{"POST", "/api/v1/resume", `{"target":"kid"}`},
		{"GET", "/api/v1/check?name=example.com", ""},
		{"POST", "/api/v1/lists/refresh", ""},
		{"POST", "/api/v1/health", ""}, // only GET health is open
		{"GET", "/api/v1/nonexistent", ""},
	}
	creds := []struct {
		name, header, wantChallenge string
	}{
		{"none", "", `Bearer realm="haven"`},
		{"wrong token", "Bearer " + testToken + "x", `Bearer realm="haven", error="invalid_token"`},
		{"prefix of token", "Bearer " + testToken[:10], `Bearer realm="haven", error="invalid_token"`},
		{"basic", "Basic " + testToken, `Bearer realm="haven", error="invalid_request"`},
		{"no scheme", testToken, `Bearer realm="haven", error="invalid_request"`},
	}
	for _, r := range routes {
		for _, c := range creds {
			t.Run(r.method+" "+r.path+" "+c.name, func(t *testing.T) {
				req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var v map[string]string
				_ = json.NewDecoder(resp.Body).Decode(&v)
				if resp.StatusCode != 401 || v["error"] == "" {
					t.Errorf("got %d %v, want 401 with an error", resp.StatusCode, v)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != c.wantChallenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, c.wantChallenge)
				}
			})
		}
	}
	if len(ctl.calls) != 0 {
		t.Errorf("controller called without authentication: %v", ctl.calls)
	}
}

func TestRoutes(t *testing.T) {
	until := time.Date(2026, 11, 27, 18, 30, 0, 0, time.UTC) // after testNow (17:00 UTC)
	ctl := &fakeController{
		removed: 2,
		entries: []state.Entry{
			{ID: "e1", Target: "kid", Kind: state.Pause, Until: until, By: "cli"},
			{ID: "gone", Target: "kid", Kind: state.Allow, What: "youtube", Until: testNow().Add(-time.Minute)},
		},
	}
	base := startServer(t, ctl, testNow)
	tests := []struct {
		method, path, body string
		wantCode           int
		wantCall           string
		wantBody           string // JSON of the expected answer
	}{
		{"GET", "/api/v1/status", "", 200, "status",
			`{"version":"test","lists":[{"name":"builtin:adult","category":"adult","kind":"builtin","rules":42,"has_copy":true,"from_cache":false}],` +
				`"upstreams":[{"name":"tls://1.1.1.1:853","healthy":true,"failures":0,"queries":10,"errors":0,"rtt":"12ms"}]}`},
		{"GET", "/api/v1/state", "", 200, "entries",
			`{"entries":[{"id":"e1","target":"kid","kind":"pause","until":"2026-11-27T18:30:00Z","created":"0001-01-01T00:00:00Z","by":"cli"}]}`},
		{"POST", "/api/v1/pause", `{"target":"kid-tablet","for":"30m"}`, 200,
			"pause kid-tablet until 2026-11-27T18:30:00+01:00 by api",
			`{"id":"p1","target":"kid-tablet","kind":"pause","until":"2026-11-27T18:30:00+01:00","created":"2026-11-27T17:30:00+01:00","by":"api"}`},
		{"POST", "/api/v1/pause", `{"target":"kids","for":"1d12h","by":"mum"}`, 200,
			"pause kids until 2026-11-29T06:00:00+01:00 by mum",
			`{"id":"p1","target":"kids","kind":"pause","until":"2026-11-29T06:00:00+01:00","created":"2026-11-29T05:00:00+01:00","by":"mum"}`},
		{"POST", "/api/v1/allow", `{"target":"kid-tablet","what":"youtube","until":"2026-11-27T19:15:00Z"}`, 200,
			"allow kid-tablet youtube until 2026-11-27T19:15:00Z by api",
			`{"id":"a1","target":"kid-tablet","kind":"allow","what":"youtube","until":"2026-11-27T19:15:00Z","created":"0001-01-01T00:00:00Z","by":"api"}`},
		{"POST", "/api/v1/resume", `{"target":"kid-tablet"}`, 200, "resume kid-tablet", `{"removed":2}`},
		{"GET", "/api/v1/check?client=192.168.1.23&name=youtube.com&type=AAAA", "", 200,
			`explain "192.168.1.23" youtube.com AAAA`, `{"decision":"blocked","name":"youtube.com"}`},
		{"GET", "/api/v1/check?name=youtube.com", "", 200,
			`explain "" youtube.com A`, `{"decision":"blocked","name":"youtube.com"}`},
		{"POST", "/api/v1/lists/refresh", "", 200, "refresh", `{"status":"ok"}`},
		{"POST", "/api/v1/lists/refresh", "{}", 200, "refresh", `{"status":"ok"}`},
		{"GET", "/api/v1/nope", "", 404, "", `{"error":"no such endpoint: /api/v1/nope"}`},
		{"GET", "/", "", 404, "", `{"error":"no such endpoint: /"}`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			ctl.mu.Lock()
			ctl.calls = nil
			ctl.mu.Unlock()
			code, body, _ := call(t, tt.method, base+tt.path, testToken, tt.body)
			if code != tt.wantCode {
				t.Errorf("status %d, want %d (%v)", code, tt.wantCode, body)
			}
			if got := ctl.lastCall(); got != tt.wantCall {
				t.Errorf("controller call %q, want %q", got, tt.wantCall)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.wantBody), &want); err != nil {
				t.Fatal(err)
			}
			if g, w := jsonString(t, body), jsonString(t, want); g != w {
				t.Errorf("body\n got %s\nwant %s", g, w)
			}
		})
	}
}

func jsonString(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestMethodNotAllowed(t *testing.T) {
	base := startServer(t, &fakeController{}, testNow)
	tests := []struct{ method, path, allow string }{
		{"GET", "/api/v1/pause", "POST"},
		{"PUT", "/api/v1/state", "GET"},
		{"DELETE", "/api/v1/resume", "POST"},
		{"POST", "/api/v1/health", "GET"},
		{"GET", "/api/v1/lists/refresh", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body, hdr := call(t, tt.method, base+tt.path, testToken, "")
			if code != 405 || body["error"] == nil {
				t.Errorf("got %d %v, want 405 with an error", code, body)
			}
			if got := hdr.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	ctl := &fakeController{}
	base := startServer(t, ctl, testNow)
	tests := []struct {
		name, method, path, body, wantErr string
	}{
		{"not JSON", "POST", "/api/v1/pause", `target=kid`, "request body"},
		{"empty body", "POST", "/api/v1/pause", ``, "a JSON object is required"},
		{"truncated", "POST", "/api/v1/pause", `{"target":"kid"`, "truncated"},
		{"array", "POST", "/api/v1/pause", `["kid"]`, "cannot unmarshal"},
		{"unknown field", "POST", "/api/v1/pause", `{"target":"kid","for":"30m","forever":true}`, `unknown field "forever"`},
		{"trailing data", "POST", "/api/v1/pause", `{"target":"kid","for":"30m"} {}`, "data after the JSON object"},
		{"wrong type", "POST", "/api/v1/pause", `{"target":"kid","for":30}`, "cannot unmarshal number"},
		{"no target", "POST", "/api/v1/pause", `{"for":"30m"}`, "target is required"},
		{"blank target", "POST", "/api/v1/pause", `{"target":"  ","for":"30m"}`, "target is required"},
		{"neither for nor until", "POST", "/api/v1/pause", `{"target":"kid"}`, `give "for"`},
		{"both for and until", "POST", "/api/v1/pause", `{"target":"kid","for":"30m","until":"19:00"}`, "not both"},
		{"bad duration", "POST", "/api/v1/pause", `{"target":"kid","for":"half an hour"}`, "invalid duration"},
		{"bare number", "POST", "/api/v1/pause", `{"target":"kid","for":"30"}`, "invalid duration"},
		{"negative duration", "POST", "/api/v1/pause", `{"target":"kid","for":"-30m"}`, "must be positive"},
		{"zero duration", "POST", "/api/v1/pause", `{"target":"kid","for":"0s"}`, "must be positive"},
		{"bad clock", "POST", "/api/v1/pause", `{"target":"kid","until":"25:00"}`, "neither HH:MM nor"},
		{"past until", "POST", "/api/v1/pause", `{"target":"kid","until":"2026-11-27T16:00:00Z"}`, "not in the future"},
		{"control char in by", "POST", "/api/v1/pause", `{"target":"kid","for":"1m","by":"a\nb"}`, "by:"},
		{"allow without what", "POST", "/api/v1/allow", `{"target":"kid","for":"30m"}`, "what is required"},
		{"resume unknown field", "POST", "/api/v1/resume", `{"target":"kid","what":"youtube"}`, `unknown field "what"`},
		{"refresh with fields", "POST", "/api/v1/lists/refresh", `{"force":true}`, `unknown field "force"`},
		{"check without name", "GET", "/api/v1/check?client=1.2.3.4", ``, "name is required"},
		{"check unknown parameter", "GET", "/api/v1/check?name=a.b&qtype=A", ``, `unknown parameter "qtype"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, tt.method, base+tt.path, testToken, tt.body)
			msg, _ := body["error"].(string)
			if code != 400 || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("got %d %q, want 400 containing %q", code, msg, tt.wantErr)
			}
		})
	}
	if len(ctl.calls) != 0 {
		t.Errorf("controller called for bad requests: %v", ctl.calls)
	}
}

func TestBodyTooLarge(t *testing.T) {
	base := startServer(t, &fakeController{}, testNow)
	big := `{"target":"` + strings.Repeat("a", maxBody) + `","for":"30m"}`
	for _, path := range []string{"/api/v1/pause", "/api/v1/lists/refresh"} {
		code, body, _ := call(t, "POST", base+path, testToken, big)
		if code != 413 || body["error"] == nil {
			t.Errorf("%s: got %d %v, want 413", path, code, body)
		}
	}
	// Just under the cap is read (and then judged on its content).
	ok := `{"target":"` + strings.Repeat("a", maxBody-40) + `","for":"30m"}`
	if code, body, _ := call(t, "POST", base+"/api/v1/pause", testToken, ok); code != 200 {
		t.Errorf("body under the cap: got %d %v", code, body)
	}
}

func TestControllerErrors(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("unknown target %q: %w", "kid", ErrNotFound), 404},
		{fmt.Errorf("unknown service %q: %w", "tiktok2", ErrInvalid), 400},
		{fmt.Errorf("state: %w: target is empty", state.ErrInvalid), 400},
		{fmt.Errorf("state: %w: 10000 in force", state.ErrFull), 409},
		{errors.New("disk on fire"), 500},
		{fmt.Errorf("fetching lists: %w", context.DeadlineExceeded), 504},
	}
	reqs := []struct{ method, path, body string }{
		{"POST", "/api/v1/pause", `{"target":"kid","for":"30m"}`},
		{"POST", "/api/v1/allow", `{"target":"kid","what":"x","until":"19:00"}`},
		{"POST", "/api/v1/resume", `{"target":"kid"}`},
		{"GET", "/api/v1/state", ""},
		{"GET", "/api/v1/status", ""},
		{"GET", "/api/v1/check?name=x.y", ""},
		{"POST", "/api/v1/lists/refresh", ""},
	}
	for _, tt := range tests {
		ctl := &fakeController{err: tt.err}
		base := startServer(t, ctl, testNow)
		for _, r := range reqs {
			t.Run(fmt.Sprint(tt.code, r.path), func(t *testing.T) {
				code, body, _ := call(t, r.method, base+r.path, testToken, r.body)
				if code != tt.code || body["error"] != tt.err.Error() {
					t.Errorf("got %d %v, want %d %q", code, body, tt.code, tt.err)
				}
			})
		}
	}
}

func TestUntilClock(t *testing.T) {
	tests := []struct {
		name  string
		now   time.Time
		until string
		want  string
	}{
		{"later today", testNow(), "19:00", "2026-11-27T19:00:00+01:00"},
		{"already past: tomorrow", testNow(), "17:30", "2026-11-28T17:30:00+01:00"},
		{"exactly now: tomorrow", testNow(), "18:00", "2026-11-28T18:00:00+01:00"},
		{"one minute ahead", testNow(), "18:01", "2026-11-27T18:01:00+01:00"},
		{"midnight", testNow(), "0:00", "2026-11-28T00:00:00+01:00"},
		{"month end", time.Date(2026, 11, 30, 22, 0, 0, 0, testZone), "07:00", "2026-12-01T07:00:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := &fakeController{}
			base := startServer(t, ctl, func() time.Time { return tt.now })
			code, body, _ := call(t, "POST", base+"/api/v1/pause", testToken, `{"target":"kid","until":"`+tt.until+`"}`)
			if code != 200 {
				t.Fatalf("got %d %v", code, body)
			}
			if want := "pause kid until " + tt.want + " by api"; ctl.lastCall() != want {
				t.Errorf("controller got %q, want %q", ctl.lastCall(), want)
			}
		})
	}
}

func TestStartNeedsToken(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0", Controller: &fakeController{}})
	if err := s.Start(); err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("started without a token")
	}
	// The handler of a token-less server opens nothing but health.
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/status", nil)
		req.Header.Set("Authorization", auth)
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Errorf("token-less server answered %q with %d, want 401", auth, rec.Code)
		}
	}
}
