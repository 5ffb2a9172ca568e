package haven_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// safeHosts are the engines' documented safe hosts (policy/safesearch).
var safeHosts = []string{
	"forcesafesearch.google.com.",
	"strict.bing.com.",
	"safe.duckduckgo.com.",
	"familysearch.yandex.ru.",
	"strict-safe-search.ecosia.org.",
	"safesearch.pixabay.com.",
	"forcesafe.search.brave.com.",
	"restrict.youtube.com.",
	"restrictmoderate.youtube.com.",
}

// searchNames are engine names, with the safe host a strict profile gets
// for each; "" means the name is not a search page and is left alone.
var searchNames = []struct{ name, strict string }{
	{"www.google.com.", "forcesafesearch.google.com."},
	{"google.com.", "forcesafesearch.google.com."},
	{"www.google.co.uk.", "forcesafesearch.google.com."},
	{"google.de.", "forcesafesearch.google.com."},
	{"www.bing.com.", "strict.bing.com."},
	{"duckduckgo.com.", "safe.duckduckgo.com."},
	{"yandex.ru.", "familysearch.yandex.ru."},
	{"www.ecosia.org.", "strict-safe-search.ecosia.org."},
	{"pixabay.com.", "safesearch.pixabay.com."},
	{"search.brave.com.", "forcesafe.search.brave.com."},
	{"www.youtube.com.", "restrict.youtube.com."},
	{"m.youtube.com.", "restrict.youtube.com."},
	{"maps.google.com.", ""},
}

// searchZone gives every safe host and every engine name its own A, AAAA
// and HTTPS records (the HTTPS ones carry address hints), so that an answer
// shows whose records it holds.
func searchZone() (records []string, byName map[string]map[uint16]string) {
	byName = map[string]map[uint16]string{}
	add := func(name, v4, v6 string) {
		rrs := map[uint16]string{
			dns.TypeA:     fmt.Sprintf("%s 300 IN A %s", name, v4),
			dns.TypeAAAA:  fmt.Sprintf("%s 300 IN AAAA %s", name, v6),
			dns.TypeHTTPS: fmt.Sprintf(`%s 300 IN HTTPS 1 . alpn="h2,h3" ipv4hint=%s ipv6hint=%s`, name, v4, v6),
		}
		byName[name] = rrs
		for _, s := range rrs {
			records = append(records, s)
		}
	}
	for i, h := range safeHosts {
		add(h, fmt.Sprintf("192.0.2.%d", 100+i), fmt.Sprintf("2001:db8::%x", 0x100+i))
	}
	for i, n := range searchNames {
		add(n.name, fmt.Sprintf("198.51.100.%d", 1+i), fmt.Sprintf("2001:db8:1::%x", 1+i))
	}
	return records, byName
}

// TestSafeSearchEveryEngine asks every engine's names for A, AAAA and
// HTTPS: a profile with SafeSearch gets a CNAME to the safe host and the
// safe host's records; one without gets the engine's own.
func TestSafeSearchEveryEngine(t *testing.T) {
	t.Parallel()
	records, byName := searchZone()
	_, upURL := fakeUpstream(t, records...)
	h := launch(t, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
profiles:
  kids: {safesearch: true}
  teens: {safesearch: {youtube: moderate}}
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [127.0.0.2], profile: kids}
  - {name: teen-phone, match: [127.0.0.4], profile: teens}
`, upURL), haven.Options{})

	own := func(name string, qtype uint16) string {
		return "NOERROR " + rdata(mustRR(t, byName[name][qtype]))
	}
	rewritten := func(name, target string, qtype uint16) string {
		return fmt.Sprintf("NOERROR CNAME %s; %s", target, rdata(mustRR(t, byName[target][qtype])))
	}
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS} {
		for _, n := range searchNames {
			for _, c := range []struct{ profile, src, target string }{
				{"kids", "127.0.0.2", n.strict},
				{"teens", "127.0.0.4", teenTarget(n.name)},
				{"adults", "127.0.0.1", ""},
			} {
				want := own(n.name, qtype)
				if c.target != "" {
					want = rewritten(n.name, c.target, qtype)
				}
				r := askFrom(t, c.src, h.Addr(), n.name, qtype)
				if got := outcome(r); got != want {
					t.Errorf("%s %s for %s: %q, want %q", n.name, dns.TypeToString[qtype], c.profile, got, want)
					continue
				}
				if c.target == "" {
					continue
				}
				// The CNAME is owned by the name asked, the records by the
				// safe host, and the CNAME lives no longer than they do.
				cname, rec := r.Answer[0].Header(), r.Answer[1].Header()
				if cname.Name != n.name || rec.Name != c.target || cname.Ttl > 300 || cname.Ttl > rec.Ttl {
					t.Errorf("%s %s for %s: owners/TTLs %s %d, %s %d", n.name, dns.TypeToString[qtype], c.profile, cname.Name, cname.Ttl, rec.Name, rec.Ttl)
				}
			}
		}
	}

	// The question keeps the case it was asked in; the rewrite does not
	// depend on it.
	r := askFrom(t, "127.0.0.2", h.Addr(), "WWW.Google.CO.UK.", dns.TypeA)
	if got, want := outcome(r), rewritten("www.google.co.uk.", "forcesafesearch.google.com.", dns.TypeA); got != want {
		t.Errorf("mixed case: %q, want %q", got, want)
	}
	if r.Question[0].Name != "WWW.Google.CO.UK." {
		t.Errorf("question %q, want the case as asked", r.Question[0].Name)
	}
}

// teenTarget is what the teens' profile (YouTube moderate only) does.
func teenTarget(name string) string {
	if strings.HasSuffix(name, "youtube.com.") {
		return "restrictmoderate.youtube.com."
	}
	return ""
}

func mustRR(tb testing.TB, s string) dns.RR {
	tb.Helper()
	rr, err := dns.NewRR(s)
	if err != nil || rr == nil {
		tb.Fatalf("record %q: %v", s, err)
	}
	return rr
}
