package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func prefixes(tb testing.TB, ss ...string) []netip.Prefix {
	tb.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// zones replaces each profile's Location by its name, so that profiles
// compare with reflect.DeepEqual (LoadLocation returns a new value each
// time).
func zones(ps []Profile) ([]Profile, []string) {
	out := slices.Clone(ps)
	names := make([]string, len(out))
	for i := range out {
		if out[i].Location != nil {
			names[i] = out[i].Location.String()
		}
		out[i].Location = nil
	}
	return out, names
}

// TestLoadFamily loads the README's family example and checks every
// merged value.
func TestLoadFamily(t *testing.T) {
	c := mustLoad(t, "testdata/family.yaml")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	nxdomain := Answer{Mode: AnswerNXDomain, TTL: 30 * time.Second}
	null := Answer{Mode: AnswerNull, TTL: 30 * time.Second}
	on := SafeSearch{Google: true, Bing: true, DuckDuckGo: true, Yandex: true, Ecosia: true, Pixabay: true, Brave: true, YouTube: "strict"}
	kidsSchedules := []Schedule{
		{Name: "bedtime", Days: [7]bool{true, true, true, true, true, false, false}, From: "21:00", To: "07:00", BlockAll: true},
		{Name: "homework", Days: [7]bool{false, true, true, true, true, true, false}, From: "16:00", To: "18:00", Block: []string{"social", "gaming"}},
		{Name: "saturday-games", Days: [7]bool{time.Saturday: true}, From: "10:00", To: "12:00", Unblock: []string{"roblox"}},
	}
	want := []Profile{
		{Name: "base", Block: []string{"malware"}, Allow: []string{"school.example"}, Deny: []string{"bad.example"}, Answer: null, Log: LogAll},
		{
			Name: "kids", Inherit: "base",
			Block:      []string{"malware", "adult", "gambling", "social", "tiktok"},
			Allow:      []string{"school.example", "khanacademy.org"},
			Deny:       []string{"bad.example", "example.com"},
			BlockIPs:   prefixes(t, "203.0.113.0/24", "198.51.100.7/32"),
			SafeSearch: on, BypassPrevention: true, Timezone: "Europe/London",
			Schedules: kidsSchedules, Answer: nxdomain, Log: LogAll,
		},
		{
			Name: "teens", Inherit: "kids",
			Block:      []string{"malware", "adult", "gambling", "social", "tiktok", "schoolapp"},
			Allow:      []string{"school.example", "khanacademy.org"},
			Deny:       []string{"bad.example", "example.com"},
			BlockIPs:   prefixes(t, "203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"),
			SafeSearch: on, BypassPrevention: true, Timezone: "Europe/London",
			Schedules: []Schedule{}, Answer: nxdomain, Log: LogBlocked,
		},
		{Name: "adults", Block: []string{"malware"}, Allow: []string{"school.example"}, Deny: []string{"bad.example"}, Answer: null, Log: LogAll},
	}
	got, locs := zones(c.Profiles)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Profiles:\n got %+v\nwant %+v", got, want)
	}
	if wantLocs := []string{"Local", "Europe/London", "Europe/London", "Local"}; !slices.Equal(locs, wantLocs) {
		t.Errorf("Locations = %q, want %q", locs, wantLocs)
	}
	if c.DefaultProfile != "adults" {
		t.Errorf("DefaultProfile = %q, want adults", c.DefaultProfile)
	}
	wantDevices := []Device{
		{Name: "kid-tablet", Match: []string{"192.168.1.23", "02:42:ac:11:00:02", "kidtablet"}, Profile: "kids"},
		{Name: "guest-wifi", Match: []string{"192.168.50.0/24"}, Profile: "kids"},
		{Name: "laptop", Match: []string{"02:42:ac:11:00:03", "fd00::5"}, Profile: "adults"},
	}
	if !reflect.DeepEqual(c.Devices, wantDevices) {
		t.Errorf("Devices:\n got %+v\nwant %+v", c.Devices, wantDevices)
	}
	if want := prefixes(t, "192.168.1.1/32", "10.0.0.0/8"); !reflect.DeepEqual(c.MACFrom, want) {
		t.Errorf("MACFrom = %v, want %v", c.MACFrom, want)
	}
	if !c.Neighbors {
		t.Errorf("Neighbors = false")
	}
	if want := (TLSListen{Listen: []string{"0.0.0.0:853"}, ServerName: "dns.example.net"}); !reflect.DeepEqual(c.TLS, want) {
		t.Errorf("TLS = %+v, want %+v", c.TLS, want)
	}
	if want := (HTTPSListen{Listen: []string{"0.0.0.0:443"}}); !reflect.DeepEqual(c.HTTPS, want) {
		t.Errorf("HTTPS = %+v, want %+v", c.HTTPS, want)
	}
	if want := (Certificate{Cert: "/etc/haven/cert.pem", Key: filepath.Join(dir, "key.pem")}); c.Cert != want {
		t.Errorf("Cert = %+v, want %+v", c.Cert, want)
	}
	if c.HTTP != "127.0.0.1:8053" {
		t.Errorf("HTTP = %q", c.HTTP)
	}

	// Services: the catalogue, the user's schoolapp added and youtube
	// replaced, sorted by name.
	builtin := BuiltinServices()
	if len(c.Services) != len(builtin)+1 {
		t.Errorf("%d services, want %d", len(c.Services), len(builtin)+1)
	}
	if !slices.IsSortedFunc(c.Services, func(a, b Service) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("services not sorted by name")
	}
	for _, s := range c.Services {
		switch s.Name {
		case "schoolapp":
			if want := []string{"schoolapp.example", "cdn.schoolapp.example"}; !slices.Equal(s.Domains, want) {
				t.Errorf("schoolapp = %q, want %q", s.Domains, want)
			}
		case "youtube":
			if want := []string{"youtube.com"}; !slices.Equal(s.Domains, want) {
				t.Errorf("youtube = %q, want %q (the user's replaces the built-in)", s.Domains, want)
			}
		}
	}
}

// TestParsePolicyGood checks the forms the policy keys may take, one field
// at a time.
func TestParsePolicyGood(t *testing.T) {
	lists := "lists: {adult: builtin:adult, social: [x.txt], gaming: [g.txt]}\n"
	profile := func(c *Config, name string) Profile {
		for _, p := range c.Profiles {
			if p.Name == name {
				return p
			}
		}
		return Profile{}
	}
	tests := []goodCase{
		{"no profiles", "block: [tiktok]\nallow: [a.example]\nanswer: refused",
			func(c *Config) any { p, _ := zones(c.Profiles); return []any{p, c.DefaultProfile} },
			[]any{[]Profile{{Name: "default", Block: []string{"tiktok"}, Allow: []string{"a.example"}, Answer: Answer{Mode: AnswerRefused, TTL: time.Minute}, Log: LogAll}}, "default"}},
		{"no profiles location", "", func(c *Config) any { return c.Profiles[0].Location }, time.Local},
		{"empty profiles", "profiles: {}\ndefault_profile: default", func(c *Config) any { return c.DefaultProfile }, "default"},
		{"single profile is default", "profiles: {kids: }", func(c *Config) any { return c.DefaultProfile }, "kids"},
		{"single profile named", "profiles: {kids: }\ndefault_profile: kids", func(c *Config) any { return c.DefaultProfile }, "kids"},
		{"inherit before definition", "profiles:\n  c: {inherit: b, block: [tiktok]}\n  b: {inherit: a, block: [roblox]}\n  a: {block: [discord]}\ndefault_profile: a",
			func(c *Config) any { return profile(c, "c").Block }, []string{"discord", "roblox", "tiktok"}},
		{"block deduplicated", "block: [tiktok]\nprofiles:\n  a: {block: [tiktok, roblox, tiktok]}", func(c *Config) any { return profile(c, "a").Block }, []string{"tiktok", "roblox"}},
		{"block single", "profiles: {a: {block: tiktok}}", func(c *Config) any { return profile(c, "a").Block }, []string{"tiktok"}},
		{"block categories custom bypass", lists + "profiles: {a: {block: [adult, custom, bypass]}}", func(c *Config) any { return profile(c, "a").Block }, []string{"adult", "custom", "bypass"}},
		{"allow normalised", "profiles: {a: {allow: [Bücher.Example.]}}", func(c *Config) any { return profile(c, "a").Allow }, []string{"xn--bcher-kva.example"}},
		{"block_ips", "profiles: {a: {block_ips: [\"2001:db8::1\", 192.0.2.0/24, 192.0.2.0/24]}}", func(c *Config) any { return profile(c, "a").BlockIPs },
			prefixes(t, "2001:db8::1/128", "192.0.2.0/24")},
		{"safesearch false", "profiles:\n  a: {safesearch: true}\n  b: {inherit: a, safesearch: false}\ndefault_profile: a", func(c *Config) any { return profile(c, "b").SafeSearch }, SafeSearch{}},
		{"safesearch inherited", "profiles:\n  a: {safesearch: true}\n  b: {inherit: a}\ndefault_profile: a", func(c *Config) any { return profile(c, "b").SafeSearch.YouTube }, "strict"},
		{"safesearch mapping", "profiles: {a: {safesearch: {google: true, youtube: Moderate}}}", func(c *Config) any { return profile(c, "a").SafeSearch }, SafeSearch{Google: true, YouTube: "moderate"}},
		{"safesearch youtube true", "profiles: {a: {safesearch: {youtube: true}}}", func(c *Config) any { return profile(c, "a").SafeSearch }, SafeSearch{YouTube: "strict"}},
		{"safesearch youtube off", "profiles: {a: {safesearch: {youtube: off, bing: false}}}", func(c *Config) any { return profile(c, "a").SafeSearch }, SafeSearch{}},
		{"bypass inherited", "profiles:\n  a: {bypass_prevention: true}\n  b: {inherit: a}\n  c: {inherit: b, bypass_prevention: false}\ndefault_profile: a",
			func(c *Config) any { return []bool{profile(c, "b").BypassPrevention, profile(c, "c").BypassPrevention} }, []bool{true, false}},
		{"timezone", "profiles: {a: {timezone: America/New_York}}", func(c *Config) any { return profile(c, "a").Location.String() }, "America/New_York"},
		{"timezone utc", "profiles: {a: {timezone: UTC}}", func(c *Config) any { return profile(c, "a").Location }, time.UTC},
		{"timezone empty", "profiles: {a: {timezone: \"\"}}", func(c *Config) any { return profile(c, "a").Location }, time.Local},
		{"answer own ttl from top", "answer: {ttl: 5m}\nprofiles: {a: {answer: \"192.0.2.1\"}}", func(c *Config) any { return profile(c, "a").Answer },
			Answer{Mode: AnswerAddress, IPv4: netip.MustParseAddr("192.0.2.1"), TTL: 5 * time.Minute}},
		{"answer null", "profiles: {a: {answer: null}}", func(c *Config) any { return profile(c, "a").Answer.Mode }, AnswerNull},
		{"answer empty inherits", "answer: refused\nprofiles: {a: {answer: }}", func(c *Config) any { return profile(c, "a").Answer.Mode }, AnswerRefused},
		{"answer inherited", "profiles:\n  a: {answer: {mode: null, ttl: 1s}}\n  b: {inherit: a}\ndefault_profile: a", func(c *Config) any { return profile(c, "b").Answer }, Answer{Mode: AnswerNull, TTL: time.Second}},
		{"log", "profiles: {a: {log: NONE}}", func(c *Config) any { return profile(c, "a").Log }, LogNone},
		{"log inherited", "profiles:\n  a: {log: blocked}\n  b: {inherit: a}\ndefault_profile: a", func(c *Config) any { return profile(c, "b").Log }, LogBlocked},
		{"schedules inherited", "profiles:\n  a: {schedules: [{name: s, days: daily, from: \"9:00\", to: \"24:00\", block: [tiktok]}]}\n  b: {inherit: a}\ndefault_profile: a",
			func(c *Config) any { return profile(c, "b").Schedules },
			[]Schedule{{Name: "s", Days: [7]bool{true, true, true, true, true, true, true}, From: "09:00", To: "24:00", Block: []string{"tiktok"}}}},
		{"schedule days", "profiles: {a: {schedules: [{name: s, days: [Monday, weekends, fri], from: \"00:00\", to: \"00:00\", allow: [custom]}]}}",
			func(c *Config) any { return profile(c, "a").Schedules[0].Days }, [7]bool{true, true, false, false, false, true, true}},
		{"schedule all and more", lists + "profiles: {a: {schedules: [{name: s, days: all, from: \"1:00\", to: \"2:00\", block: [all, social], allow: [gaming]}]}}",
			func(c *Config) any { return profile(c, "a").Schedules[0] },
			Schedule{Name: "s", Days: [7]bool{true, true, true, true, true, true, true}, From: "01:00", To: "02:00", Block: []string{"social"}, BlockAll: true, Unblock: []string{"gaming"}}},
		{"schedule one mapping", "profiles: {a: {schedules: {name: s, days: sun, from: \"1:00\", to: \"2:00\", block: all}}}",
			func(c *Config) any { return len(profile(c, "a").Schedules) }, 1},
		{"64 schedules", "profiles:\n  a:\n    schedules:\n" + manySchedules(64), func(c *Config) any { return len(profile(c, "a").Schedules) }, 64},
		{"devices", "devices:\n  - {name: a, match: [\"AA-BB-CC-DD-EE-FF\", \"10.0.0.0/8\", \"10.1.2.3/32\", \"fd00::/8\", id-1, id-1]}",
			func(c *Config) any { return c.Devices },
			[]Device{{Name: "a", Match: []string{"aa:bb:cc:dd:ee:ff", "10.0.0.0/8", "10.1.2.3", "fd00::/8", "id-1"}, Profile: "default"}}},
		{"device single match", "devices: {name: a, match: aabb.ccdd.eeff}", func(c *Config) any { return c.Devices[0].Match }, []string{"aa:bb:cc:dd:ee:ff"}},
		{"device nested cidrs", "devices:\n  - {name: a, match: 10.0.0.0/8}\n  - {name: b, match: 10.1.0.0/16}", func(c *Config) any { return len(c.Devices) }, 2},
		{"service shadowed by category", "lists: {tiktok: [t.txt]}\nprofiles: {a: {block: [tiktok]}}",
			func(c *Config) any {
				return slices.ContainsFunc(c.Services, func(s Service) bool { return s.Name == "tiktok" })
			}, false},
		{"service in top-level block", "services: {mine: [mine.example]}\nblock: [mine, youtube]", func(c *Config) any { return c.Block }, []string{"mine", "youtube"}},
		{"service domains normalised", "services: {mine: [Mine.Example., mine.example]}", func(c *Config) any {
			i := slices.IndexFunc(c.Services, func(s Service) bool { return s.Name == "mine" })
			return c.Services[i].Domains
		}, []string{"mine.example"}},
		{"bypass list", "lists: {bypass: builtin:bypass}", func(c *Config) any { return c.Lists[0].Source.Builtin }, "bypass"},
		{"mac_from", "mac_from: [\"fe80::1\", 192.168.0.0/16]", func(c *Config) any { return c.MACFrom }, prefixes(t, "fe80::1/128", "192.168.0.0/16")},
		{"neighbors false", "neighbors: false", func(c *Config) any { return c.Neighbors }, false},
		{"tls single, no server name", "tls: {listen: \"[::]:853\"}\ndata_dir: d", func(c *Config) any { return c.TLS }, TLSListen{Listen: []string{"[::]:853"}}},
		{"tls server name normalised", "tls: {server_name: DNS.Example.}", func(c *Config) any { return c.TLS.ServerName }, "dns.example"},
		{"tls empty listen", "tls: {listen: []}", func(c *Config) any { return len(c.TLS.Listen) }, 0},
		{"port 0 twice", "listen: [\"127.0.0.1:0\"]\ntls: {listen: \"127.0.0.1:0\"}\nhttps: {listen: \"127.0.0.1:0\"}\nhttp: \"127.0.0.1:0\"\ndata_dir: d", func(c *Config) any { return c.HTTP }, "127.0.0.1:0"},
		{"cert relative", "cert: {cert: c.pem, key: /k.pem}\nhttps: {listen: \":443\"}", func(c *Config) any { return c.Cert }, Certificate{Cert: filepath.Join("etc", "c.pem"), Key: "/k.pem"}},
		{"http", "http: \"[::1]:8053\"", func(c *Config) any { return c.HTTP }, "[::1]:8053"},
	}
	runGood(t, tests)
}

func manySchedules(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "      - {name: s%d, days: sun, from: \"1:00\", to: \"2:00\", block: all}\n", i)
	}
	return b.String()
}

func TestBuiltinServices(t *testing.T) {
	services := BuiltinServices()
	required := []string{"tiktok", "instagram", "snapchat", "facebook", "youtube", "roblox", "fortnite",
		"minecraft", "discord", "twitch", "netflix", "steam", "whatsapp", "twitter", "reddit", "pinterest",
		"telegram", "spotify", "disney_plus", "amazon_prime_video", "epic_games", "xbox_live", "playstation_network"}
	for _, name := range required {
		if !slices.ContainsFunc(services, func(s Service) bool { return s.Name == name }) {
			t.Errorf("catalogue lacks %s", name)
		}
	}
	// Shared infrastructure must never be listed whole: blocking one
	// service would break unrelated sites. Hosts of a service's own under
	// them are fine.
	shared := []string{"googleapis.com", "google.com", "gstatic.com", "ggpht.com", "akamaized.net",
		"akamaihd.net", "amazonaws.com", "cloudfront.net", "fastly.net", "azureedge.net", "amazon.com",
		"appspot.com", "bamgrid.com", "edgesuite.net", "microsoft.com", "apple.com", "cloudflare.com"}
	for _, s := range services {
		for _, d := range s.Domains {
			if slices.Contains(shared, d) {
				t.Errorf("%s lists shared infrastructure %s", s.Name, d)
			}
		}
	}
	// Each call returns its own slices.
	services[0].Domains[0] = "changed.example"
	if BuiltinServices()[0].Domains[0] == "changed.example" {
		t.Errorf("BuiltinServices shares state between calls")
	}
}

func TestParseCatalogue(t *testing.T) {
	good := "# comment\nb: b.example  # trailing\n\na: a.example\n  a2.example\n\ta3.example\n"
	got, err := parseCatalogue(good)
	want := []Service{{Name: "a", Domains: []string{"a.example", "a2.example", "a3.example"}}, {Name: "b", Domains: []string{"b.example"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseCatalogue(good) = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{
		"  x.example\n", "a b: x.example\n", "custom: x.example\n", "a: x.example\na: y.example\n",
		"a: X.example\n", "a: x..example\n", "a: x.example x.example\n", "a:\n", "noseparator\n",
	} {
		if _, err := parseCatalogue(bad); err == nil {
			t.Errorf("parseCatalogue(%q) succeeded", bad)
		}
	}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in   string
		end  bool
		want string
	}{
		{"00:00", false, "00:00"}, {"7:05", false, "07:05"}, {"23:59", false, "23:59"}, {"24:00", true, "24:00"},
		{"24:00", false, ""}, {"24:01", true, ""}, {"12:60", false, ""}, {"1200", false, ""}, {"12:5", false, ""},
		{"+1:00", false, ""}, {"123:00", false, ""}, {":00", false, ""}, {"9pm", false, ""},
	}
	for _, tt := range tests {
		got, err := parseClock(tt.in, tt.end)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("parseClock(%q, %v) = %q, %v; want %q", tt.in, tt.end, got, err, tt.want)
		}
	}
}

func TestMatchKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.168.1.23", "192.168.1.23"}, {"2001:DB8::1", "2001:db8::1"}, {"192.168.1.0/24", "192.168.1.0/24"},
		{"192.168.1.7/32", "192.168.1.7"}, {"02:42:AC:11:00:02", "02:42:ac:11:00:02"}, {"02-42-ac-11-00-02", "02:42:ac:11:00:02"},
		{"0242.ac11.0002", "02:42:ac:11:00:02"}, {"kidtablet", "kidtablet"}, {"0-a", "0-a"}, {strings.Repeat("a", 63), strings.Repeat("a", 63)},
		{"KidTablet", ""}, {"-a", ""}, {strings.Repeat("a", 64), ""}, {"a_b", ""}, {"192.168.1.1/24", ""}, {"fe80::1%eth0", ""},
		{"::ffff:10.0.0.1", ""}, {"00:00:00:00:00:00", ""}, {"::ffff:0:0/96", ""}, {"02-42-ac-11-00-02-00-01", ""},
		// Eight colon-separated groups read as IPv6, not as a 64-bit MAC.
		{"02:42:ac:11:00:02:00:01", "2:42:ac:11:0:2:0:1"}, {"", ""}, {"a.b", ""},
	}
	for _, tt := range tests {
		got, err := matchKey(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("matchKey(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSummaryFamily(t *testing.T) {
	got := mustLoad(t, "testdata/family.yaml").Summary()
	for _, want := range []string{
		"  adult (blocked in kids, teens):",
		"  malware (blocked):",
		"  gaming (not blocked):",
		"profiles (unmatched clients: adults):",
		"  kids (inherits base):",
		"    block: malware, adult, gambling, social, tiktok",
		"    block_ips: 203.0.113.0/24, 198.51.100.7/32",
		"    safesearch: google, bing, duckduckgo, yandex, ecosia, pixabay, brave, youtube strict",
		"    bypass prevention: on",
		"    timezone: Europe/London",
		"    answer: nxdomain, TTL 30s",
		"    log: blocked",
		"    schedule bedtime: sun, mon, tue, wed, thu 21:00-07:00, block all",
		"    schedule homework: weekdays 16:00-18:00, block social, gaming",
		"    schedule saturday-games: sat 10:00-12:00, allow roblox",
		"devices:",
		"  kid-tablet -> kids: 192.168.1.23, 02:42:ac:11:00:02, kidtablet",
		"  laptop -> adults: 02:42:ac:11:00:03, fd00::5",
		"services: 22 built-in; yours: schoolapp (2 names), youtube (1 name, replaces the built-in)",
		"mac_from: 192.168.1.1/32, 10.0.0.0/8",
		"neighbors: MAC addresses read from the kernel's neighbour table",
		"tls: 0.0.0.0:853, server name dns.example.net",
		"https: 0.0.0.0:443",
		"http: 127.0.0.1:8053 (local API)",
	} {
		if !slices.Contains(strings.Split(got, "\n"), want) {
			t.Errorf("summary lacks line %q:\n%s", want, got)
		}
	}
	// The adults profile has the top-level answer, so none is printed.
	if strings.Count(got, "    answer:") != 2 {
		t.Errorf("want an answer line for kids and teens only:\n%s", got)
	}
	c := mustParse(t, "upstreams: 9.9.9.9\nhttps: {listen: \":443\"}\ndata_dir: /d\n")
	if s := c.Summary(); !strings.Contains(s, "\ncert: generated (self-signed), kept in /d\n") {
		t.Errorf("summary lacks the generated certificate:\n%s", s)
	}
}
