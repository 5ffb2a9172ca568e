package client

import (
	"net/netip"
	"strings"
	"testing"
)

func mustMAC(tb testing.TB, s string) MAC {
	tb.Helper()
	m, err := ParseMAC(s)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func nets(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func testIdentifier(tb testing.TB) *Identifier {
	tb.Helper()
	id, err := NewIdentifier([]Device{
		{Name: "tablet", Profile: "kids", IDs: []string{"kids-tablet"}, MACs: []MAC{mustMAC(tb, "02:00:00:00:00:01")}},
		{Name: "laptop", Profile: "adult", MACs: []MAC{mustMAC(tb, "02:00:00:00:00:02")}, IPs: addrs("192.168.1.23", "fd00::23")},
		{Name: "printer", Profile: "iot", IPs: addrs("192.168.1.99")},
		{Name: "kids-room", Profile: "kids", Nets: nets("192.168.50.0/24", "fd00:50::/64")},
		{Name: "kids-desk", Profile: "strict", Nets: nets("192.168.50.128/25")},
		{Name: "house", Profile: "", Nets: nets("192.168.0.0/16", "::ffff:10.0.0.0/104")},
		{Name: "v6-site", Profile: "guest", Nets: nets("fd00::/16")},
	}, "default")
	if err != nil {
		tb.Fatalf("NewIdentifier: %v", err)
	}
	return id
}

func TestIdentify(t *testing.T) {
	id := testIdentifier(t)
	mac1 := mustMAC(t, "02:00:00:00:00:01")
	mac2 := mustMAC(t, "02:00:00:00:00:02")
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name            string
		who             Who
		device, profile string
	}{
		{"client id", Who{ClientID: "kids-tablet"}, "tablet", "kids"},
		{"client id upper case", Who{ClientID: "Kids-Tablet"}, "tablet", "kids"},
		{"client id beats MAC", Who{ClientID: "kids-tablet", MAC: mac2, HasMAC: true}, "tablet", "kids"},
		{"client id beats IP", Who{ClientID: "kids-tablet", Addr: ip("192.168.1.23")}, "tablet", "kids"},
		{"unknown client id falls through", Who{ClientID: "nobody", Addr: ip("192.168.1.23")}, "laptop", "adult"},
		{"MAC", Who{MAC: mac1, HasMAC: true}, "tablet", "kids"},
		{"MAC beats IP", Who{MAC: mac1, HasMAC: true, Addr: ip("192.168.1.23")}, "tablet", "kids"},
		{"MAC beats CIDR", Who{MAC: mac2, HasMAC: true, Addr: ip("192.168.50.7")}, "laptop", "adult"},
		{"MAC without HasMAC ignored", Who{MAC: mac1, Addr: ip("192.168.1.99")}, "printer", "iot"},
		{"unknown MAC falls through", Who{MAC: mustMAC(t, "02:00:00:00:00:99"), HasMAC: true, Addr: ip("192.168.1.99")}, "printer", "iot"},
		{"IP", Who{Addr: ip("192.168.1.99")}, "printer", "iot"},
		{"IP beats CIDR", Who{Addr: ip("192.168.1.23")}, "laptop", "adult"},
		{"IPv6 IP", Who{Addr: ip("fd00::23")}, "laptop", "adult"},
		{"IPv6 IP with zone", Who{Addr: ip("fd00::23%eth0")}, "laptop", "adult"},
		{"IPv4-mapped IP", Who{Addr: ip("::ffff:192.168.1.23")}, "laptop", "adult"},
		{"CIDR", Who{Addr: ip("192.168.50.7")}, "kids-room", "kids"},
		{"longest CIDR", Who{Addr: ip("192.168.50.200")}, "kids-desk", "strict"},
		{"IPv4-mapped longest CIDR", Who{Addr: ip("::ffff:192.168.50.200")}, "kids-desk", "strict"},
		{"outer CIDR", Who{Addr: ip("192.168.7.1")}, "house", "default"},
		{"mapped CIDR from config", Who{Addr: ip("10.1.2.3")}, "house", "default"},
		{"IPv6 CIDR", Who{Addr: ip("fd00:50::1234")}, "kids-room", "kids"},
		{"IPv6 outer CIDR", Who{Addr: ip("fd00:51::1")}, "v6-site", "guest"},
		{"IPv6 CIDR with zone", Who{Addr: ip("fd00:50::1%3")}, "kids-room", "kids"},
		{"IPv4 network does not match IPv6", Who{Addr: ip("c0a8:3207::")}, "", "default"},
		{"unmatched IPv4", Who{Addr: ip("172.16.0.1")}, "", "default"},
		{"unmatched IPv6", Who{Addr: ip("2001:db8::1")}, "", "default"},
		{"nothing known", Who{}, "", "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, p := id.Identify(tc.who)
			if d != tc.device || p != tc.profile {
				t.Errorf("Identify(%+v) = %q, %q; want %q, %q", tc.who, d, p, tc.device, tc.profile)
			}
		})
	}
}

func TestIdentifyEmpty(t *testing.T) {
	id, err := NewIdentifier(nil, "family")
	if err != nil {
		t.Fatal(err)
	}
	if d, p := id.Identify(Who{ClientID: "x", Addr: netip.MustParseAddr("10.0.0.1")}); d != "" || p != "family" {
		t.Errorf("Identify = %q, %q; want \"\", family", d, p)
	}
}

func TestNewIdentifierErrors(t *testing.T) {
	mac := MAC{2, 0, 0, 0, 0, 1}
	for _, tc := range []struct {
		name    string
		devices []Device
		errHas  string // "" means no error
	}{
		{"same key twice in one device", []Device{{Name: "a", IDs: []string{"x", "x"}, MACs: []MAC{mac, mac}, Nets: nets("10.0.0.0/8", "10.0.0.0/8")}}, ""},
		{"nested CIDRs", []Device{{Name: "a", Nets: nets("10.0.0.0/8")}, {Name: "b", Nets: nets("10.1.0.0/16")}}, ""},
		{"IP inside another's CIDR", []Device{{Name: "a", Nets: nets("10.0.0.0/8")}, {Name: "b", IPs: addrs("10.0.0.1")}}, ""},
		{"/32 and the same IP", []Device{{Name: "a", Nets: nets("10.0.0.1/32")}, {Name: "b", IPs: addrs("10.0.0.1")}}, ""},
		{"no keys", []Device{{Name: "a"}}, ""},

		{"no name", []Device{{IDs: []string{"x"}}}, "no name"},
		{"duplicate name", []Device{{Name: "a"}, {Name: "a"}}, "defined twice"},
		{"duplicate client id", []Device{{Name: "a", IDs: []string{"x"}}, {Name: "b", IDs: []string{"x"}}}, `client id x already belongs to device "a"`},
		{"duplicate MAC", []Device{{Name: "a", MACs: []MAC{mac}}, {Name: "b", MACs: []MAC{mac}}}, "MAC 02:00:00:00:00:01 already belongs"},
		{"duplicate IP", []Device{{Name: "a", IPs: addrs("10.0.0.1")}, {Name: "b", IPs: addrs("10.0.0.1")}}, "IP 10.0.0.1 already belongs"},
		{"duplicate IP mapped", []Device{{Name: "a", IPs: addrs("10.0.0.1")}, {Name: "b", IPs: addrs("::ffff:10.0.0.1")}}, "already belongs"},
		{"identical CIDR", []Device{{Name: "a", Nets: nets("10.0.0.0/8")}, {Name: "b", Nets: nets("10.0.0.0/8")}}, "CIDR 10.0.0.0/8 already belongs"},
		{"identical CIDR mapped", []Device{{Name: "a", Nets: nets("10.0.0.0/8")}, {Name: "b", Nets: nets("::ffff:10.0.0.0/104")}}, "already belongs"},
		{"invalid client id", []Device{{Name: "a", IDs: []string{"Upper"}}}, "invalid client id"},
		{"empty client id", []Device{{Name: "a", IDs: []string{""}}}, "invalid client id"},
		{"zero MAC", []Device{{Name: "a", MACs: []MAC{{}}}}, "all-zero"},
		{"invalid IP", []Device{{Name: "a", IPs: []netip.Addr{{}}}}, "invalid IP"},
		{"IP with zone", []Device{{Name: "a", IPs: addrs("fe80::1%eth0")}}, "zones"},
		{"invalid CIDR", []Device{{Name: "a", Nets: []netip.Prefix{{}}}}, "invalid CIDR"},
		{"CIDR host bits", []Device{{Name: "a", Nets: nets("10.0.0.1/8")}}, "host bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewIdentifier(tc.devices, "default")
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("NewIdentifier: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("NewIdentifier error = %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

// identifyCases covers every lookup path for the allocation test and the
// benchmark.
func identifyCases(tb testing.TB) []Who {
	return []Who{
		{ClientID: "kids-tablet"},
		{ClientID: "KIDS-TABLET"},
		{MAC: mustMAC(tb, "02:00:00:00:00:02"), HasMAC: true},
		{Addr: netip.MustParseAddr("192.168.1.23")},
		{Addr: netip.MustParseAddr("::ffff:192.168.50.200")},
		{Addr: netip.MustParseAddr("fd00:50::1%eth0")},
		{ClientID: "nobody", Addr: netip.MustParseAddr("172.16.0.1")},
	}
}

func TestIdentifyAllocs(t *testing.T) {
	id := testIdentifier(t)
	for _, w := range identifyCases(t) {
		if n := testing.AllocsPerRun(100, func() { id.Identify(w) }); n != 0 {
			t.Errorf("Identify(%+v): %v allocations, want 0", w, n)
		}
	}
}

func BenchmarkIdentify(b *testing.B) {
	id := testIdentifier(b)
	cases := identifyCases(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id.Identify(cases[i%len(cases)])
		i++
	}
}
