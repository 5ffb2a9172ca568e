package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustParse(tb testing.TB, yaml string) *Config {
	tb.Helper()
	c, err := Parse("t.yaml", []byte(yaml))
	if err != nil {
		tb.Fatalf("Parse(%q): %v", yaml, err)
	}
	return c
}

func mustLoad(tb testing.TB, path string) *Config {
	tb.Helper()
	c, err := Load(path)
	if err != nil {
		tb.Fatalf("Load(%s): %v", path, err)
	}
	return c
}

func TestLoadFull(t *testing.T) {
	udp := Upstream{URL: "udp://192.168.1.1:53", Proto: "udp", Addr: "192.168.1.1:53"}
	tcp := Upstream{URL: "tcp://192.168.1.1:53", Proto: "tcp", Addr: "192.168.1.1:53"}
	want := &Config{
		File:     "testdata/full.yaml",
		Listen:   []string{":53"},
		UDPBatch: true,
		Upstreams: []Upstream{
			{URL: "tls://1.1.1.1:853", Proto: "tls", Addr: "1.1.1.1:853", ServerName: "1.1.1.1"},
			{URL: "https://dns.quad9.net/dns-query", Proto: "https", Addr: "dns.quad9.net:443", ServerName: "dns.quad9.net"},
			{URL: "udp://9.9.9.9:53", Proto: "udp", Addr: "9.9.9.9:53"},
		},
		Conditional: []Conditional{
			{Domain: "home.arpa.", Upstreams: []Upstream{udp}},
			{Domain: "lan.", Upstreams: []Upstream{udp, tcp}},
		},
		Cache: Cache{Size: 100000, MinTTL: 0, MaxTTL: 24 * time.Hour, ServeStale: time.Hour},
		Answer: Answer{
			Mode: AnswerAddress,
			IPv4: netip.MustParseAddr("192.0.2.10"),
			IPv6: netip.MustParseAddr("2001:db8::10"),
			TTL:  time.Minute,
		},
		DataDir: "/var/lib/haven",
		Refresh: 4 * time.Hour,
		Lists: []List{
			{"adult", Source{URL: "https://example.org/porn-hosts.txt", Match: MatchSubtree, Name: "https://example.org/porn-hosts.txt"}},
			{"adult", Source{Path: "/etc/haven/adult-extra.txt", Match: MatchSubtree, Name: "/etc/haven/adult-extra.txt"}},
			{"adult", Source{Builtin: "adult", Match: MatchSubtree, Name: "builtin:adult"}},
			{"malware", Source{URL: "https://example.org/malware.txt", Match: MatchSubtree, Name: "https://example.org/malware.txt"}},
			{"malware", Source{URL: "https://example.org/x.txt", Match: MatchExact, Name: "x list"}},
			{"custom", Source{Inline: []string{"bad.example", "||worse.example^"}, Match: MatchSubtree, Name: "inline (full.yaml:13)"}},
			{"smarttv", Source{Path: "/etc/haven/regex.list", Match: MatchSubtree, Regex: true, Name: "/etc/haven/regex.list"}},
		},
		Allow:     []string{"khanacademy.org"},
		Deny:      []string{"example-bad.com"},
		Block:     []string{"adult", "malware"},
		Upstream:  UpstreamOptions{Timeout: 2 * time.Second},
		RateLimit: RateLimit{Client: 100, Action: "refuse", Exempt: defaultExempt()},
		QueryLog:  QueryLog{Enabled: true, Retention: 30 * 24 * time.Hour},
		Log:       Log{Level: "info", Format: "text"},
		// Without profiles, one profile "default" holds the top level.
		Profiles: []Profile{{
			Name:     "default",
			Block:    []string{"adult", "malware"},
			Allow:    []string{"khanacademy.org"},
			Deny:     []string{"example-bad.com"},
			Location: time.Local,
			Answer: Answer{
				Mode: AnswerAddress,
				IPv4: netip.MustParseAddr("192.0.2.10"),
				IPv6: netip.MustParseAddr("2001:db8::10"),
				TTL:  time.Minute,
			},
			Log: LogAll,
		}},
		DefaultProfile: "default",
		Services:       BuiltinServices(),
	}
	got := mustLoad(t, "testdata/full.yaml")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(full.yaml):\n got %+v\nwant %+v", got, want)
	}
}

// TestParseDefaults checks that a file with only upstreams gets every
// default.
func TestParseDefaults(t *testing.T) {
	want := &Config{
		File:      "testdata/minimal.yaml",
		Listen:    []string{":53"},
		UDPBatch:  true,
		Upstreams: []Upstream{{URL: "tls://1.1.1.1:853", Proto: "tls", Addr: "1.1.1.1:853", ServerName: "1.1.1.1"}},
		Cache:     Cache{Size: 100000, MaxTTL: 24 * time.Hour, ServeStale: time.Hour},
		Answer:    Answer{Mode: AnswerNXDomain, TTL: 60 * time.Second},
		Refresh:   4 * time.Hour,
		Upstream:  UpstreamOptions{Timeout: 2 * time.Second},
		RateLimit: RateLimit{Client: 100, Action: "refuse", Exempt: defaultExempt()},
		QueryLog:  QueryLog{Enabled: true, Retention: 30 * 24 * time.Hour},
		Log:       Log{Level: "info", Format: "text"},
		Profiles: []Profile{{
			Name:     "default",
			Location: time.Local,
			Answer:   Answer{Mode: AnswerNXDomain, TTL: 60 * time.Second},
			Log:      LogAll,
		}},
		DefaultProfile: "default",
		Services:       BuiltinServices(),
	}
	if got := mustLoad(t, "testdata/minimal.yaml"); !reflect.DeepEqual(got, want) {
		t.Errorf("Load(minimal.yaml):\n got %+v\nwant %+v", got, want)
	}
	// Empty values mean "not set", so they too give the defaults.
	empty := "upstreams: tls://1.1.1.1:853\nlisten:\ncache: {size: ~, max_ttl: }\nanswer: ~\nrefresh:\nlists:\nallow:\nlog: {level: }\n"
	got := mustParse(t, empty)
	want.File = "t.yaml"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(%q):\n got %+v\nwant %+v", empty, got, want)
	}
}

// goodCase is a config body (after an upstreams line) that must parse, and
// the value check picks out of the result.
type goodCase struct {
	name  string
	yaml  string
	check func(*Config) any // returns the field under test
	want  any
}

// runGood parses each case with a relative file name (to show how paths
// are resolved) and compares the field under test.
func runGood(t *testing.T, tests []goodCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := "upstreams: 9.9.9.9\n" + tt.yaml + "\n"
			c, err := Parse(filepath.Join("etc", "t.yaml"), []byte(y))
			if err != nil {
				t.Fatalf("Parse(%q): %v", y, err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseGood checks the forms a value may take, one field at a time.
func TestParseGood(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []goodCase{
		{"listen single", "listen: \"127.0.0.1:5353\"", func(c *Config) any { return c.Listen }, []string{"127.0.0.1:5353"}},
		{"listen all addresses", "listen: [\":53\"]", func(c *Config) any { return c.Listen }, []string{":53"}},
		{"listen canonical", "listen: [\"[0:0::1]:053\", \"127.0.0.1:0\"]", func(c *Config) any { return c.Listen }, []string{"[::1]:53", "127.0.0.1:0"}},
		{"timeout", "upstream: {timeout: 500ms}", func(c *Config) any { return c.Upstream.Timeout }, 500 * time.Millisecond},
		{"cache off", "cache: {size: 0}", func(c *Config) any { return c.Cache }, Cache{Size: 0, MaxTTL: 24 * time.Hour, ServeStale: time.Hour}},
		{"cache off max zero", "cache: {size: 0, max_ttl: 0}", func(c *Config) any { return c.Cache }, Cache{ServeStale: time.Hour}},
		{"cache days", "cache: {size: 1_000, min_ttl: 1m, max_ttl: 2d, serve_stale: 0}", func(c *Config) any { return c.Cache }, Cache{Size: 1000, MinTTL: time.Minute, MaxTTL: 48 * time.Hour}},
		{"answer nxdomain", "answer: NXDOMAIN", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerNXDomain, TTL: time.Minute}},
		{"answer null", "answer: null", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerNull, TTL: time.Minute}},
		{"answer null quoted", "answer: \"null\"", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerNull, TTL: time.Minute}},
		{"answer refused", "answer: refused", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerRefused, TTL: time.Minute}},
		{"answer ipv4", "answer: 192.0.2.1", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerAddress, IPv4: v4, TTL: time.Minute}},
		{"answer ipv6", "answer: \"2001:db8::1\"", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerAddress, IPv6: v6, TTL: time.Minute}},
		{"answer implied address", "answer: {ipv4: 192.0.2.1, ttl: 5m}", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerAddress, IPv4: v4, TTL: 5 * time.Minute}},
		{"answer both", "answer: {mode: Address, ipv4: 192.0.2.1, ipv6: \"2001:db8::1\"}", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerAddress, IPv4: v4, IPv6: v6, TTL: time.Minute}},
		{"answer mode ttl", "answer: {mode: null, ttl: 0}", func(c *Config) any { return c.Answer }, Answer{Mode: AnswerNull}},
		{"refresh never", "refresh: 0", func(c *Config) any { return c.Refresh }, time.Duration(0)},
		{"refresh minute", "refresh: 1m", func(c *Config) any { return c.Refresh }, time.Minute},
		{"refresh days", "refresh: 7d", func(c *Config) any { return c.Refresh }, 7 * 24 * time.Hour},
		{"data_dir relative", "data_dir: state", func(c *Config) any { return c.DataDir }, filepath.Join("etc", "state")},
		{"allow normalised", "allow: [Example.COM., example.com, Bücher.Example, _dmarc.example]", func(c *Config) any { return c.Allow }, []string{"example.com", "xn--bcher-kva.example", "_dmarc.example"}},
		{"deny single", "deny: ads.example", func(c *Config) any { return c.Deny }, []string{"ads.example"}},
		{"both allow and deny", "allow: [a.example]\ndeny: [a.example]", func(c *Config) any { return c.Deny }, []string{"a.example"}},
		{"block custom", "deny: [x.example]\nblock: [custom, custom]", func(c *Config) any { return c.Block }, []string{"custom"}},
		{"conditional idn", "conditional: {Bücher.Example.: 10.0.0.1}", func(c *Config) any { return c.Conditional[0].Domain }, "xn--bcher-kva.example."},
		{"conditional reverse", "conditional: {168.192.in-addr.arpa: \"tls://[fd00::1]\"}", func(c *Config) any { return c.Conditional },
			[]Conditional{{Domain: "168.192.in-addr.arpa.", Upstreams: []Upstream{{URL: "tls://[fd00::1]:853", Proto: "tls", Addr: "[fd00::1]:853", ServerName: "fd00::1"}}}}},
		{"log", "log: {level: WARN, format: Json}", func(c *Config) any { return c.Log }, Log{Level: "warn", Format: "json"}},
		{"source single mapping", "lists: {ads: {url: \"http://e.org/a\", name: 2024}}", func(c *Config) any { return c.Lists },
			[]List{{"ads", Source{URL: "http://e.org/a", Match: MatchSubtree, Name: "2024"}}}},
		{"source builtin forms", "lists: {a: [{builtin: adult}], m: [{builtin: \"builtin:malware\"}]}", func(c *Config) any { return c.Lists },
			[]List{{"a", Source{Builtin: "adult", Match: MatchSubtree, Name: "builtin:adult"}}, {"m", Source{Builtin: "malware", Match: MatchSubtree, Name: "builtin:malware"}}}},
		{"source inline block", "lists:\n  kids:\n    - inline: |\n        a.example\n\n        b.example  \n      format: regex\n", func(c *Config) any { return c.Lists },
			[]List{{"kids", Source{Inline: []string{"a.example", "b.example"}, Match: MatchSubtree, Regex: true, Name: "inline (t.yaml:4)"}}}},
		{"source relative file", "lists: {k: [\"kids.txt\", {file: ../k2.txt, match: exact}]}", func(c *Config) any { return c.Lists },
			[]List{{"k", Source{Path: filepath.Join("etc", "kids.txt"), Match: MatchSubtree, Name: "kids.txt"}}, {"k", Source{Path: "k2.txt", Match: MatchExact, Name: "../k2.txt"}}}},
		{"source same file in two categories", "lists: {a: [x.txt], b: [x.txt]}", func(c *Config) any { return len(c.Lists) }, 2},
		{"alias", "lists:\n  a: &s [builtin:adult]\n  b: *s", func(c *Config) any { return len(c.Lists) }, 2},
		{"category names", "lists: {a: [x], z9_-: [x], " + strings.Repeat("b", 32) + ": [x]}", func(c *Config) any { return len(c.Lists) }, 3},
		{"64 categories", "lists:\n" + manyCategories(64), func(c *Config) any { return len(c.Lists) }, 64},
	}
	runGood(t, tests)
}

// TestParseManyErrors checks that one run reports every problem, in line
// order, and nothing else.
func TestParseManyErrors(t *testing.T) {
	_, err := Load("testdata/many-errors.yaml")
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Load: error %T %v, want Errors", err, err)
	}
	want := []string{
		`testdata/many-errors.yaml:2: listen: "localhost:53": host "localhost" is not an IP address (leave it empty to listen on all addresses)`,
		`testdata/many-errors.yaml:3: upstreams: "quic://1.1.1.1": unsupported scheme "quic" (want udp, tcp, tls or https)`,
		`testdata/many-errors.yaml:4: cache.size: must not be negative (0 disables the cache)`,
		`testdata/many-errors.yaml:4: cache: min_ttl 2h is greater than max_ttl 1h`,
		`testdata/many-errors.yaml:5: answer: mode address needs ipv4, ipv6 or both`,
		`testdata/many-errors.yaml:7: lists: invalid category name "Adult" (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)`,
		`testdata/many-errors.yaml:8: lists.malware: unknown builtin list "malwares" (want one of adult, bypass, malware)`,
		`testdata/many-errors.yaml:9: allow: "exa mple.com": invalid character ' '`,
		`testdata/many-errors.yaml:10: block: unknown category or service "adult" (not defined under lists or services)`,
		`testdata/many-errors.yaml:11: log.level: unknown level "loud" (want debug, info, warn or error)`,
		`testdata/many-errors.yaml:12: refresh: 10s is too often (at least 1m, or 0 for never)`,
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	for i, e := range es {
		if e.File != "testdata/many-errors.yaml" || e.Line == 0 || e.Msg == "" {
			t.Errorf("error %d = %+v: want File, Line and Msg set", i, e)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if want := "config: open " + path + ": no such file or directory"; err.Error() != want {
		t.Errorf("Load(missing) = %q, want %q", err, want)
	}
}

// TestLoadRelative checks that relative paths are resolved against the
// directory of the file, not the working directory.
func TestLoadRelative(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, "testdata/relative.yaml")
	if want := filepath.Join(dir, "state"); c.DataDir != want {
		t.Errorf("DataDir = %q, want %q", c.DataDir, want)
	}
	want := []string{
		filepath.Join(dir, "lists", "school.txt"),
		filepath.Join(filepath.Dir(dir), "shared", "extra.txt"),
		"/abs/list.txt",
	}
	for i, l := range c.Lists {
		if i >= len(want) || l.Source.Path != want[i] {
			t.Errorf("Lists[%d].Source.Path = %q, want %q", i, l.Source.Path, want)
		}
	}
	if len(c.Lists) != len(want) {
		t.Errorf("got %d lists, want %d", len(c.Lists), len(want))
	}

	// The same file loaded from elsewhere resolves to the same paths.
	t.Chdir(t.TempDir())
	again := mustLoad(t, filepath.Join(dir, "relative.yaml"))
	if again.DataDir != c.DataDir || again.Lists[0].Source.Path != c.Lists[0].Source.Path {
		t.Errorf("from another directory: DataDir %q, list %q; want %q, %q",
			again.DataDir, again.Lists[0].Source.Path, c.DataDir, c.Lists[0].Source.Path)
	}
}

// TestTestdataGood loads every good file in testdata, so that a file added
// as a fuzz seed or example cannot silently rot.
func TestTestdataGood(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.Contains(f, "errors") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := mustLoad(t, f)
			if len(c.Upstreams) == 0 {
				t.Errorf("no upstreams")
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.File != "" {
		t.Errorf("File = %q, want empty", c.File)
	}
	if !reflect.DeepEqual(c.Listen, []string{":53"}) {
		t.Errorf("Listen = %q", c.Listen)
	}
	var urls []string
	for _, u := range c.Upstreams {
		urls = append(urls, u.URL)
		if _, err := netip.ParseAddrPort(u.Addr); err != nil {
			t.Errorf("upstream %s: Addr %q is not an IP literal (needs bootstrap resolution)", u.URL, u.Addr)
		}
	}
	wantURLs := []string{"tls://1.1.1.1:853", "tls://9.9.9.9:853", "https://1.1.1.1/dns-query"}
	if !reflect.DeepEqual(urls, wantURLs) {
		t.Errorf("upstreams %q, want %q", urls, wantURLs)
	}
	wantLists := []List{
		{"adult", Source{Builtin: "adult", Match: MatchSubtree, Name: "builtin:adult"}},
		{"malware", Source{Builtin: "malware", Match: MatchSubtree, Name: "builtin:malware"}},
	}
	if !reflect.DeepEqual(c.Lists, wantLists) {
		t.Errorf("Lists = %+v, want %+v", c.Lists, wantLists)
	}
	if !reflect.DeepEqual(c.Block, []string{"adult", "malware"}) {
		t.Errorf("Block = %q", c.Block)
	}
	if c.DataDir != "" {
		t.Errorf("DataDir = %q, want none", c.DataDir)
	}
	// Each call gives the caller its own Config.
	c.Listen[0] = "changed"
	if Default().Listen[0] != ":53" {
		t.Errorf("Default shares state between calls")
	}
}

// TestDefaultFile checks the embedded file parses on its own, the way
// Default uses it, so that a broken edit fails here and not at run time.
func TestDefaultFile(t *testing.T) {
	data, err := os.ReadFile("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("default.yaml", data); err != nil {
		t.Fatalf("default.yaml: %v", err)
	}
}
