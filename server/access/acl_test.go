package access

import (
	"net/netip"
	"strings"
	"testing"
)

func addr(tb testing.TB, s string) netip.Addr {
	tb.Helper()
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func prefixes(tb testing.TB, ss ...string) []netip.Prefix {
	tb.Helper()
	ps, err := ParsePrefixes(ss)
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

type aclCase struct {
	addr   string
	action Action
	reason Reason
}

func runACL(t *testing.T, g *Guard, cases []aclCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			a, r := g.Check(addr(t, tc.addr))
			if a != tc.action || r != tc.reason {
				t.Errorf("Check(%q) = %v, %v; want %v, %v", tc.addr, a, r, tc.action, tc.reason)
			}
		})
	}
}

func TestDefaultAllow(t *testing.T) {
	runACL(t, New(Options{}), []aclCase{
		{"127.0.0.1", Serve, Allowed},
		{"127.255.255.254", Serve, Allowed},
		{"10.0.0.1", Serve, Allowed},
		{"10.255.255.255", Serve, Allowed},
		{"172.16.0.1", Serve, Allowed},
		{"172.31.255.254", Serve, Allowed},
		{"192.168.1.20", Serve, Allowed},
		{"100.64.0.1", Serve, Allowed},
		{"100.127.255.254", Serve, Allowed},
		{"169.254.10.1", Serve, Allowed},
		{"::1", Serve, Allowed},
		{"fc00::1", Serve, Allowed},
		{"fd12:3456:789a::53", Serve, Allowed},
		{"fe80::1", Serve, Allowed},
		{"fe80::1%eth0", Serve, Allowed}, // a zone must not stop the match
		{"::ffff:192.168.1.20", Serve, Allowed},
		{"::ffff:127.0.0.1", Serve, Allowed},

		{"172.15.255.255", Refuse, NotAllowed},
		{"172.32.0.1", Refuse, NotAllowed},
		{"100.63.255.255", Refuse, NotAllowed},
		{"100.128.0.1", Refuse, NotAllowed},
		{"192.169.0.1", Refuse, NotAllowed},
		{"8.8.8.8", Refuse, NotAllowed},
		{"1.1.1.1", Refuse, NotAllowed},
		{"0.0.0.0", Refuse, NotAllowed},
		{"255.255.255.255", Refuse, NotAllowed},
		{"::ffff:8.8.8.8", Refuse, NotAllowed},
		{"2001:db8::1", Refuse, NotAllowed},
		{"2606:4700:4700::1111", Refuse, NotAllowed},
		{"fec0::1", Refuse, NotAllowed},
		{"::", Refuse, NotAllowed},
		{"::2", Refuse, NotAllowed},
		{"", Refuse, NotAllowed}, // the zero netip.Addr
	})
}

func TestDenyBeatsAllow(t *testing.T) {
	g := New(Options{
		Allow: prefixes(t, "10.0.0.0/8", "fd00::/8"),
		Deny:  prefixes(t, "10.0.5.0/24", "10.0.9.9", "fd00:bad::/32", "192.0.2.0/24"),
	})
	g2 := New(Options{Deny: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.7.0/120")}})
	runACL(t, g, []aclCase{
		{"10.0.5.1", Refuse, Denied},
		{"10.0.5.255", Refuse, Denied},
		{"::ffff:10.0.5.1", Refuse, Denied},
		{"10.0.9.9", Refuse, Denied},
		{"10.0.9.8", Serve, Allowed},
		{"10.0.6.1", Serve, Allowed},
		{"fd00:bad::1", Refuse, Denied},
		{"fd00:bad0::1", Serve, Allowed},
		{"192.0.2.1", Refuse, Denied}, // the deny list is consulted first
		{"192.168.1.1", Refuse, NotAllowed},
	})
	t.Run("mapped deny prefix", func(t *testing.T) {
		runACL(t, g2, []aclCase{
			{"10.0.7.1", Refuse, Denied},
			{"10.0.8.1", Serve, Allowed},
		})
	})
}

func TestCustomAllow(t *testing.T) {
	t.Run("replaces the default", func(t *testing.T) {
		g := New(Options{Allow: prefixes(t, "203.0.113.0/24", "2001:db8::/32", "198.51.100.7")})
		runACL(t, g, []aclCase{
			{"203.0.113.77", Serve, Allowed},
			{"2001:db8:1::1", Serve, Allowed},
			{"198.51.100.7", Serve, Allowed},
			{"198.51.100.8", Refuse, NotAllowed},
			{"192.168.1.1", Refuse, NotAllowed},
			{"127.0.0.1", Refuse, NotAllowed},
		})
	})
	t.Run("everyone", func(t *testing.T) {
		g := New(Options{Allow: prefixes(t, "0.0.0.0/0", "::/0")})
		runACL(t, g, []aclCase{
			{"8.8.8.8", Serve, Allowed},
			{"2001:db8::1", Serve, Allowed},
			{"::ffff:8.8.8.8", Serve, Allowed},
		})
	})
	t.Run("IPv6 everyone is not IPv4 everyone", func(t *testing.T) {
		g := New(Options{Allow: prefixes(t, "::/0")})
		runACL(t, g, []aclCase{
			{"2001:db8::1", Serve, Allowed},
			{"::ffff:8.8.8.8", Refuse, NotAllowed},
		})
	})
	t.Run("empty means default", func(t *testing.T) {
		g := New(Options{Allow: []netip.Prefix{}})
		runACL(t, g, []aclCase{
			{"192.168.1.1", Serve, Allowed},
			{"8.8.8.8", Refuse, NotAllowed},
		})
	})
	t.Run("invalid prefixes ignored", func(t *testing.T) {
		g := New(Options{Allow: []netip.Prefix{{}, netip.MustParsePrefix("192.0.2.0/24")}})
		runACL(t, g, []aclCase{
			{"192.0.2.1", Serve, Allowed},
			{"192.168.1.1", Refuse, NotAllowed},
			{"", Refuse, NotAllowed},
		})
	})
	t.Run("mapped allow prefix", func(t *testing.T) {
		g := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("::ffff:192.0.2.0/120")}})
		runACL(t, g, []aclCase{
			{"192.0.2.1", Serve, Allowed},
			{"::ffff:192.0.2.1", Serve, Allowed},
		})
	})
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want string // want "" = error
	}{
		{"10.0.0.1", "10.0.0.1/32"},
		{" 10.1.2.3/8 ", "10.0.0.0/8"},
		{"::1", "::1/128"},
		{"2001:db8::1/56", "2001:db8::/56"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
		{"fe80::1%eth0", ""},
		{"10.0.0.0/33", ""},
		{"bogus", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePrefix(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParsePrefix(%q) = %v, want error", tc.in, p)
				}
				return
			}
			if err != nil || p.String() != tc.want {
				t.Fatalf("ParsePrefix(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
			}
		})
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/8", "nope/8"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("ParsePrefixes error %v does not name the bad entry", err)
	}
}

func TestParseAction(t *testing.T) {
	tests := []struct {
		in   string
		want Action
		err  bool
	}{
		{"", Refuse, false},
		{"refuse", Refuse, false},
		{"DROP", Drop, false},
		{" drop ", Drop, false},
		{"serve", Refuse, true},
		{"ignore", Refuse, true},
	}
	for _, tc := range tests {
		got, err := ParseAction(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseAction(%q) = %v, %v; want %v, error %t", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{Serve.String(), "serve"},
		{Refuse.String(), "refuse"},
		{Drop.String(), "drop"},
		{Action(9).String(), "unknown"},
		{Allowed.String(), "allowed"},
		{Denied.String(), "denied"},
		{NotAllowed.String(), "not allowed"},
		{ClientRate.String(), "client rate"},
		{PrefixRate.String(), "prefix rate"},
		{Reason(9).String(), "unknown"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
