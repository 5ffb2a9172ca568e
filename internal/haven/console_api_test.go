package haven_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics with tok and parses the text format.
func (e *consoleEnv) scrape(tb testing.TB, tok string) map[string]*dto.MetricFamily {
	tb.Helper()
	resp, body := e.call(tb, http.MethodGet, "/metrics", tok, "")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %s: %s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams
}

// metricSum adds up the counter or gauge values of the family name whose labels
// include every pair of match.
func metricSum(fams map[string]*dto.MetricFamily, name string, match ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	total := 0.0
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(match); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == match[i] && l.GetValue() == match[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// TestConsoleMetrics checks /metrics after real queries: blocked queries,
// a query refused by the access list, queries over the rate limit, a cache
// hit; and that the page needs the token unless the config makes it
// public.
func TestConsoleMetrics(t *testing.T) {
	t.Parallel()
	e := startConsole(t, fmt.Sprintf("access: {deny: [%q]}\nrate_limit: {client: 1, burst: 1, exempt: [%q, %q, %q]}\n",
		deniedIP, tabletIP, phoneIP, otherIP))
	const blocks = 3
	for range blocks {
		e.mustDig(t, tabletIP, "adult.test", "NXDOMAIN blocked:adult")
	}
	e.mustDig(t, tabletIP, "example.com", "NOERROR A 192.0.2.1")
	e.mustDig(t, tabletIP, "example.com", "NOERROR A 192.0.2.1") // from the cache
	e.mustDig(t, deniedIP, "example.com", "REFUSED")
	// One query a second, burst one: of three at once, two are refused.
	var limited int
	for range 3 {
		if e.dig(t, floodIP, "example.com") == "REFUSED" {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("no query over the rate limit was refused")
	}

	// The metrics are counted just after each answer is written, so the
	// last ones may lag the answers by a moment.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams = e.scrape(t, e.token)
		if metricSum(fams, "haven_queries_total", "decision", "blocked") >= blocks &&
			metricSum(fams, "haven_refused_total") >= float64(1+limited) && metricSum(fams, "haven_cache_hits_total") >= 1 ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := metricSum(fams, "haven_queries_total", "decision", "blocked"); n < blocks {
		t.Errorf("haven_queries_total{decision=blocked} = %v, want ≥ %d", n, blocks)
	}
	if n := metricSum(fams, "haven_queries_total", "decision", "blocked", "profile", "kids", "category", "adult", "proto", "udp"); n != blocks {
		t.Errorf("haven_queries_total{decision=blocked,profile=kids,category=adult,proto=udp} = %v, want %d", n, blocks)
	}
	acl, rate := metricSum(fams, "haven_refused_total", "reason", "acl"), metricSum(fams, "haven_refused_total", "reason", "ratelimit")
	if acl != 1 || rate != float64(limited) {
		var got []string
		for _, m := range fams["haven_refused_total"].GetMetric() {
			got = append(got, m.String())
		}
		t.Errorf("haven_refused_total: acl %v, ratelimit %v; want 1 and %d; series: %q", acl, rate, limited, got)
	}
	if n := metricSum(fams, "haven_cache_hits_total"); n < 1 {
		t.Errorf("haven_cache_hits_total = %v after a repeated query, want ≥ 1", n)
	}

	t.Run("auth", func(t *testing.T) {
		resp, _ := e.call(t, http.MethodGet, "/metrics", "", "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/metrics without credentials: %s, want 401", resp.Status)
		}
		resp, _ = e.call(t, http.MethodGet, "/metrics", "not-the-token-0123456789", "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/metrics with a wrong token: %s, want 401", resp.Status)
		}
	})

	t.Run("public", func(t *testing.T) {
		t.Parallel()
		p := startConsole(t, "console: {public_metrics: true}\n")
		if fams := p.scrape(t, ""); fams["haven_queries_total"] == nil && fams["haven_cache_hits_total"] == nil {
			t.Errorf("public /metrics has no Haven metrics: %v", fams)
		}
		// Only the metrics are public.
		if resp, _ := p.call(t, http.MethodGet, "/api/v1/status", "", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/api/v1/status without credentials with public metrics: %s, want 401", resp.Status)
		}
	})
}

// TestConsoleAuth calls every endpoint of api/README.md without
// credentials, with a wrong token and with the right one, and every
// console page without a session.
func TestConsoleAuth(t *testing.T) {
	t.Parallel()
	e := startConsole(t, "")
	endpoints := []struct{ method, path, body string }{
		{"GET", "/api/v1/status", ""},
		{"GET", "/api/v1/state", ""},
		{"POST", "/api/v1/pause", `{"target":"kid-tablet","for":"30m"}`},
		{"POST", "/api/v1/allow", `{"target":"kid-tablet","what":"adult","for":"30m"}`},
		{"POST", "/api/v1/resume", `{"target":"kid-tablet"}`},
		{"GET", "/api/v1/check?name=adult.test&client=" + tabletIP, ""},
		{"POST", "/api/v1/lists/refresh", ""},
		{"GET", "/api/v1/devices", ""},
		{"GET", "/api/v1/log", ""},
		{"DELETE", "/api/v1/log?device=kid-tablet", ""},
		{"GET", "/api/v1/stats", ""},
		{"GET", "/api/v1/top", ""},
		{"POST", "/api/v1/reload", ""},
		{"GET", "/metrics", ""},
		{"GET", "/api/v1/nosuch", ""}, // unknown paths cannot be probed either
	}
	for _, ep := range endpoints {
		what := ep.method + " " + ep.path
		resp, body := e.call(t, ep.method, ep.path, "", ep.body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without credentials: %s (WWW-Authenticate %q) %s, want 401 with a Bearer challenge",
				what, resp.Status, resp.Header.Get("WWW-Authenticate"), body)
		}
		resp, body = e.call(t, ep.method, ep.path, "wrong-token-0123456789abcdef", ep.body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s with a wrong token: %s (WWW-Authenticate %q) %s, want 401 invalid_token",
				what, resp.Status, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
	// Nothing done without credentials changed anything.
	var st struct{ Entries []json.RawMessage }
	e.getJSON(t, "/api/v1/state", &st)
	if len(st.Entries) != 0 {
		t.Fatalf("state after unauthenticated requests: %s", st.Entries)
	}
	for _, ep := range endpoints {
		what := ep.method + " " + ep.path
		resp, body := e.call(t, ep.method, ep.path, e.token, ep.body)
		want := http.StatusOK
		if ep.path == "/api/v1/nosuch" {
			want = http.StatusNotFound
		}
		if resp.StatusCode != want {
			t.Errorf("%s with the token: %s %s, want %d", what, resp.Status, body, want)
		}
	}
	if resp, body := e.call(t, "GET", "/api/v1/health", "", ""); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("health without credentials: %s %s, want 200 ok", resp.Status, body)
	}

	// Console pages: without a session, to the login page; forms change
	// nothing.
	pages := []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/log"},
		{"GET", "/status"},
		{"GET", "/device/kid-tablet"},
		{"GET", "/device/kid-tablet/delete"},
		{"POST", "/pause"},
		{"POST", "/allow"},
		{"POST", "/resume"},
		{"POST", "/status/refresh"},
		{"POST", "/status/reload"},
		{"POST", "/device/kid-tablet/delete"},
	}
	for _, p := range pages {
		for _, tok := range []string{"", e.token} { // a bearer token is no console session
			var body string
			if p.method == "POST" {
				body = "target=kid-tablet&for=30m&confirm=yes"
			}
			req, err := http.NewRequest(p.method, e.base+p.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/login" {
				t.Errorf("%s %s without a session (token %v): %s to %q, want 303 to /login", p.method, p.path, tok != "", resp.Status, resp.Header.Get("Location"))
			} else if p.method == "GET" && loc.Query().Get("next") != p.path {
				t.Errorf("%s %s: login redirect %q does not come back to the page", p.method, p.path, loc)
			}
		}
	}
	if resp, _ := e.call(t, "GET", "/login", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("the login page: %s, want 200", resp.Status)
	}
	e.mustDig(t, tabletIP, "example.com", "NOERROR A 192.0.2.1") // not paused by a form
}

// TestConsoleReload rewrites the config file and reloads it through the
// API: a new deny entry blocks at once; a broken file is a 400 naming its
// file:line, and the config before it keeps serving.
func TestConsoleReload(t *testing.T) {
	t.Parallel()
	e := startConsole(t, "")
	e.mustDig(t, tabletIP, "new.test", "NOERROR A 192.0.2.40")

	rewrite(t, e.file, e.body+"deny: [new.test]\n")
	resp, body := e.call(t, http.MethodPost, "/api/v1/reload", e.token, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("reload: %s %s", resp.Status, body)
	}
	e.mustDig(t, tabletIP, "new.test", "NXDOMAIN blocked:custom")
	e.mustDig(t, phoneIP, "new.test", "NXDOMAIN blocked:custom") // top-level deny: every profile

	good := e.body + "deny: [new.test]\n"
	broken := good + "block: [nosuch]\n"
	line := strings.Count(good, "\n") + 1
	rewrite(t, e.file, broken)
	resp, body = e.call(t, http.MethodPost, "/api/v1/reload", e.token, "")
	var msg struct{ Error string }
	_ = json.Unmarshal(body, &msg)
	if want := fmt.Sprintf("%s:%d:", e.file, line); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(msg.Error, want) || !strings.Contains(msg.Error, "nosuch") {
		t.Errorf("broken config: %s %s, want 400 with %q and nosuch", resp.Status, body, want)
	}
	e.mustDig(t, tabletIP, "new.test", "NXDOMAIN blocked:custom")
	e.mustDig(t, tabletIP, "example.com", "NOERROR A 192.0.2.1")
	e.mustDig(t, tabletIP, "adult.test", "NXDOMAIN blocked:adult")
}
