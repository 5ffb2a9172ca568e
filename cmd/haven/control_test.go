package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/config"
	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/state"
)

// fakeControl is a Controller that knows two targets and keeps entries in
// memory: the control commands are under test, not the policy.
type fakeControl struct {
	mu      sync.Mutex
	entries []state.Entry
	n       int
}

func (f *fakeControl) known(target string) error {
	if target != "kid-tablet" && target != "kids" {
		return fmt.Errorf("%w: no device or profile %q", api.ErrNotFound, target)
	}
	return nil
}

func (f *fakeControl) add(e state.Entry) (state.Entry, error) {
	if err := f.known(e.Target); err != nil {
		return state.Entry{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	e.ID, e.Created = fmt.Sprint(f.n), time.Now()
	f.entries = append(f.entries, e)
	return e, nil
}

func (f *fakeControl) Pause(_ context.Context, target string, until time.Time, by string) (state.Entry, error) {
	return f.add(state.Entry{Target: target, Kind: state.Pause, Until: until, By: by})
}

func (f *fakeControl) Allow(_ context.Context, target, what string, until time.Time, by string) (state.Entry, error) {
	return f.add(state.Entry{Target: target, Kind: state.Allow, What: what, Until: until, By: by})
}

func (f *fakeControl) Resume(_ context.Context, target string) (int, error) {
	if err := f.known(target); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	before := len(f.entries)
	f.entries = slices.DeleteFunc(f.entries, func(e state.Entry) bool { return e.Target == target })
	return before - len(f.entries), nil
}

func (f *fakeControl) Entries(context.Context) ([]state.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries), nil
}

func (f *fakeControl) Explain(context.Context, string, string, string) (any, error) {
	return map[string]string{}, nil
}
func (f *fakeControl) Status(context.Context) (api.Status, error) { return api.Status{}, nil }
func (f *fakeControl) RefreshLists(context.Context) error         { return nil }

// The console's methods are not used by the command line.
func (f *fakeControl) Devices(context.Context) ([]api.Device, error) { return nil, nil }
func (f *fakeControl) Search(context.Context, querylog.Filter) ([]querylog.Row, int64, error) {
	return nil, 0, nil
}
func (f *fakeControl) Stats(context.Context, time.Time, time.Time, querylog.Bucket, string) ([]querylog.Stat, error) {
	return nil, nil
}
func (f *fakeControl) Top(context.Context, time.Time, time.Time, bool, string, int) ([]querylog.Count, error) {
	return nil, nil
}
func (f *fakeControl) DeleteDeviceLog(context.Context, string) (int64, error) { return 0, nil }
func (f *fakeControl) Reload(context.Context) error                           { return nil }

// writeConfig writes a config file with the given extra lines and returns
// its path.
func writeConfig(tb testing.TB, dir, extra string) string {
	tb.Helper()
	path := filepath.Join(dir, "haven.yaml")
	if err := os.WriteFile(path, []byte("upstreams: [\"udp://127.0.0.1:1\"]\n"+extra), 0o600); err != nil {
		tb.Fatal(err)
	}
	if _, err := config.Load(path); err != nil && strings.Contains(err.Error(), `unknown key "http"`) {
		tb.Skip("the config package does not read http: yet")
	}
	return path
}

// startControl runs an API server with a fake controller and returns a
// config file that points at it.
func startControl(tb testing.TB) (cfgFile string, ctl *fakeControl) {
	tb.Helper()
	dir := tb.TempDir()
	tok, err := api.LoadOrCreateToken(dir)
	if err != nil {
		tb.Fatal(err)
	}
	ctl = &fakeControl{}
	srv := api.New(api.Options{Addr: "127.0.0.1:0", Controller: ctl, Token: tok})
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return writeConfig(tb, dir, fmt.Sprintf("http: %q\ndata_dir: %q\n", srv.Addr(), dir)), ctl
}

// runHaven runs the command line and returns its exit code and output.
func runHaven(tb testing.TB, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestControlCommands(t *testing.T) {
	cfg, ctl := startControl(t)
	clock := `(tomorrow )?\d\d:\d\d`
	steps := []struct {
		args       []string
		code       int
		stdout     string // a regular expression for the whole output
		stderrPart string
	}{
		{[]string{"status", "--config", cfg}, 0, `^no active pauses or exceptions\n$`, ""},
		{[]string{"pause", "--config", cfg, "kid-tablet", "--for", "30m"}, 0,
			`^kid-tablet paused until ` + clock + ` \(in 30m\)\n$`, ""},
		{[]string{"pause", "kids", "--until", "19:00", "--config=" + cfg}, 0,
			`^kids paused until (tomorrow )?19:00 \(in .+\)\n$`, ""},
		{[]string{"allow", "kid-tablet", "--config", cfg, "youtube", "--for=1h30m"}, 0,
			`^youtube allowed for kid-tablet until ` + clock + ` \(in 1h30m\)\n$`, ""},
		{[]string{"allow", "kids", "khanacademy.org", "--for", "2d", "--config", cfg}, 0,
			`^khanacademy.org allowed for kids until \w{3} \d\d:\d\d \(in 2d\)\n$`, ""},
		{[]string{"status", "--config", cfg}, 0,
			`^TARGET +STATE +UNTIL +BY\n` +
				`kid-tablet +paused +` + clock + ` \(in 30m\) +cli\n` +
				`kids +paused +(tomorrow )?19:00 \(in .+\) +cli\n` +
				`kid-tablet +allowed youtube +` + clock + ` \(in 1h30m\) +cli\n` +
				`kids +allowed khanacademy.org +\w{3} \d\d:\d\d \(in 2d\) +cli\n$`, ""},
		{[]string{"resume", "--config", cfg, "kid-tablet"}, 0, `^kid-tablet resumed \(2 entries removed\)\n$`, ""},
		{[]string{"resume", "--config", cfg, "kid-tablet"}, 0, `^kid-tablet had no pauses or exceptions\n$`, ""},
		{[]string{"resume", "kids", "--config", cfg}, 0, `^kids resumed \(2 entries removed\)\n$`, ""},
		{[]string{"status", "--config", cfg}, 0, `^no active pauses or exceptions\n$`, ""},

		// Errors from the API: exit 1, its message on stderr.
		{[]string{"pause", "--config", cfg, "nobody", "--for", "30m"}, 1, `^$`, `haven: not found: no device or profile "nobody"`},
		{[]string{"resume", "--config", cfg, "nobody"}, 1, `^$`, `haven: not found: no device or profile "nobody"`},
		{[]string{"pause", "--config", cfg, "kids", "--until", "7pm"}, 1, `^$`, `haven: until: "7pm" is neither HH:MM nor`},
		{[]string{"pause", "--config", cfg, "kids", "--until", "2001-01-01T00:00:00Z"}, 1, `^$`, "is not in the future"},
		// Caught before asking.
		{[]string{"pause", "--config", cfg, "kids", "--for", "soon"}, 1, `^$`, `haven: --for: invalid duration "soon"`},
		{[]string{"pause", "--config", cfg, "kids", "--for", "-5m"}, 1, `^$`, `must be positive`},
		{[]string{"pause", "--config", cfg, "kids", "--for", "5m", "--until", "19:00"}, 1, `^$`, "not both"},
		// Usage errors: exit 2 with the usage.
		{[]string{"pause", "--config", cfg, "kids"}, 2, `^$`, "usage: haven pause"},
		{[]string{"pause", "--config", cfg, "--for", "5m"}, 2, `^$`, "usage: haven pause"},
		{[]string{"allow", "--config", cfg, "kids", "--for", "5m"}, 2, `^$`, "usage: haven allow"},
		{[]string{"resume", "--config", cfg}, 2, `^$`, "usage: haven resume"},
		{[]string{"status", "--config", cfg, "kids"}, 2, `^$`, "usage: haven status"},
		{[]string{"pause", "--forever", "kids"}, 1, `^$`, "flag provided but not defined: -forever"},
	}
	for _, s := range steps {
		code, stdout, stderr := runHaven(t, s.args...)
		if code != s.code || !regexp.MustCompile(s.stdout).MatchString(stdout) || !strings.Contains(stderr, s.stderrPart) {
			t.Errorf("haven %s\n exit %d, want %d\n stdout %q, want %s\n stderr %q, want it to contain %q",
				strings.Join(s.args, " "), code, s.code, stdout, s.stdout, stderr, s.stderrPart)
		}
	}
	if len(ctl.entries) != 0 {
		t.Errorf("entries left: %+v", ctl.entries)
	}
}

func TestControlConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String() // nothing listens there once closed
	ln.Close()
	noToken := t.TempDir()
	withToken := t.TempDir()
	if _, err := api.LoadOrCreateToken(withToken); err != nil {
		t.Fatal(err)
	}

	noHTTP := writeConfig(t, t.TempDir(), "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no http", []string{"status", "--config", noHTTP},
			"haven: the config has no http: address; the running server's API is needed\n"},
		{"built-in defaults have no http", []string{"pause", "kids", "--for", "1m"},
			"haven: the config has no http: address; the running server's API is needed\n"},
		{"missing config", []string{"status", "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runHaven(t, tt.args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, tt.want)
			}
		})
	}

	// These need a config with http:.
	needHTTP := []struct {
		name, extra, want string
	}{
		{"no data_dir", fmt.Sprintf("http: %q\n", closed), "haven: http API needs data_dir for its token\n"},
		{"no token yet", fmt.Sprintf("http: %q\ndata_dir: %q\n", closed, noToken), "api.token: no such file or directory (the server creates it"},
		{"server not running", fmt.Sprintf("http: %q\ndata_dir: %q\n", closed, withToken), "haven: cannot reach the haven server at http://" + closed},
	}
	for _, tt := range needHTTP {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, t.TempDir(), tt.extra)
			code, stdout, stderr := runHaven(t, "status", "--config", cfg)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, tt.want)
			}
		})
	}
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantFor string
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, ""},
		{[]string{"--for", "1m", "a"}, []string{"a"}, "1m"},
		{[]string{"a", "--for", "1m", "b"}, []string{"a", "b"}, "1m"},
		{[]string{"a", "b", "-for=1m"}, []string{"a", "b"}, "1m"},
		{[]string{"a", "--", "--for", "1m"}, []string{"a", "--for", "1m"}, ""},
		{[]string{"--", "-a"}, []string{"-a"}, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f := fs.String("for", "", "")
		pos, err := parseInterleaved(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.wantPos) || *f != tt.wantFor {
			t.Errorf("%q: %q, for %q, %v; want %q, for %q", tt.args, pos, *f, err, tt.wantPos, tt.wantFor)
		}
	}
}

func TestAPIBase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8053", "http://127.0.0.1:8053"},
		{":8053", "http://127.0.0.1:8053"},
		{"0.0.0.0:8053", "http://127.0.0.1:8053"},
		{"[::]:8053", "http://[::1]:8053"},
		{"192.168.1.2:80", "http://192.168.1.2:80"},
		{"[fe80::1%eth0]:8053", "http://[fe80::1%eth0]:8053"},
	}
	for _, tt := range tests {
		if got, err := apiBase(tt.in); err != nil || got != tt.want {
			t.Errorf("apiBase(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := apiBase("8053"); err == nil {
		t.Error("apiBase(8053): no error")
	}
}

func TestDescribeUntil(t *testing.T) {
	now := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC) // a Friday
	tests := []struct {
		until time.Time
		want  string
	}{
		{now.Add(30 * time.Minute), "18:30 (in 30m)"},
		{now.Add(30*time.Minute - 200*time.Millisecond), "18:30 (in 30m)"}, // the request took a moment
		{now.Add(90 * time.Minute), "19:30 (in 1h30m)"},
		{now.Add(20 * time.Second), "18:00 (in less than a minute)"},
		{now.Add(6 * time.Hour), "tomorrow 00:00 (in 6h)"},
		{now.Add(13*time.Hour + 5*time.Minute), "tomorrow 07:05 (in 13h5m)"},
		{now.Add(49 * time.Hour), "Sun 19:00 (in 2d1h)"},
		{now.Add(10 * 24 * time.Hour), "Mon 7 Dec 18:00 (in 10d)"},
		{now.Add(60 * 24 * time.Hour), "26 Jan 2027 18:00 (in 60d)"},
		{time.Date(2026, 11, 27, 19, 30, 0, 0, time.FixedZone("CET", 3600)), "18:30 (in 30m)"}, // shown in the local zone
	}
	for _, tt := range tests {
		if got := describeUntil(tt.until, now); got != tt.want {
			t.Errorf("describeUntil(%v) = %q, want %q", tt.until, got, tt.want)
		}
	}
}
