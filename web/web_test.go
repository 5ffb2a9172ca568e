package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/havendns/haven/api"
)

func TestLoginFlow(t *testing.T) {
	e := newEnv(t)
	c := client(t)

	code, _, loc := get(t, c, e.url+"/status")
	if code != http.StatusSeeOther || loc != "/login?next=%2Fstatus" {
		t.Fatalf("status page without a session: %d to %q", code, loc)
	}
	code, body, _ := get(t, c, e.url+loc)
	if code != 200 {
		t.Fatalf("login page: %d", code)
	}
	wantTexts(t, body, `<form method="post" action="/login"`, `type="password" name="password"`, `name="next" value="/status"`)
	if strings.Contains(body, "Log out") || csrfRE.MatchString(body) {
		t.Error("the login page shows the menu of a session")
	}

	code, _, loc = post(t, c, e.url+"/login", url.Values{"password": {"letmein!"}, "next": {"/status"}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "error=invalid") {
		t.Fatalf("wrong password: %d to %q", code, loc)
	}
	_, body, _ = get(t, c, e.url+loc)
	wantTexts(t, body, "Wrong password.", `name="next" value="/status"`)

	code, _, loc = post(t, c, e.url+"/login", url.Values{"password": {testPassword}, "next": {"/status"}})
	if code != http.StatusSeeOther || loc != "/status" {
		t.Fatalf("right password: %d to %q", code, loc)
	}
	code, body, _ = get(t, c, e.url+loc)
	if code != 200 {
		t.Fatalf("status page after login: %d", code)
	}
	wantTexts(t, body, "<h1>Status</h1>", "Log out")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	// Logged in, the login page sends you home.
	if code, _, loc := get(t, c, e.url+"/login"); code != http.StatusSeeOther || loc != "/" {
		t.Errorf("login page with a session: %d to %q", code, loc)
	}

	code, _, loc = post(t, c, e.url+"/logout", url.Values{api.CSRFField: {m[1]}})
	if code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	_, body, _ = get(t, c, e.url+loc)
	wantTexts(t, body, "Logged out.")
	if code, _, _ := get(t, c, e.url+"/"); code != http.StatusSeeOther {
		t.Errorf("home after logout: %d", code)
	}
}

func TestHomePage(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	code, body, _ := get(t, c, e.url+"/")
	if code != 200 {
		t.Fatalf("home: %d", code)
	}
	wantTexts(t, body,
		`<a class="device-name" href="/device/kid-tablet">kid-tablet</a>`, "kids",
		"teen-phone", "bedtime until Sat 07:00",
		"dad-laptop", "paused until 19:30",
		"youtube allowed until 20:00",
		`<button name="for" value="30m">Pause 30m</button>`, `<button name="for" value="1h">Pause 1h</button>`,
		`value="`+csrf+`"`,
	)
	// Resume is offered where there is something to resume.
	if n := strings.Count(body, `action="/resume"`); n != 2 {
		t.Errorf("%d resume forms, want 2 (the paused laptop, the tablet's exception)", n)
	}

	blocked := between(t, body, "<h2>Blocked today</h2>", "<h2>Last 24 hours</h2>")
	// adult, gambling and "other" (blocked without a category); social
	// has nothing blocked.
	if n := strings.Count(blocked, `<g class="bar">`); n != 3 {
		t.Errorf("category chart has %d bars, want 3", n)
	}
	wantTexts(t, blocked, "<title>adult: 40 blocked</title>", "<title>other: 5 blocked</title>", "<td>gambling</td><td class=\"num\">3</td>")
	if strings.Contains(blocked, "social") {
		t.Error("a category with nothing blocked is in the chart")
	}
	if strings.Index(blocked, "adult: 40") > strings.Index(blocked, "other: 5") {
		t.Error("categories are not largest first")
	}

	hours := between(t, body, "<h2>Last 24 hours</h2>", "</section>")
	if n := strings.Count(hours, `<g class="bar">`); n != 24 {
		t.Errorf("hour chart has %d bars, want 24", n)
	}
	wantTexts(t, hours, "<title>19:00: 0 queries, 0 blocked</title>", "<title>18:00: 230 queries, 23 blocked</title>",
		"<td>17:00</td><td class=\"num\">220</td><td class=\"num\">22</td>")
	if got := e.b.called("stats"); !slices.Equal(got, []string{
		`stats 2026-11-27T00:00:00+01:00 2026-11-27T18:00:00+01:00 day "category"`,
		`stats 2026-11-26T19:00:00+01:00 2026-11-27T18:00:00+01:00 hour ""`,
	}) {
		t.Errorf("stats asked: %q", got)
	}
}

func between(tb testing.TB, s, from, to string) string {
	tb.Helper()
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		tb.Fatalf("page lacks %q", from)
	}
	part, _, ok := strings.Cut(rest, to)
	if !ok {
		tb.Fatalf("page lacks %q after %q", to, from)
	}
	return part
}

func TestPauseAndResume(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	code, _, loc := post(t, c, e.url+"/pause", url.Values{api.CSRFField: {csrf}, "target": {"kid-tablet"}, "for": {"30m"}, "back": {"/"}})
	if code != http.StatusSeeOther || loc != "/?done=paused" {
		t.Fatalf("pause: %d to %q", code, loc)
	}
	if got := e.b.called("pause"); !slices.Equal(got, []string{"pause kid-tablet until 18:30 by console"}) {
		t.Errorf("backend got %q", got)
	}
	_, body, _ := get(t, c, e.url+loc)
	wantTexts(t, body, `<p class="flash" role="status">Paused.</p>`, "paused until 18:30")

	code, _, loc = post(t, c, e.url+"/resume", url.Values{api.CSRFField: {csrf}, "target": {"kid-tablet"}, "back": {"/device/kid-tablet?done=paused"}})
	if code != http.StatusSeeOther || loc != "/device/kid-tablet?done=resumed" {
		t.Fatalf("resume: %d to %q", code, loc)
	}
	if got := e.b.called("resume"); !slices.Equal(got, []string{"resume kid-tablet"}) {
		t.Errorf("backend got %q", got)
	}

	// The way back stays on this server.
	_, _, loc = post(t, c, e.url+"/pause", url.Values{api.CSRFField: {csrf}, "target": {"kid-tablet"}, "for": {"1h"}, "back": {"https://evil.example/"}})
	if loc != "/?done=paused" {
		t.Errorf("back to another site: redirected to %q", loc)
	}
}

func TestActionsWithoutCSRF(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	forms := map[string]url.Values{
		"/pause":                    {"target": {"kid-tablet"}, "for": {"30m"}},
		"/resume":                   {"target": {"kid-tablet"}},
		"/allow":                    {"target": {"kid-tablet"}, "what": {"youtube"}, "for": {"30m"}},
		"/device/kid-tablet/delete": {"confirm": {"yes"}},
		"/status/refresh":           {},
		"/status/reload":            {},
	}
	for path, form := range forms {
		for _, tok := range []string{"", "wrong" + csrf} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if tok != "" {
				f.Set(api.CSRFField, tok)
			}
			if code, _, _ := post(t, c, e.url+path, f); code != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d, want 403", path, tok, code)
			}
		}
	}
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if len(e.b.calls) != 0 {
		t.Errorf("backend changed without a CSRF token: %q", e.b.calls)
	}
}

func TestActionErrors(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	tests := []struct {
		path     string
		form     url.Values
		wantCode int
		wantText string
	}{
		{"/pause", url.Values{"target": {"kid-tablet"}, "for": {"forever"}}, 400, "invalid duration"},
		{"/pause", url.Values{"target": {"kid-tablet"}, "for": {"-5m"}}, 400, "must be positive"},
		{"/pause", url.Values{"target": {"nobody"}, "for": {"5m"}}, 404, "no device or profile &#34;nobody&#34;"},
		{"/allow", url.Values{"target": {"kid-tablet"}, "for": {"5m"}}, 400, "Allow what?"},
		{"/allow", url.Values{"target": {"kid-tablet"}, "what": {"not a name!"}, "for": {"5m"}}, 400, "is neither a category"},
		{"/device/kid-tablet/delete", url.Values{}, 400, "needs the confirmation"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.form.Encode(), func(t *testing.T) {
			tt.form.Set(api.CSRFField, csrf)
			code, body, _ := post(t, c, e.url+tt.path, tt.form)
			if code != tt.wantCode {
				t.Errorf("status %d, want %d", code, tt.wantCode)
			}
			wantTexts(t, body, tt.wantText, "Log out")
		})
	}
	if got := e.b.called("delete"); len(got) != 0 {
		t.Errorf("deleted without confirmation: %q", got)
	}
}

func TestAllowForm(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	_, body, _ := get(t, c, e.url+"/device/kid-tablet")
	wantTexts(t, body, `<form method="post" action="/allow"`, `<option value="2h">2 hours</option>`)
	code, _, loc := post(t, c, e.url+"/allow", url.Values{api.CSRFField: {csrf}, "target": {"kid-tablet"}, "what": {" youtube "}, "for": {"2h"}, "back": {"/device/kid-tablet"}})
	if code != http.StatusSeeOther || loc != "/device/kid-tablet?done=allowed" {
		t.Fatalf("allow: %d to %q", code, loc)
	}
	if got := e.b.called("allow"); !slices.Equal(got, []string{"allow kid-tablet youtube until 20:00 by console"}) {
		t.Errorf("backend got %q", got)
	}
}

func TestLogPage(t *testing.T) {
	e := newEnv(t)
	c, _ := e.login(t)
	e.b.next = 7
	code, body, _ := get(t, c, e.url+"/log?device=kid-tablet&decision=blocked&name=porn&from=2026-11-27T08:00&done=x")
	if code != 200 {
		t.Fatalf("log: %d", code)
	}
	wantTexts(t, body,
		"<td class=\"when nowrap\">17:57:00</td>", `<a href="/device/kid-tablet">kid-tablet</a>`,
		`<td class="name">pornhub.com <span class="count muted" title="4 identical queries">×4</span></td>`,
		`<span class="decision decision-blocked">blocked</span> <span class="muted">adult</span>`, "<code class=\"rule\">||pornhub.com^</code>",
		"khanacademy.org", "AAAA", "tls://1.1.1.1:853", "23.4 ms",
		`<option selected>kid-tablet</option>`, `<option selected>blocked</option>`, `value="porn"`, `value="2026-11-27T08:00"`,
		`<option>kids</option>`, `<option>teens</option>`,
	)
	f := e.b.filters[len(e.b.filters)-1]
	if f.Device != "kid-tablet" || f.Decision != "blocked" || f.Name != "porn" || f.Limit != logPageSize ||
		f.From.Format("2006-01-02T15:04Z07:00") != "2026-11-27T08:00+01:00" || !f.To.IsZero() || f.Before != 0 {
		t.Errorf("filter %+v", f)
	}
	older := between(t, body, `<p class="pager"> <a class="button secondary" href="`, `" rel="next">Older</a>`)
	if older != "/log?before=7&amp;decision=blocked&amp;device=kid-tablet&amp;from=2026-11-27T08%3A00&amp;name=porn" {
		t.Errorf("older link %q", older)
	}
	if strings.Contains(body, ">Newest<") {
		t.Error("a Newest link on the newest page")
	}

	e.b.next = 0
	_, body, _ = get(t, c, e.url+"/log?before=7")
	if f := e.b.filters[len(e.b.filters)-1]; f.Before != 7 {
		t.Errorf("before: %+v", f)
	}
	wantTexts(t, body, `href="/log">Newest</a>`, "<td class=\"who\">192.168.1.40</td>", "<td class=\"via\">cache</td>", "26 Nov 17:57:00")
	if strings.Contains(body, "Older") {
		t.Error("an Older link on the last page")
	}

	_, body, _ = get(t, c, e.url+"/log?from=yesterday")
	wantTexts(t, body, "From: write the time as")
}

func TestDevicePage(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	code, body, _ := get(t, c, e.url+"/device/kid-tablet")
	if code != 200 {
		t.Fatalf("device: %d", code)
	}
	wantTexts(t, body,
		"<h1>kid-tablet</h1>", "<strong>kids</strong>", "youtube allowed until 20:00",
		`<span class="name">pornhub.com</span> <span class="muted">12</span>`,
		`<span class="name">khanacademy.org</span> <span class="muted">99</span>`,
		"<td class=\"name\">khanacademy.org</td>", `href="/log?device=kid-tablet"`, // once: no "×1"
		`href="/device/kid-tablet/delete"`, `value="`+csrf+`"`,
	)
	if strings.Contains(body, "example.com") {
		t.Error("another device's query is on the page")
	}
	if got := e.b.called("top"); !slices.Equal(got, []string{
		"top 2026-11-27T00:00:00+01:00 2026-11-27T18:00:00+01:00 true kid-tablet 10",
		"top 2026-11-27T00:00:00+01:00 2026-11-27T18:00:00+01:00 false kid-tablet 10",
	}) {
		t.Errorf("top asked: %q", got)
	}
	if code, body, _ := get(t, c, e.url+"/device/nobody"); code != 404 || !strings.Contains(body, "no device") {
		t.Errorf("unknown device: %d", code)
	}
	if code, _, _ := get(t, c, e.url+"/nowhere"); code != 404 {
		t.Errorf("unknown page: %d", code)
	}
}

func TestDeleteHistory(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	_, body, _ := get(t, c, e.url+"/device/kid-tablet/delete")
	wantTexts(t, body, "Delete the history of kid-tablet?", `action="/device/kid-tablet/delete"`, `name="confirm" value="yes"`)
	if len(e.b.called("delete")) != 0 {
		t.Fatal("the confirmation page deleted")
	}
	code, _, loc := post(t, c, e.url+"/device/kid-tablet/delete", url.Values{api.CSRFField: {csrf}, "confirm": {"yes"}})
	if code != http.StatusSeeOther || loc != "/device/kid-tablet?done=deleted&n=5" {
		t.Fatalf("delete: %d to %q", code, loc)
	}
	if got := e.b.called("delete"); !slices.Equal(got, []string{"delete log kid-tablet"}) {
		t.Errorf("backend got %q", got)
	}
	_, body, _ = get(t, c, e.url+loc)
	wantTexts(t, body, "History deleted (5 queries).")
}

func TestStatusPage(t *testing.T) {
	e := newEnv(t)
	c, csrf := e.login(t)
	_, body, _ := get(t, c, e.url+"/status")
	wantTexts(t, body,
		"Haven 1.2.3",
		"https://example.org/porn-hosts.txt", "123456", "2h ago", "2h", `<span class="good">ok</span>`,
		"GET https://example.org/malware.txt: 404 Not Found", "built in",
		"tls://1.1.1.1:853", "12.3 ms", `<span class="good">healthy</span>`,
		"udp://9.9.9.9:53", "down, retry in 30s", "i/o timeout",
		"<dd>321</dd>", "<dd>83%</dd>",
		`<span class="good">writing</span>`, "<dd>5555</dd>", `<span class="bad">17</span>`,
		`action="/status/refresh"`, `action="/status/reload"`,
	)

	code, _, loc := post(t, c, e.url+"/status/refresh", url.Values{api.CSRFField: {csrf}})
	if code != http.StatusSeeOther || loc != "/status?done=refreshed" || len(e.b.called("refresh")) != 1 {
		t.Errorf("refresh: %d to %q, calls %q", code, loc, e.b.calls)
	}
	code, _, loc = post(t, c, e.url+"/status/reload", url.Values{api.CSRFField: {csrf}})
	if code != http.StatusSeeOther || loc != "/status?done=reloaded" {
		t.Errorf("reload: %d to %q", code, loc)
	}

	e.b.reloadErr = fmt.Errorf("/etc/haven/haven.yaml:3: unknown key \"lsts\"\n/etc/haven/haven.yaml:12: refresh: bad duration \"4\": %w", api.ErrInvalid)
	code, body, _ = post(t, c, e.url+"/status/reload", url.Values{api.CSRFField: {csrf}})
	if code != 400 {
		t.Errorf("rejected reload: %d", code)
	}
	wantTexts(t, body, "The config was not reloaded",
		"<li><code>/etc/haven/haven.yaml:3: unknown key &#34;lsts&#34;</code></li>",
		"<li><code>/etc/haven/haven.yaml:12: refresh: bad duration &#34;4&#34;: invalid request</code></li>",
		"https://example.org/porn-hosts.txt")
}

func TestQueryLogOff(t *testing.T) {
	e := newEnv(t)
	e.b.logErr = fmt.Errorf("the query log is off: %w", api.ErrUnavailable)
	c, _ := e.login(t)
	_, body, _ := get(t, c, e.url+"/")
	wantTexts(t, body, "kid-tablet", "Pause 30m", "the query log is off")
	_, body, _ = get(t, c, e.url+"/device/kid-tablet")
	wantTexts(t, body, "<h1>kid-tablet</h1>", "the query log is off")
	_, body, _ = get(t, c, e.url+"/log")
	wantTexts(t, body, "the query log is off")
}

func TestPageHeaders(t *testing.T) {
	e := newEnv(t)
	c, _ := e.login(t)
	for _, path := range []string{"/", "/login", "/static/style.css"} {
		resp, err := c.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if path == "/login" {
			continue // a redirect home, with a session
		}
		if h.Get("Content-Security-Policy") != contentPolicy || h.Get("X-Frame-Options") != "DENY" || resp.StatusCode != 200 {
			t.Errorf("%s: %d %v", path, resp.StatusCode, h)
		}
	}
	_, css, _ := get(t, client(t), e.url+"/static/style.css")
	if !strings.Contains(css, "svg .blocked") {
		t.Error("the stylesheet is not served without a session")
	}
}

func TestFlashOnlyKnownCodes(t *testing.T) {
	e := newEnv(t)
	c, _ := e.login(t)
	_, body, _ := get(t, c, e.url+"/?done=%3Cb%3Ecall+0800%3C%2Fb%3E")
	if strings.Contains(body, "class=\"flash\"") || strings.Contains(body, "0800") {
		t.Error("an unknown done code put text on the page")
	}
}
