package main

import (
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/config"
	"github.com/miekg/dns"
)

// TestMain lets the test binary stand in for haven-bench when the
// benchmark's process code starts it as "SELF upstream" or "SELF null", so
// the tests run the subcommands as the benchmark does: as child processes.
func TestMain(m *testing.M) {
	if os.Getenv("HAVEN_BENCH_TEST_CHILD") == "1" && len(os.Args) > 1 {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestResponderSubcommands(t *testing.T) {
	t.Setenv("HAVEN_BENCH_TEST_CHILD", "1")
	for _, sub := range []string{"upstream", "null"} {
		t.Run(sub, func(t *testing.T) {
			var ps procs
			defer ps.stopAll()
			p, addr, err := ps.startResponder(os.Args[0], sub)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkLoopback(addr); err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				net   string
				qtype uint16
				want  string
			}{
				{"udp", dns.TypeA, fakeA},
				{"tcp", dns.TypeA, fakeA},
				{"udp", dns.TypeAAAA, fakeAAAA},
			} {
				q := new(dns.Msg)
				q.SetQuestion("x.haven-bench.example.", tt.qtype)
				r, _, err := (&dns.Client{Net: tt.net}).Exchange(q, addr)
				if err != nil {
					t.Fatalf("%s %s: %v", tt.net, dns.TypeToString[tt.qtype], err)
				}
				if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != fakeTTL {
					t.Fatalf("%s %s: answer %v, want one record with TTL %d", tt.net, dns.TypeToString[tt.qtype], r.Answer, fakeTTL)
				}
				got := strings.Fields(r.Answer[0].String())
				if got[len(got)-1] != tt.want {
					t.Errorf("%s %s: answer %v, want %s", tt.net, dns.TypeToString[tt.qtype], r.Answer[0], tt.want)
				}
			}
			ps.stopAll()
			if err := p.alive(); err == nil {
				t.Error("still running after stopAll")
			}
		})
	}
}

// TestForwarderSubcommand runs "fwd" as the benchmark does, in front of
// the "upstream" child, and puts it through the benchmark's own answer
// check: forwarded name, listed name, name under a listed one.
func TestForwarderSubcommand(t *testing.T) {
	t.Setenv("HAVEN_BENCH_TEST_CHILD", "1")
	list := filepath.Join(t.TempDir(), "list.txt")
	names := []string{"ads.example.com", "tracker.example.net"}
	if err := writeNames(list, names); err != nil {
		t.Fatal(err)
	}
	var ps procs
	defer ps.stopAll()
	_, upAddr, err := ps.startResponder(os.Args[0], "upstream")
	if err != nil {
		t.Fatal(err)
	}
	p, addr, err := ps.startResponder(os.Args[0], "fwd", "--upstream", upAddr, "--list", list)
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{name: "fwd", addr: addr, proc: p}
	if err := checkAnswers(tg, names); err != nil {
		t.Fatal(err)
	}
	// The check fails when the list is not blocked.
	if err := checkAnswers(tg, []string{"other.example.org"}); err == nil {
		t.Error("checkAnswers passed a name the forwarder does not block")
	}
	q := new(dns.Msg)
	q.SetQuestion("x.tracker.example.net.", dns.TypeAAAA)
	if r, _, err := (&dns.Client{Net: "tcp"}).Exchange(q, addr); err != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("tcp, listed name: %v, %v; want NXDOMAIN", r, err)
	}
	if err := serveForwarder([]string{"--upstream", "192.0.2.1:53"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("forwarded to a non-loopback upstream")
	}
}

// TestRelaySubcommand runs "relay" as the benchmark does, in front of the
// fake upstream: it passes the benchmark's answer check, listed names
// included (it blocks nothing, and the check knows it).
func TestRelaySubcommand(t *testing.T) {
	t.Setenv("HAVEN_BENCH_TEST_CHILD", "1")
	var ps procs
	defer ps.stopAll()
	_, upAddr, err := ps.startResponder(os.Args[0], "upstream")
	if err != nil {
		t.Fatal(err)
	}
	p, addr, err := ps.startResponder(os.Args[0], "relay", "--upstream", upAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkAnswers(&target{name: "relay", addr: addr, proc: p}, []string{"ads.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := serveRelay([]string{"--upstream", "192.0.2.1:53"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("relayed to a non-loopback upstream")
	}
}

func TestResponderRefusesNonLoopback(t *testing.T) {
	var out, errb bytes.Buffer
	if err := serveResponder("null", []string{"--listen", "192.0.2.1:53"}, &out, &errb); err == nil {
		t.Fatal("served on a non-loopback address")
	}
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true}, {"[::1]:53", true}, {"127.9.9.9:53", true},
		{"0.0.0.0:53", false}, {"10.0.0.1:53", false}, {"localhost:53", false}, {"127.0.0.1", false},
	} {
		if err := checkLoopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}

func TestZipfNames(t *testing.T) {
	ranked := make([]string, 1000)
	for i := range ranked {
		ranked[i] = strings.Repeat("a", i%5+1) + ".rank" + string(rune('a'+i%26)) + ".example"
		ranked[i] = ranked[i] + string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
	}
	const n = 200000
	names := zipfNames(rand.New(rand.NewPCG(1, 2)), ranked, n, 1.0)
	count := map[string]int{}
	for _, name := range names {
		count[name]++
	}
	if len(names) != n {
		t.Fatalf("%d names, want %d", len(names), n)
	}
	// With s=1 over 1000 ranks, rank k has probability 1/(k·H1000),
	// H1000 ≈ 7.4855: rank 1 ≈ 13.36%, and rank 1 is twice rank 2.
	share1 := float64(count[ranked[0]]) / n
	if share1 < 0.128 || share1 > 0.139 {
		t.Errorf("rank 1 share %.4f, want ≈ 0.1336", share1)
	}
	if r := float64(count[ranked[0]]) / float64(count[ranked[1]]); r < 1.85 || r > 2.15 {
		t.Errorf("rank1/rank2 = %.2f, want ≈ 2", r)
	}
	if count[ranked[9]] <= count[ranked[99]] || count[ranked[99]] <= count[ranked[999]] {
		t.Errorf("counts of ranks 10, 100, 1000 = %d, %d, %d: want decreasing", count[ranked[9]], count[ranked[99]], count[ranked[999]])
	}
}

func TestMixNames(t *testing.T) {
	blocked := []string{"bad.example", "worse.example", "tracker.net"}
	popular := []string{"good.example", "bad.example", "cdn.bad.example", "ok.org", "tracker.net", "a.b.tracker.net", "fine.net"}
	const n = 10000
	names, err := mixNames(rand.New(rand.NewPCG(3, 4)), popular, blocked, n, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, b := range blocked {
		set[b] = true
	}
	var nb int
	for _, name := range names {
		switch {
		case set[name]:
			nb++
		case listed(set, name):
			t.Fatalf("allowed name %q is covered by the list", name)
		case !slices.Contains(popular, name):
			t.Fatalf("name %q is from neither list", name)
		}
	}
	if len(names) != n || nb != n/10 {
		t.Errorf("%d names, %d blocked; want %d and %d", len(names), nb, n, n/10)
	}
	// Shuffled: the blocked ones are not all at the start.
	if first := names[:n/10]; !slices.ContainsFunc(first, func(s string) bool { return !set[s] }) {
		t.Error("the first tenth is all blocked: not shuffled")
	}
	if _, err := mixNames(rand.New(rand.NewPCG(3, 4)), []string{"cdn.bad.example"}, blocked, 10, 0.1); err == nil {
		t.Error("no allowed names to draw from, but no error")
	}
}

func TestMissNames(t *testing.T) {
	names := missNames(rand.New(rand.NewPCG(5, 6)), "haven-1-max", 50000)
	seen := map[string]bool{}
	list := map[string]bool{"example": false}
	for _, n := range names {
		if seen[n] {
			t.Fatalf("%q twice", n)
		}
		seen[n] = true
		if !strings.HasSuffix(n, ".haven-1-max."+missZone) || !plainName(n) || listed(list, n) {
			t.Fatalf("%q: want a plain name under haven-1-max.%s", n, missZone)
		}
		if _, ok := dns.IsDomainName(n); !ok {
			t.Fatalf("%q is not a domain name", n)
		}
	}
	// The names only the kids profile blocks or allows are under no
	// workload name (the miss tags name server, round and kind).
	extra := map[string]bool{nightName: true, deniedName: true, allowedName: true}
	for _, tag := range []string{"haven-1-max", "fwd-3-fixed", "haven-batch-2-max"} {
		for _, n := range missNames(rand.New(rand.NewPCG(5, 6)), tag, 100) {
			if listed(extra, n) {
				t.Fatalf("miss name %q is under a name of the kids profile", n)
			}
		}
	}
	if other := missNames(rand.New(rand.NewPCG(5, 6)), "haven-2-max", 10); seen[other[0]] {
		t.Error("another tag gave a name already seen")
	}
}

func TestReadNames(t *testing.T) {
	text := `# comment
0.0.0.0 Ads.Example.COM
ads.example.com
tracker.example.net. # trailing comment
127.0.0.1 localhost
1.2.3.4
bad_label.example.org
*.wild.example
under.score_.example
xn--bcher-kva.example

last.example
`
	want := []string{"ads.example.com", "tracker.example.net", "bad_label.example.org", "under.score_.example", "xn--bcher-kva.example", "last.example"}
	dir := t.TempDir()
	plain := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(plain, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	zipped := filepath.Join(dir, "list.txt.gz")
	if err := os.WriteFile(zipped, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		max  int
		want []string
	}{
		{plain, 0, want},
		{zipped, 0, want},
		{zipped, 2, want[:2]},
	} {
		got, err := readNames(tt.path, tt.max)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("readNames(%s, %d) = %q, want %q", filepath.Base(tt.path), tt.max, got, tt.want)
		}
	}
}

func TestUnboundConf(t *testing.T) {
	dir := t.TempDir()
	c := unboundConf{Dir: dir, Listen: "127.0.0.1:5399", Upstream: "127.0.0.1:5400", Threads: 2,
		Names: []string{"ads.example.com", "under_score.example.net"}}
	var buf bytes.Buffer
	if err := writeUnboundConf(&buf, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"interface: 127.0.0.1@5399", "num-threads: 2", "so-reuseport: yes",
		`local-zone: "ads.example.com." always_nxdomain`, `local-zone: "under_score.example.net." always_nxdomain`,
		"forward-addr: 127.0.0.1@5400",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("config lacks %q:\n%s", want, buf.String())
		}
	}
	if err := writeUnboundConf(&bytes.Buffer{}, unboundConf{Listen: c.Listen, Upstream: c.Upstream, Names: []string{`evil." always_transparent`}}); err == nil {
		t.Error("a name with a quote was written")
	}
	checkconf := lookTool("unbound-checkconf")
	if checkconf == "" {
		t.Skip("unbound-checkconf not installed: config not checked by Unbound")
	}
	if _, err := writeUnboundConfFile(c, checkconf); err != nil {
		t.Fatal(err)
	}
	// And unbound-checkconf does refuse a bad one, so the check means something.
	bad := c
	bad.Listen = "127.0.0.1:port"
	if _, err := writeUnboundConfFile(bad, checkconf); err == nil {
		t.Error("unbound-checkconf accepted \"port: port\"")
	}
}

func TestHavenConf(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	now := time.Date(2026, 3, 4, 13, 25, 0, 0, time.UTC)
	for _, data := range []string{filepath.Join(dir, "data"), ""} {
		t.Run("data_dir="+data, func(t *testing.T) {
			sub := t.TempDir()
			path, err := writeHavenConfFile(sub, havenConf{Listen: "127.0.0.1:5301", Upstream: "127.0.0.1:5302", List: list, DataDir: data, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatalf("Haven rejects the config: %v", err)
			}
			if !slices.Equal(cfg.Listen, []string{"127.0.0.1:5301"}) || len(cfg.Upstreams) != 1 || cfg.Upstreams[0].URL != "udp://127.0.0.1:5302" {
				t.Errorf("listen %v, upstreams %+v", cfg.Listen, cfg.Upstreams)
			}
			if len(cfg.Lists) != 2 || cfg.Lists[0].Category != "bench" || cfg.Lists[0].Source.Path != list || cfg.Cache.Size == 0 {
				t.Errorf("lists %+v, cache %+v: want the list file as bench, cache on", cfg.Lists, cfg.Cache)
			}
			// The query log runs when there is a data directory.
			if cfg.DataDir != data || !cfg.QueryLog.Enabled {
				t.Errorf("data_dir %q, query log %+v: want %q and the log enabled", cfg.DataDir, cfg.QueryLog, data)
			}
			// The loopback client is a device on profile kids, which
			// blocks the list as adults does, and more.
			if len(cfg.Devices) != 1 || !slices.Equal(cfg.Devices[0].Match, []string{"127.0.0.1"}) || cfg.Devices[0].Profile != "kids" || cfg.DefaultProfile != "adults" {
				t.Errorf("devices %+v, default profile %q", cfg.Devices, cfg.DefaultProfile)
			}
			var kids *config.Profile
			for i, p := range cfg.Profiles {
				if p.Name == "kids" {
					kids = &cfg.Profiles[i]
				}
			}
			if kids == nil {
				t.Fatalf("no profile kids in %+v", cfg.Profiles)
			}
			ss := kids.SafeSearch
			if !slices.Equal(kids.Block, []string{"bench"}) || !slices.Contains(kids.Deny, deniedName) || !slices.Contains(kids.Allow, allowedName) ||
				!ss.Google || !ss.Bing || !ss.DuckDuckGo || ss.YouTube != "strict" || kids.Log != config.LogAll {
				t.Errorf("kids: block %v, deny %v, allow %v, safesearch %+v, log %q", kids.Block, kids.Deny, kids.Allow, ss, kids.Log)
			}
			if len(kids.Schedules) != 1 || kids.Location != time.UTC {
				t.Fatalf("kids: schedules %+v in %v, want one, in UTC", kids.Schedules, kids.Location)
			}
			bed := kids.Schedules[0]
			if bed.Days != [7]bool{true, true, true, true, true, true, true} || !slices.Equal(bed.Block, []string{"night"}) || bed.BlockAll {
				t.Errorf("bedtime %+v: want every day, blocking night only", bed)
			}
		})
	}
	// The bedtime window holds the time the config is written and at
	// least the two hours after it, wherever in the day that is.
	for _, at := range []string{"00:00", "00:59", "13:25", "22:30", "23:59"} {
		hm, _ := time.Parse("15:04", at)
		now := time.Date(2026, 3, 4, hm.Hour(), hm.Minute(), 0, 0, time.UTC)
		var buf bytes.Buffer
		if err := writeHavenConf(&buf, havenConf{Listen: "127.0.0.1:53", Upstream: "127.0.0.1:54", List: list, Now: now.In(time.FixedZone("X", 5*3600))}); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(filepath.Join(dir, "haven.yaml"), buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		bed := cfg.Profiles[1].Schedules[0]
		for _, d := range []time.Duration{0, time.Hour, 2*time.Hour - time.Minute} {
			if !inWindow(bed.From, bed.To, now.Add(d)) {
				t.Errorf("written at %s: window %s–%s does not hold %s", at, bed.From, bed.To, now.Add(d).Format("15:04"))
			}
		}
	}
}

// inWindow reports whether t (UTC) falls in a daily window from–to, to ≤
// from running past midnight, as Haven's schedules read it.
func inWindow(from, to string, t time.Time) bool {
	f, _ := time.Parse("15:04", from)
	e, _ := time.Parse("15:04", to)
	m := t.Hour()*60 + t.Minute()
	fm, em := f.Hour()*60+f.Minute(), e.Hour()*60+e.Minute()
	if em <= fm {
		return m >= fm || m < em
	}
	return m >= fm && m < em
}
