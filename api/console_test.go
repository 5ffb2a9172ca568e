package api

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

const testPassword = "correct horse battery"

// testHash is testPassword's hash at the lowest accepted cost, computed
// once: the default cost is for real passwords, not for test runs.
var testHash = sync.OnceValue(func() string {
	h, err := hashPassword(testPassword, minIterations)
	if err != nil {
		panic(err)
	}
	return h
})

// fakeConsole answers every request with its path and the CSRF token of
// the request's session, and counts the requests that reach it.
type fakeConsole struct {
	mu   sync.Mutex
	hits []string
}

func (f *fakeConsole) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits = append(f.hits, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	sess, ok := SessionFrom(r.Context())
	if ok {
		io.WriteString(w, "csrf="+sess.CSRF+"\n")
	}
	io.WriteString(w, "console "+r.URL.Path)
}

func (f *fakeConsole) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hits)
}

type consoleEnv struct {
	base    string
	srv     *Server
	ctl     *fakeController
	console *fakeConsole
	clock   *dnstest.Clock
}

// startConsole runs a server with a console, a password and metrics.
func startConsole(tb testing.TB, opt Options) *consoleEnv {
	tb.Helper()
	env := &consoleEnv{ctl: &fakeController{}, console: &fakeConsole{}, clock: dnstest.NewClock(testNow())}
	opt.Addr = "127.0.0.1:0"
	opt.Controller = env.ctl
	opt.Token = testToken
	opt.Console = env.console
	opt.Now = env.clock.Now
	if opt.PasswordHash == "" && opt.DataDir == "" {
		opt.PasswordHash = testHash()
	}
	if opt.Metrics == nil {
		opt.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "haven_queries_total 42\n")
		})
	}
	env.srv = New(opt)
	if err := env.srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = env.srv.Shutdown(context.Background()) })
	env.base = "http://" + env.srv.Addr()
	return env
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that tests see them.
func browser(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// send makes a request and returns the status, the body and the headers.
func send(tb testing.TB, c *http.Client, method, u, body string, hdr map[string]string) (int, string, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var formType = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// postForm posts a form and returns the status and the redirect target.
func postForm(tb testing.TB, c *http.Client, u string, form url.Values) (int, string) {
	tb.Helper()
	code, _, hdr := send(tb, c, "POST", u, form.Encode(), formType)
	return code, hdr.Get("Location")
}

// login logs c in and returns the session's CSRF token.
func (env *consoleEnv) login(tb testing.TB, c *http.Client) string {
	tb.Helper()
	code, loc := postForm(tb, c, env.base+LoginPath, url.Values{PasswordField: {testPassword}})
	if code != http.StatusSeeOther || loc != "/" {
		tb.Fatalf("login: %d to %q", code, loc)
	}
	code, body, _ := send(tb, c, "GET", env.base+"/", "", nil)
	tok, ok := strings.CutPrefix(strings.SplitN(body, "\n", 2)[0], "csrf=")
	if code != 200 || !ok || tok == "" {
		tb.Fatalf("after login: %d %q", code, body)
	}
	return tok
}

func TestAuthMatrix(t *testing.T) {
	env := startConsole(t, Options{})
	sess := browser(t)
	csrf := env.login(t, sess)
	anon := browser(t)
	bearer := map[string]string{"Authorization": "Bearer " + testToken}
	withCSRF := map[string]string{CSRFHeader: csrf}
	tests := []struct {
		name   string
		c      *http.Client
		method string
		path   string
		hdr    map[string]string
		want   int
	}{
		{"no auth GET", anon, "GET", "/api/v1/state", nil, 401},
		{"no auth POST", anon, "POST", "/api/v1/resume", nil, 401},
		{"no auth metrics", anon, "GET", "/metrics", nil, 401},
		{"bearer GET", anon, "GET", "/api/v1/state", bearer, 200},
		{"bearer POST", anon, "POST", "/api/v1/resume", bearer, 200},
		{"bearer metrics", anon, "GET", "/metrics", bearer, 200},
		{"session GET", sess, "GET", "/api/v1/state", nil, 200},
		{"session metrics", sess, "GET", "/metrics", nil, 200},
		{"session POST without CSRF", sess, "POST", "/api/v1/resume", nil, 403},
		{"session POST wrong CSRF", sess, "POST", "/api/v1/resume", map[string]string{CSRFHeader: csrf + "x"}, 403},
		{"session POST with CSRF", sess, "POST", "/api/v1/resume", withCSRF, 200},
		{"session DELETE without CSRF", sess, "DELETE", "/api/v1/log?device=kid", nil, 403},
		{"session DELETE with CSRF", sess, "DELETE", "/api/v1/log?device=kid", withCSRF, 200},
		{"session POST from another site", sess, "POST", "/api/v1/resume",
			map[string]string{CSRFHeader: csrf, "Origin": "http://evil.example"}, 403},
		{"session POST cross-site fetch", sess, "POST", "/api/v1/resume",
			map[string]string{CSRFHeader: csrf, "Sec-Fetch-Site": "cross-site"}, 403},
		{"session POST same origin", sess, "POST", "/api/v1/resume",
			map[string]string{CSRFHeader: csrf, "Origin": env.base, "Sec-Fetch-Site": "same-origin"}, 200},
		{"wrong bearer beats a good cookie", sess, "GET", "/api/v1/state", map[string]string{"Authorization": "Bearer nope-nope-nope-nope"}, 401},
		{"health is open", anon, "GET", "/api/v1/health", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if strings.HasSuffix(tt.path, "resume") {
				body = `{"target":"kid"}`
			}
			code, got, _ := send(t, tt.c, tt.method, env.base+tt.path, body, tt.hdr)
			if code != tt.want {
				t.Errorf("got %d %s, want %d", code, got, tt.want)
			}
		})
	}
}

func TestPublicMetrics(t *testing.T) {
	env := startConsole(t, Options{PublicMetrics: true})
	code, body, _ := send(t, browser(t), "GET", env.base+"/metrics", "", nil)
	if code != 200 || !strings.Contains(body, "haven_queries_total 42") {
		t.Errorf("public metrics: %d %q", code, body)
	}
	// Public metrics open nothing else.
	if code, _, _ := send(t, browser(t), "GET", env.base+"/api/v1/state", "", nil); code != 401 {
		t.Errorf("state with public metrics: %d", code)
	}
}

func TestConsoleNeedsSession(t *testing.T) {
	env := startConsole(t, Options{})
	anon := browser(t)
	tests := []struct {
		method, path string
		wantCode     int
		wantLoc      string // "" when the console answers
	}{
		{"GET", "/", 303, "/login?next=%2F"},
		{"GET", "/log?device=kid", 303, "/login?next=%2Flog%3Fdevice%3Dkid"},
		{"GET", "/status", 303, "/login?next=%2Fstatus"},
		{"POST", "/pause", 303, "/login"},
		{"GET", "/login", 200, ""},
		{"GET", "/static/style.css", 200, ""},
		{"POST", "/logout", 303, "/login?done=logout"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body, hdr := send(t, anon, tt.method, env.base+tt.path, "target=kid&for=30m", formType)
			if code != tt.wantCode || hdr.Get("Location") != tt.wantLoc {
				t.Errorf("got %d to %q, want %d to %q", code, hdr.Get("Location"), tt.wantCode, tt.wantLoc)
			}
			if tt.wantLoc == "" && (strings.Contains(body, "csrf=") || !strings.Contains(body, "console "+tt.path)) {
				t.Errorf("console answered %q", body)
			}
			if hdr.Get("X-Frame-Options") != "DENY" || hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("headers: %v", hdr)
			}
		})
	}
	if got := env.console.hits; len(got) != 2 {
		t.Errorf("console reached without a session: %v", got)
	}
}

func TestConsoleCSRF(t *testing.T) {
	env := startConsole(t, Options{})
	c := browser(t)
	csrf := env.login(t, c)
	before := env.console.count()
	for _, form := range []url.Values{
		{"target": {"kid"}},
		{"target": {"kid"}, CSRFField: {"forged"}},
	} {
		if code, _ := postForm(t, c, env.base+"/pause", form); code != 403 {
			t.Errorf("POST %v: %d, want 403", form, code)
		}
	}
	if env.console.count() != before {
		t.Fatalf("a request without the CSRF token reached the console")
	}
	code, body, _ := send(t, c, "POST", env.base+"/pause", url.Values{"target": {"kid"}, CSRFField: {csrf}}.Encode(), formType)
	if code != 200 || !strings.Contains(body, "console /pause") {
		t.Errorf("POST with the token: %d %q", code, body)
	}
	// The header works for the console as well as for the API.
	code, _, _ = send(t, c, "POST", env.base+"/pause", "", map[string]string{CSRFHeader: csrf})
	if code != 200 {
		t.Errorf("POST with the header: %d", code)
	}
}

func TestLogin(t *testing.T) {
	env := startConsole(t, Options{})
	tests := []struct {
		name     string
		form     url.Values
		hdr      map[string]string
		wantCode int
		wantLoc  string
	}{
		{"wrong password", url.Values{PasswordField: {"wrong password"}}, nil, 303, "/login?error=invalid"},
		{"wrong password keeps next", url.Values{PasswordField: {"nope"}, NextField: {"/status"}}, nil, 303, "/login?error=invalid&next=%2Fstatus"},
		{"empty password", url.Values{}, nil, 303, "/login?error=invalid"},
		{"right password", url.Values{PasswordField: {testPassword}}, nil, 303, "/"},
		{"next", url.Values{PasswordField: {testPassword}, NextField: {"/log?device=kid"}}, nil, 303, "/log?device=kid"},
		{"no open redirect", url.Values{PasswordField: {testPassword}, NextField: {"//evil.example/"}}, nil, 303, "/"},
		{"no absolute redirect", url.Values{PasswordField: {testPassword}, NextField: {"https://evil.example/"}}, nil, 303, "/"},
		{"no backslash redirect", url.Values{PasswordField: {testPassword}, NextField: {"/\\evil.example"}}, nil, 303, "/"},
		{"from another site", url.Values{PasswordField: {testPassword}}, map[string]string{"Origin": "http://evil.example"}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.clock.Advance(time.Minute) // stay under the rate limit
			c := browser(t)
			hdr := map[string]string{"Content-Type": formType["Content-Type"]}
			for k, v := range tt.hdr {
				hdr[k] = v
			}
			code, _, h := send(t, c, "POST", env.base+LoginPath, tt.form.Encode(), hdr)
			if code != tt.wantCode || h.Get("Location") != tt.wantLoc {
				t.Fatalf("got %d to %q, want %d to %q", code, h.Get("Location"), tt.wantCode, tt.wantLoc)
			}
			var cookie *http.Cookie
			for _, ck := range (&http.Response{Header: h}).Cookies() {
				if ck.Name == SessionCookie {
					cookie = ck
				}
			}
			if loggedIn := tt.wantCode == 303 && !strings.HasPrefix(tt.wantLoc, LoginPath); loggedIn != (cookie != nil) {
				t.Fatalf("session cookie %v, want one: %v", cookie, loggedIn)
			}
			if cookie != nil && (!cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.Path != "/" || len(cookie.Value) < 40) {
				t.Errorf("cookie %+v", cookie)
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	env := startConsole(t, Options{})
	c := browser(t)
	for i := range loginBurst {
		if _, loc := postForm(t, c, env.base+LoginPath, url.Values{PasswordField: {"guess"}}); loc != "/login?error=invalid" {
			t.Fatalf("attempt %d: to %q", i+1, loc)
		}
	}
	// Over the limit even the right password is not checked.
	if _, loc := postForm(t, c, env.base+LoginPath, url.Values{PasswordField: {testPassword}}); loc != "/login?error=limited" {
		t.Fatalf("attempt %d: to %q, want limited", loginBurst+1, loc)
	}
	env.clock.Advance(loginInterval / 2)
	if _, loc := postForm(t, c, env.base+LoginPath, url.Values{PasswordField: {testPassword}}); loc != "/login?error=limited" {
		t.Fatalf("half an interval later: to %q, want limited", loc)
	}
	env.clock.Advance(loginInterval)
	if _, loc := postForm(t, c, env.base+LoginPath, url.Values{PasswordField: {testPassword}}); loc != "/" {
		t.Fatalf("after the interval: to %q, want logged in", loc)
	}
}

func TestClientOf(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.168.1.23:5555", "192.168.1.23/32"},
		{"[::ffff:192.168.1.23]:5555", "192.168.1.23/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:443", "fe80::/64"},
		{"garbage", "invalid Prefix"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if got := clientOf(r).String(); got != tt.want {
			t.Errorf("clientOf(%q) = %s, want %s", tt.remote, got, tt.want)
		}
	}
}

func TestLogoutAndExpiry(t *testing.T) {
	env := startConsole(t, Options{})
	c := browser(t)
	csrf := env.login(t, c)

	// Logging out takes the CSRF token, so another site cannot do it.
	if code, _ := postForm(t, c, env.base+LogoutPath, nil); code != 403 {
		t.Errorf("logout without the token: %d", code)
	}
	if code, _, _ := send(t, c, "GET", env.base+"/api/v1/state", "", nil); code != 200 {
		t.Fatalf("session gone after a refused logout: %d", code)
	}
	if code, loc := postForm(t, c, env.base+LogoutPath, url.Values{CSRFField: {csrf}}); code != 303 || loc != "/login?done=logout" {
		t.Errorf("logout: %d to %q", code, loc)
	}
	if code, _, _ := send(t, c, "GET", env.base+"/api/v1/state", "", nil); code != 401 {
		t.Errorf("after logout: %d, want 401", code)
	}

	// A session ends after 12 idle hours; use keeps it alive.
	env.login(t, c)
	env.clock.Advance(sessionIdle - time.Minute)
	if code, _, _ := send(t, c, "GET", env.base+"/api/v1/state", "", nil); code != 200 {
		t.Fatalf("used within the idle time: %d", code)
	}
	env.clock.Advance(sessionIdle - time.Minute)
	if code, _, _ := send(t, c, "GET", env.base+"/api/v1/state", "", nil); code != 200 {
		t.Fatalf("used again within the idle time: %d", code)
	}
	env.clock.Advance(sessionIdle)
	if code, _, _ := send(t, c, "GET", env.base+"/api/v1/state", "", nil); code != 401 {
		t.Errorf("after 12 idle hours: %d, want 401", code)
	}
	if code, _, hdr := send(t, c, "GET", env.base+"/", "", nil); code != 303 || !strings.HasPrefix(hdr.Get("Location"), LoginPath) {
		t.Errorf("console after 12 idle hours: %d to %q", code, hdr.Get("Location"))
	}
}

func TestLoginWithoutPassword(t *testing.T) {
	ctl := &fakeController{}
	s := New(Options{Controller: ctl, Token: testToken, Console: &fakeConsole{}})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	_, loc := postForm(t, browser(t), ts.URL+LoginPath, url.Values{PasswordField: {""}})
	if loc != "/login?error=disabled" {
		t.Errorf("login with no password set: to %q", loc)
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	s := New(Options{Controller: &fakeController{}, Token: testToken, Console: &fakeConsole{}, PasswordHash: testHash()})
	ts := httptest.NewTLSServer(s.Handler())
	defer ts.Close()
	c := ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(ts.URL+LoginPath, url.Values{PasswordField: {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if len(cs) != 1 || !cs[0].Secure {
		t.Errorf("cookies over TLS: %+v", cs)
	}
}

func TestNoConsole(t *testing.T) {
	// Without a console, login and pages do not exist: the API's 404s.
	base := startServer(t, &fakeController{}, testNow)
	code, body, _ := call(t, "POST", base+LoginPath, testToken, "")
	if code != 404 || body["error"] == nil {
		t.Errorf("login without a console: %d %v", code, body)
	}
}
