package api

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/state"
)

func TestConsoleRoutes(t *testing.T) {
	at := time.Date(2026, 11, 27, 16, 59, 0, 0, time.UTC)
	ctl := &fakeController{
		devices: []Device{
			{Name: "kid-tablet", Profile: "kids", State: "paused", Until: at.Add(time.Hour),
				Exceptions: []state.Entry{{ID: "a1", Target: "kid-tablet", Kind: state.Allow, What: "youtube", Until: at.Add(30 * time.Minute), Created: at, By: "mum"}}},
			{Name: "laptop", Profile: "adults", State: "allowed"},
		},
		rows: []querylog.Row{{ID: 41, Entry: querylog.Entry{
			Time: at, Client: netip.MustParseAddr("192.168.1.23"), Device: "kid-tablet", Profile: "kids",
			Name: "pornhub.com", Type: 1, Proto: "udp", Decision: "blocked", Category: "adult", Rule: "||pornhub.com^",
			Cache: "none", Rcode: 3, Latency: 1500 * time.Microsecond,
		}, Count: 7}, {ID: 40, Entry: querylog.Entry{Time: at, Name: "odd.example", Type: 65400, Decision: "allowed", Cache: "hit", Rcode: 3841}}},
		next:    40,
		stats:   []querylog.Stat{{Start: at.Truncate(time.Hour), Key: "adult", Total: 9, Blocked: 4}},
		top:     []querylog.Count{{Name: "youtube.com", N: 12}},
		deleted: 123,
	}
	base := startServer(t, ctl, testNow) // 17:00 UTC
	tests := []struct {
		method, path string
		wantCall     string
		wantBody     string
	}{
		{"GET", "/api/v1/devices", "devices",
			`{"devices":[{"name":"kid-tablet","profile":"kids","state":"paused","until":"2026-11-27T17:59:00Z","exceptions":[` +
				`{"id":"a1","target":"kid-tablet","kind":"allow","what":"youtube","until":"2026-11-27T17:29:00Z","created":"2026-11-27T16:59:00Z","by":"mum"}]},` +
				`{"name":"laptop","profile":"adults","state":"allowed","exceptions":[]}]}`},
		{"GET", "/api/v1/log", "search {Device: Profile: Client: Name: Decision: Category: From:0001-01-01 00:00:00 +0000 UTC To:0001-01-01 00:00:00 +0000 UTC Limit:0 Before:0}",
			`{"rows":[{"id":41,"time":"2026-11-27T16:59:00Z","client":"192.168.1.23","device":"kid-tablet","profile":"kids","name":"pornhub.com",` +
				`"type":"A","proto":"udp","decision":"blocked","category":"adult","rule":"||pornhub.com^","cache":"none","rcode":"NXDOMAIN","latency":"1.5ms","count":7},` +
				`{"id":40,"time":"2026-11-27T16:59:00Z","name":"odd.example","type":"TYPE65400","proto":"","decision":"allowed","cache":"hit","rcode":"RCODE3841","latency":"0s","count":1}],"next":40}`},
		{"GET", "/api/v1/log?device=kid-tablet&profile=kids&client=192.168.1.23&name=porn&decision=blocked&category=adult" +
			"&from=2026-11-27T10:00:00Z&to=1795792800000&limit=50&before=41",
			"search {Device:kid-tablet Profile:kids Client:192.168.1.23 Name:porn Decision:blocked Category:adult " +
				"From:2026-11-27 10:00:00 +0000 UTC To:2026-11-27 16:20:00 +0100 CET Limit:50 Before:41}", ""},
		{"DELETE", "/api/v1/log?device=kid-tablet", "delete log kid-tablet", `{"deleted":123}`},
		{"GET", "/api/v1/stats", `stats 2026-11-26T18:00:00+01:00 2026-11-27T18:00:00+01:00 hour ""`,
			`{"stats":[{"start":"2026-11-27T16:00:00Z","key":"adult","total":9,"blocked":4}]}`},
		{"GET", "/api/v1/stats?from=2026-11-20T00:00:00%2B01:00&to=2026-11-27T00:00:00%2B01:00&bucket=day&by=category",
			`stats 2026-11-20T00:00:00+01:00 2026-11-27T00:00:00+01:00 day "category"`, ""},
		{"GET", "/api/v1/top", `top 2026-11-26T18:00:00+01:00 2026-11-27T18:00:00+01:00 false "" 10`,
			`{"top":[{"name":"youtube.com","n":12}]}`},
		{"GET", "/api/v1/top?blocked=true&device=kid-tablet&n=5&from=1795767600000",
			`top 2026-11-27T09:20:00+01:00 2026-11-27T18:00:00+01:00 true "kid-tablet" 5`, ""},
		{"POST", "/api/v1/reload", "reload", `{"status":"ok"}`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body, _ := call(t, tt.method, base+tt.path, testToken, "")
			if code != 200 {
				t.Errorf("status %d (%v)", code, body)
			}
			if got := ctl.lastCall(); got != tt.wantCall {
				t.Errorf("controller call\n got %q\nwant %q", got, tt.wantCall)
			}
			if tt.wantBody != "" {
				if g := jsonString(t, body); g != jsonString(t, decodeJSON(t, tt.wantBody)) {
					t.Errorf("body\n got %s\nwant %s", g, tt.wantBody)
				}
			}
		})
	}
}

func decodeJSON(tb testing.TB, s string) map[string]any {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestConsoleRoutesBadRequests(t *testing.T) {
	ctl := &fakeController{}
	base := startServer(t, ctl, testNow)
	tests := []struct {
		method, path, wantErr string
	}{
		{"GET", "/api/v1/devices?all=1", `unknown parameter "all"`},
		{"GET", "/api/v1/log?device=a&dev=b", `unknown parameter "dev"`},
		{"GET", "/api/v1/log?client=kid-tablet", "not an IP address"},
		{"GET", "/api/v1/log?decision=maybe", "decision"},
		{"GET", "/api/v1/log?from=yesterday", "neither an RFC 3339 time nor unix milliseconds"},
		{"GET", "/api/v1/log?to=2026-11-27", "neither an RFC 3339"},
		{"GET", "/api/v1/log?limit=0", "limit"},
		{"GET", "/api/v1/log?limit=1001", "limit"},
		{"GET", "/api/v1/log?before=-3", "before"},
		{"GET", "/api/v1/log?before=x", "before"},
		{"DELETE", "/api/v1/log", "device is required"},
		{"DELETE", "/api/v1/log?device=a&name=b", `unknown parameter "name"`},
		{"GET", "/api/v1/stats?bucket=week", "bucket"},
		{"GET", "/api/v1/stats?by=name", "by"},
		{"GET", "/api/v1/stats?from=2026-11-28T00:00:00Z&to=2026-11-27T00:00:00Z", "from must be before to"},
		{"GET", "/api/v1/top?blocked=sometimes", "blocked"},
		{"GET", "/api/v1/top?n=many", "n:"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body, _ := call(t, tt.method, base+tt.path, testToken, "")
			msg, _ := body["error"].(string)
			if code != 400 || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("got %d %q, want 400 containing %q", code, msg, tt.wantErr)
			}
		})
	}
	if code, body, _ := call(t, "POST", base+"/api/v1/reload", testToken, `{"file":"/etc/passwd"}`); code != 400 {
		t.Errorf("reload with a body: %d %v", code, body)
	}
	if len(ctl.calls) != 0 {
		t.Errorf("controller called for bad requests: %v", ctl.calls)
	}
}

func TestConsoleRoutesErrors(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("the query log is off: %w", ErrUnavailable), 503},
		{fmt.Errorf("no device %q: %w", "x", ErrNotFound), 404},
		{fmt.Errorf("haven.yaml:3: unknown key \"lists2\"\nhaven.yaml:9: bad duration: %w", ErrInvalid), 400},
		{fmt.Errorf("disk on fire"), 500},
	}
	reqs := []struct{ method, path string }{
		{"GET", "/api/v1/devices"},
		{"GET", "/api/v1/log"},
		{"DELETE", "/api/v1/log?device=x"},
		{"GET", "/api/v1/stats"},
		{"GET", "/api/v1/top"},
		{"POST", "/api/v1/reload"},
	}
	for _, tt := range tests {
		base := startServer(t, &fakeController{err: tt.err}, testNow)
		for _, r := range reqs {
			t.Run(fmt.Sprint(tt.code, r.method, r.path), func(t *testing.T) {
				code, body, _ := call(t, r.method, base+r.path, testToken, "")
				if code != tt.code || body["error"] != tt.err.Error() {
					t.Errorf("got %d %v, want %d %q", code, body, tt.code, tt.err)
				}
			})
		}
	}
}
