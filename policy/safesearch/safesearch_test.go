package safesearch

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// all switches every engine on, YouTube at Strict.
var all = Settings{
	Google: true, Bing: true, DuckDuckGo: true, Yandex: true, Ecosia: true,
	Pixabay: true, Brave: true, YouTube: Strict,
}

func TestRewrite(t *testing.T) {
	moderate := all
	moderate.YouTube = Moderate
	tests := []struct {
		name   string
		s      Settings
		target string
		engine string // "" means not rewritten
	}{
		// Google: apex, www, country domains, and what is left alone.
		{"google.com.", all, "forcesafesearch.google.com.", "google"},
		{"www.google.com.", all, "forcesafesearch.google.com.", "google"},
		{"www.google.co.uk.", all, "forcesafesearch.google.com.", "google"},
		{"google.co.uk.", all, "forcesafesearch.google.com.", "google"},
		{"www.google.de.", all, "forcesafesearch.google.com.", "google"},
		{"www.google.com.br.", all, "forcesafesearch.google.com.", "google"},
		{"google.cat.", all, "forcesafesearch.google.com.", "google"},
		{"maps.google.com.", all, "", ""},
		{"mail.google.com.", all, "", ""},
		{"google.com.evil.test.", all, "", ""},
		{"www.google.com.evil.test.", all, "", ""},
		{"evilgoogle.com.", all, "", ""},
		{"google.example.", all, "", ""},
		{"forcesafesearch.google.com.", all, "", ""},
		{"www.google.com", all, "", ""},  // not fully qualified
		{"WWW.GOOGLE.COM.", all, "", ""}, // not lower case
		{"www.google.com.", Settings{Bing: true, YouTube: Strict}, "", ""},

		// YouTube: both levels, and off.
		{"www.youtube.com.", all, "restrict.youtube.com.", "youtube"},
		{"m.youtube.com.", all, "restrict.youtube.com.", "youtube"},
		{"youtubei.googleapis.com.", all, "restrict.youtube.com.", "youtube"},
		{"youtube.googleapis.com.", all, "restrict.youtube.com.", "youtube"},
		{"www.youtube-nocookie.com.", all, "restrict.youtube.com.", "youtube"},
		{"www.youtube.com.", moderate, "restrictmoderate.youtube.com.", "youtube"},
		{"m.youtube.com.", Settings{YouTube: Moderate}, "restrictmoderate.youtube.com.", "youtube"},
		{"www.youtube.com.", Settings{Google: true}, "", ""},
		{"www.youtube.com.", Settings{YouTube: YouTube(9)}, "", ""},
		{"i.ytimg.com.", all, "", ""},
		{"restrict.youtube.com.", all, "", ""},

		// Bing.
		{"www.bing.com.", all, "strict.bing.com.", "bing"},
		{"bing.com.", all, "strict.bing.com.", "bing"},
		{"edgeservices.bing.com.", all, "strict.bing.com.", "bing"},
		{"th.bing.com.", all, "", ""},
		{"www.bing.com.", Settings{Google: true}, "", ""},

		// DuckDuckGo.
		{"duckduckgo.com.", all, "safe.duckduckgo.com.", "duckduckgo"},
		{"www.duckduckgo.com.", all, "safe.duckduckgo.com.", "duckduckgo"},
		{"start.duckduckgo.com.", all, "safe.duckduckgo.com.", "duckduckgo"},
		{"links.duckduckgo.com.", all, "", ""},
		{"safe.duckduckgo.com.", all, "", ""},
		{"duckduckgo.com.", Settings{Google: true}, "", ""},

		// Yandex.
		{"yandex.ru.", all, "familysearch.yandex.ru.", "yandex"},
		{"www.yandex.ru.", all, "familysearch.yandex.ru.", "yandex"},
		{"yandex.com.tr.", all, "familysearch.yandex.ru.", "yandex"},
		{"www.yandex.ua.", all, "familysearch.yandex.ru.", "yandex"},
		{"ya.ru.", all, "familysearch.yandex.ru.", "yandex"},
		{"xn--d1acpjx3f.xn--p1ai.", all, "familysearch.yandex.ru.", "yandex"},
		{"mail.yandex.ru.", all, "", ""},
		{"familysearch.yandex.ru.", all, "", ""},
		{"yandex.ru.", Settings{Google: true}, "", ""},

		// Ecosia.
		{"www.ecosia.org.", all, "strict-safe-search.ecosia.org.", "ecosia"},
		{"www.ecosia.org.", Settings{Google: true}, "", ""},

		// Pixabay.
		{"pixabay.com.", all, "safesearch.pixabay.com.", "pixabay"},
		{"www.pixabay.com.", all, "safesearch.pixabay.com.", "pixabay"},
		{"cdn.pixabay.com.", all, "", ""},
		{"pixabay.com.", Settings{Google: true}, "", ""},

		// Brave Search.
		{"search.brave.com.", all, "forcesafe.search.brave.com.", "brave"},
		{"brave.com.", all, "", ""},
		{"search.brave.com.", Settings{Google: true}, "", ""},

		// Nothing switched on.
		{"www.google.com.", Settings{}, "", ""},
		{"", all, "", ""},
		{".", all, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, engine, ok := Rewrite(tt.name, tt.s)
			if ok != (tt.engine != "") || target != tt.target || engine != tt.engine {
				t.Errorf("Rewrite(%q) = %q, %q, %v; want %q, %q, %v",
					tt.name, target, engine, ok, tt.target, tt.engine, tt.engine != "")
			}
		})
	}
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		s    Settings
		want bool
	}{
		{Settings{}, false},
		{Settings{YouTube: Off}, false},
		{Settings{Google: true}, true},
		{Settings{Bing: true}, true},
		{Settings{DuckDuckGo: true}, true},
		{Settings{Yandex: true}, true},
		{Settings{Ecosia: true}, true},
		{Settings{Pixabay: true}, true},
		{Settings{Brave: true}, true},
		{Settings{YouTube: Moderate}, true},
		{Settings{YouTube: Strict}, true},
	}
	for _, tt := range tests {
		if got := tt.s.Enabled(); got != tt.want {
			t.Errorf("%+v.Enabled() = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestYouTubeString(t *testing.T) {
	for y, want := range map[YouTube]string{Off: "off", Moderate: "moderate", Strict: "strict", 7: "unknown"} {
		if got := y.String(); got != want {
			t.Errorf("YouTube(%d).String() = %q, want %q", y, got, want)
		}
	}
}

func TestHosts(t *testing.T) {
	got := Hosts(all)
	if !slices.IsSorted(got) {
		t.Error("Hosts is not sorted")
	}
	if len(got) != len(hosts) {
		t.Errorf("Hosts(all) has %d names, the table %d", len(got), len(hosts))
	}
	for _, name := range got {
		target, _, ok := Rewrite(name, all)
		if !ok {
			t.Errorf("Hosts lists %q, which Rewrite leaves alone", name)
			continue
		}
		// A target that were itself rewritten would loop.
		if _, _, again := Rewrite(target, all); again {
			t.Errorf("target %q of %q is itself rewritten", target, name)
		}
		if _, ok := dns.IsDomainName(name); !ok || !dns.IsFqdn(name) || strings.ToLower(name) != name {
			t.Errorf("host %q is not a lower-case FQDN", name)
		}
	}
	for _, want := range []string{"google.com.", "www.google.co.uk.", "www.youtube.com.", "www.bing.com.", "search.brave.com."} {
		if _, found := slices.BinarySearch(got, want); !found {
			t.Errorf("Hosts(all) lacks %q", want)
		}
	}

	if h := Hosts(Settings{}); len(h) != 0 {
		t.Errorf("Hosts(off) = %v, want none", h)
	}
	only := Hosts(Settings{Brave: true})
	if !slices.Equal(only, []string{"search.brave.com."}) {
		t.Errorf("Hosts(brave) = %v", only)
	}
	yt := Hosts(Settings{YouTube: Moderate})
	if len(yt) != 5 {
		t.Errorf("Hosts(youtube) = %v, want the 5 documented names", yt)
	}
}

func TestUnsupported(t *testing.T) {
	if u := Unsupported(all); len(u) != 0 {
		t.Errorf("Unsupported(all) = %v; every engine has a documented host", u)
	}
	if u := Unsupported(Settings{}); len(u) != 0 {
		t.Errorf("Unsupported(off) = %v", u)
	}
	// Every engine must be reachable through Settings, have a name and a
	// target, and the target must map back to the engine for the trace.
	for e := engine(0); e < numEngines; e++ {
		if !all.on(e) {
			t.Errorf("engine %v cannot be switched on", e)
		}
		if e.String() == "unknown" {
			t.Errorf("engine %d has no name", e)
		}
		for _, y := range []YouTube{Moderate, Strict} {
			s := all
			s.YouTube = y
			target := e.target(s)
			if back, ok := engineOf(target); !ok || back != e {
				t.Errorf("engineOf(%q) = %v, %v; want %v", target, back, ok, e)
			}
			if !dns.IsFqdn(target) {
				t.Errorf("target %q of %v is not fully qualified", target, e)
			}
		}
	}
	if numEngines.String() != "unknown" || numEngines.target(all) != "" || all.on(numEngines) {
		t.Error("the end marker is treated as an engine")
	}
}

// TestGoogleDomains checks the embedded list: Google's country domains,
// well formed and without duplicates.
func TestGoogleDomains(t *testing.T) {
	seen := map[string]bool{}
	for i, line := range strings.Split(googleDomains, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line != strings.TrimSpace(strings.ToLower(line)) || !strings.HasPrefix(line, "google.") {
			t.Errorf("line %d: %q is not a lower-case google.* domain", i+1, line)
		}
		if _, ok := dns.IsDomainName(line); !ok || dns.IsFqdn(line) {
			t.Errorf("line %d: %q is not a domain without trailing dot", i+1, line)
		}
		if seen[line] {
			t.Errorf("line %d: %q repeated", i+1, line)
		}
		seen[line] = true
	}
	if len(seen) < 187 {
		t.Errorf("%d Google domains, want Google's full list (187 or more)", len(seen))
	}
	for _, d := range []string{"google.com", "google.co.uk", "google.de", "google.com.au", "google.co.jp", "google.cat"} {
		if !seen[d] {
			t.Errorf("Google list lacks %s", d)
		}
	}
}

// TestRewriteAllocs holds Rewrite to its promise of no allocation, for
// rewritten names and for the common case of a name that is not.
func TestRewriteAllocs(t *testing.T) {
	for _, name := range []string{"www.google.co.uk.", "www.youtube.com.", "example.com."} {
		if n := testing.AllocsPerRun(100, func() { Rewrite(name, all) }); n != 0 {
			t.Errorf("Rewrite(%q) allocates %v times", name, n)
		}
	}
}

func BenchmarkRewrite(b *testing.B) {
	names := []string{"www.google.com.", "www.google.co.uk.", "www.youtube.com.", "example.com.", "cdn.example.net."}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Rewrite(names[i%len(names)], all)
	}
}
