package server

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestLimitForAmplification(t *testing.T) {
	plain := new(dns.Msg)
	plain.SetQuestion("example.com.", dns.TypeTXT)
	plain.SetEdns0(1232, false)
	clientCookie := plain.Copy()
	clientCookie.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	serverCookie := plain.Copy()
	serverCookie.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "01020304050607080910111213141516"}}
	tests := []struct {
		name   string
		req    *dns.Msg
		client string
		want   int
	}{
		{"LAN client keeps its size", plain, "192.168.1.20", 1232},
		{"loopback keeps its size", plain, "127.0.0.1", 1232},
		{"ULA keeps its size", plain, "fd00::20", 1232},
		{"public client without cookie", plain, "203.0.113.9", 512},
		{"public client with only a client cookie", clientCookie, "203.0.113.9", 512},
		{"public client with a server cookie", serverCookie, "203.0.113.9", 1232},
		{"public IPv6 client", plain, "2001:db8::9", 512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := limitForAmplification(tc.req, netip.MustParseAddr(tc.client), 1232); got != tc.want {
				t.Errorf("size %d, want %d", got, tc.want)
			}
		})
	}
}
