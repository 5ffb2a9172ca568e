package haven_test

import (
	"fmt"
	"testing"

	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// TestBypassPrevention: the names devices use to decide whether to go
// around the network's resolver get the answers that keep them on it, and
// known DoH resolvers from the built-in bypass list are blocked; without
// bypass prevention all of them are forwarded.
func TestBypassPrevention(t *testing.T) {
	t.Parallel()
	svcb := `_dns.resolver.arpa. 300 IN SVCB 1 dns.google. alpn="dot" port=853`
	up, upURL := fakeUpstream(t,
		"example.com. 300 IN A 192.0.2.1",
		"use-application-dns.net. 300 IN A 192.0.2.40",
		"mask.icloud.com. 300 IN A 192.0.2.41",
		"mask.icloud.com. 300 IN AAAA 2001:db8::41",
		"mask-h2.icloud.com. 300 IN A 192.0.2.42",
		svcb,
		"dns.google. 300 IN A 192.0.2.43",
		"cloudflare-dns.com. 300 IN A 192.0.2.44",
		"mozilla.cloudflare-dns.com. 300 IN A 192.0.2.45",
	)
	h := launch(t, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
profiles:
  kids: {bypass_prevention: true}
  teens: {bypass_prevention: true, answer: "null"}
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [127.0.0.2], profile: kids}
  - {name: teen-phone, match: [127.0.0.4], profile: teens}
`, upURL), haven.Options{})

	tests := []struct {
		name       string
		qtype      uint16
		kids, open string // outcome with bypass prevention (kids), and without (adults)
		teens      string // with bypass prevention and the null block answer
	}{
		{"use-application-dns.net.", dns.TypeA, "NXDOMAIN blocked:bypass", "NOERROR A 192.0.2.40", "NXDOMAIN blocked:bypass"},
		{"mask.icloud.com.", dns.TypeA, "NXDOMAIN blocked:bypass", "NOERROR A 192.0.2.41", "NXDOMAIN blocked:bypass"},
		{"mask.icloud.com.", dns.TypeAAAA, "NXDOMAIN blocked:bypass", "NOERROR AAAA 2001:db8::41", "NXDOMAIN blocked:bypass"},
		{"mask-h2.icloud.com.", dns.TypeA, "NXDOMAIN blocked:bypass", "NOERROR A 192.0.2.42", "NXDOMAIN blocked:bypass"},
		{"_dns.resolver.arpa.", dns.TypeSVCB, "REFUSED blocked:bypass", "NOERROR " + rdata(mustRR(t, svcb)), "REFUSED blocked:bypass"},
		{"dns.google.", dns.TypeA, "NXDOMAIN blocked:bypass", "NOERROR A 192.0.2.43", "NOERROR blocked:bypass A 0.0.0.0"},
		{"cloudflare-dns.com.", dns.TypeA, "NXDOMAIN blocked:bypass", "NOERROR A 192.0.2.44", "NOERROR blocked:bypass A 0.0.0.0"},
		{"mozilla.cloudflare-dns.com.", dns.TypeA, "NXDOMAIN blocked:bypass", "NOERROR A 192.0.2.45", "NOERROR blocked:bypass A 0.0.0.0"},
		{"example.com.", dns.TypeA, "NOERROR A 192.0.2.1", "NOERROR A 192.0.2.1", "NOERROR A 192.0.2.1"},
	}
	for _, tc := range tests {
		label := tc.name + " " + dns.TypeToString[tc.qtype]
		before := up.Count()
		if got := outcome(askFrom(t, "127.0.0.2", h.Addr(), tc.name, tc.qtype)); got != tc.kids {
			t.Errorf("%s with bypass prevention: %q, want %q", label, got, tc.kids)
		}
		if tc.kids != tc.open && up.Count() != before {
			t.Errorf("%s with bypass prevention reached the upstream", label)
		}
		if got := outcome(askFrom(t, "127.0.0.4", h.Addr(), tc.name, tc.qtype)); got != tc.teens {
			t.Errorf("%s with bypass prevention and answer null: %q, want %q", label, got, tc.teens)
		}
		if got := outcome(askFrom(t, "127.0.0.1", h.Addr(), tc.name, tc.qtype)); got != tc.open {
			t.Errorf("%s without bypass prevention: %q, want %q", label, got, tc.open)
		}
	}
}

// TestBlockedServices blocks services from the built-in catalogue and one
// of the config's own, by name, like categories.
func TestBlockedServices(t *testing.T) {
	t.Parallel()
	_, upURL := fakeUpstream(t,
		"www.tiktok.com. 300 IN A 192.0.2.50",
		"roblox.com. 300 IN A 192.0.2.51",
		"youtube.com. 300 IN A 192.0.2.52",
		"coolmath.test. 300 IN A 192.0.2.53",
		"www.coolmath.test. 300 IN A 192.0.2.54",
		"twitch.tv. 300 IN A 192.0.2.55",
		"twitch.test. 300 IN A 192.0.2.56",
	)
	h := launch(t, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
services:
  coolgames: [coolmath.test, friv.test]
  twitch: [twitch.test]        # replaces the built-in twitch whole
profiles:
  kids: {block: [tiktok, roblox, coolgames, twitch]}
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [127.0.0.2], profile: kids}
`, upURL), haven.Options{})

	tests := []kidsAndAdults{
		{"www.tiktok.com.", "NXDOMAIN blocked:tiktok", "NOERROR A 192.0.2.50"},
		{"v16m.tiktokv.com.", "NXDOMAIN blocked:tiktok", "NXDOMAIN"},
		{"roblox.com.", "NXDOMAIN blocked:roblox", "NOERROR A 192.0.2.51"},
		{"youtube.com.", "NOERROR A 192.0.2.52", "NOERROR A 192.0.2.52"},
		{"coolmath.test.", "NXDOMAIN blocked:coolgames", "NOERROR A 192.0.2.53"},
		{"www.coolmath.test.", "NXDOMAIN blocked:coolgames", "NOERROR A 192.0.2.54"},
		{"friv.test.", "NXDOMAIN blocked:coolgames", "NXDOMAIN"},
		{"twitch.test.", "NXDOMAIN blocked:twitch", "NOERROR A 192.0.2.56"},
		{"twitch.tv.", "NOERROR A 192.0.2.55", "NOERROR A 192.0.2.55"}, // no longer in the replaced service
	}
	checkKidsAndAdults(t, h.Addr(), tests)
}

// TestAnswerInspection blocks an allowed name whose answer leads somewhere
// blocked: a CNAME to a name of a blocked category, or an address in the
// profile's block_ips. The adults' query goes first, so the kids' answer
// comes from the shared cache and must still be inspected.
func TestAnswerInspection(t *testing.T) {
	t.Parallel()
	_, upURL := fakeUpstream(t,
		"cdn.example.net. 300 IN CNAME edge.social.test.",
		"edge.social.test. 300 IN A 192.0.2.60",
		"bet.example.net. 300 IN CNAME www.casino.test.",
		"www.casino.test. 300 IN A 192.0.2.61",
		"badip.test. 300 IN A 203.0.113.7",
		"badip.test. 300 IN AAAA 2001:db8:bad::7",
		"mixed.test. 300 IN A 192.0.2.62",
		"mixed.test. 300 IN A 203.0.113.8",
		"fine.test. 300 IN A 192.0.2.63",
		"fine.test. 300 IN AAAA 2001:db8::63",
	)
	h := launch(t, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
lists:
  social: [{inline: [social.test]}]
  gambling: [{inline: [casino.test]}]
profiles:
  kids: {block: [social], block_ips: [203.0.113.0/24, "2001:db8:bad::/48"]}
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [127.0.0.2], profile: kids}
`, upURL), haven.Options{})

	tests := []struct {
		name         string
		qtype        uint16
		kids, adults string
	}{
		{"cdn.example.net.", dns.TypeA, "NXDOMAIN blocked:social", "NOERROR CNAME edge.social.test.; A 192.0.2.60"},
		{"bet.example.net.", dns.TypeA, "NOERROR CNAME www.casino.test.; A 192.0.2.61", "NOERROR CNAME www.casino.test.; A 192.0.2.61"}, // gambling is not blocked for kids
		{"badip.test.", dns.TypeA, "NXDOMAIN blocked:blocked-ip", "NOERROR A 203.0.113.7"},
		{"badip.test.", dns.TypeAAAA, "NXDOMAIN blocked:blocked-ip", "NOERROR AAAA 2001:db8:bad::7"},
		{"mixed.test.", dns.TypeA, "NXDOMAIN blocked:blocked-ip", "NOERROR A 192.0.2.62; A 203.0.113.8"},
		{"fine.test.", dns.TypeA, "NOERROR A 192.0.2.63", "NOERROR A 192.0.2.63"},
		{"fine.test.", dns.TypeAAAA, "NOERROR AAAA 2001:db8::63", "NOERROR AAAA 2001:db8::63"},
	}
	for _, tc := range tests {
		label := tc.name + " " + dns.TypeToString[tc.qtype]
		if got := outcome(askFrom(t, "127.0.0.1", h.Addr(), tc.name, tc.qtype)); got != tc.adults {
			t.Errorf("adults %s: %q, want %q", label, got, tc.adults)
		}
		r := askFrom(t, "127.0.0.2", h.Addr(), tc.name, tc.qtype)
		if got := outcome(r); got != tc.kids {
			t.Errorf("kids %s: %q, want %q", label, got, tc.kids)
		}
		if e := ede(r); tc.kids != tc.adults && (e == nil || e.InfoCode != dns.ExtendedErrorCodeFiltered) {
			t.Errorf("kids %s: EDE %v, want 17 (Filtered)", label, e)
		}
	}
}
