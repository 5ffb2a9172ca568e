package haven_test

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// familyZone is what the fake upstream of the profile tests serves.
var familyZone = []string{
	"example.com. 300 IN A 192.0.2.1",
	"social.test. 300 IN A 192.0.2.11",
	"casino.test. 300 IN A 192.0.2.12",
	"adult.test. 300 IN A 192.0.2.13",
	"mac-leak.test. 300 IN A 192.0.2.14",
}

const familyLists = `lists:
  adult: [{inline: [adult.test]}]
  social: [{inline: [social.test]}]
  gambling: [{inline: [casino.test]}]
block: [adult]
`

// TestProfilesBySourceAddress runs clients on several loopback addresses
// at once, over UDP and TCP, IPv4 and IPv6: each gets its own device's
// profile for the same names, through one shared cache.
func TestProfilesBySourceAddress(t *testing.T) {
	t.Parallel()
	_, upURL := fakeUpstream(t, familyZone...)
	v6 := hasIPv6Loopback()
	listen := `["127.0.0.1:0", "[::1]:0"]`
	if !v6 {
		t.Log("no IPv6 loopback: the ::1 client is not tested")
		listen = `["127.0.0.1:0"]`
	}
	h := launch(t, fmt.Sprintf(`listen: %s
upstreams: [%q]
%sprofiles:
  kids: {block: [social]}
  adults: {}
  guests: {block: [gambling]}
default_profile: guests
devices:
  - {name: kid-tablet, match: [127.0.0.2], profile: kids}
  - {name: kid-laptop, match: ["::1"], profile: kids}
  - {name: parent-phone, match: [127.0.0.3], profile: adults}
  - {name: kids-wifi, match: [127.0.1.0/24], profile: kids}
  - {name: study, match: [127.0.1.128/25], profile: adults}
`, listen, upURL, familyLists), haven.Options{})

	var addr4, addr6 string
	for _, a := range h.Addrs() {
		ip := a.(*net.UDPAddr).IP
		if ip.To4() != nil {
			addr4 = a.String()
		} else {
			addr6 = a.String()
		}
	}
	if addr4 == "" || (v6 && addr6 == "") {
		t.Fatalf("Addrs() = %v, want one 127.0.0.1 and one [::1] address", h.Addrs())
	}

	const (
		allowedSocial = "NOERROR A 192.0.2.11"
		blockedSocial = "NXDOMAIN blocked:social"
		allowedCasino = "NOERROR A 192.0.2.12"
		blockedCasino = "NXDOMAIN blocked:gambling"
		blockedAdult  = "NXDOMAIN blocked:adult"
		allowedPlain  = "NOERROR A 192.0.2.1"
	)
	type client struct {
		src, why string
		want     map[string]string // name -> outcome
	}
	kids := map[string]string{"social.test.": blockedSocial, "casino.test.": allowedCasino, "adult.test.": blockedAdult, "example.com.": allowedPlain}
	adults := map[string]string{"social.test.": allowedSocial, "casino.test.": allowedCasino, "adult.test.": blockedAdult, "example.com.": allowedPlain}
	guests := map[string]string{"social.test.": allowedSocial, "casino.test.": blockedCasino, "adult.test.": blockedAdult, "example.com.": allowedPlain}
	clients := []client{
		{"127.0.0.2", "device IP, kids", kids},
		{"127.0.0.3", "device IP, adults", adults},
		{"127.0.1.5", "in kids-wifi's /24", kids},
		{"127.0.1.200", "in study's /25, nested in kids-wifi's /24: longest prefix wins", adults},
		{"127.0.0.9", "no device: default profile", guests},
		{"127.0.0.1", "no device: default profile", guests},
	}
	if v6 {
		clients = append(clients, client{"::1", "device IPv6, kids", kids})
	}

	var (
		mu   sync.Mutex
		errs []string
		wg   sync.WaitGroup
	)
	for _, c := range clients {
		addr := addr4
		if strings.Contains(c.src, ":") {
			addr = addr6
		}
		// Several goroutines per client, all clients at once.
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := 0; round < 3; round++ {
					for _, netw := range []string{"udp", "tcp"} {
						for name, want := range c.want {
							r, err := exchangeFrom(c.src, netw, addr, query(name, dns.TypeA))
							got := ""
							if err == nil {
								got = outcome(r)
							}
							if err != nil || got != want {
								mu.Lock()
								errs = append(errs, fmt.Sprintf("%s (%s) %s %s: got %q (err %v), want %q", c.src, c.why, netw, name, got, err, want))
								mu.Unlock()
							}
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Sprintf("... and %d more", len(errs)-10))
	}
	for _, e := range errs {
		t.Error(e)
	}
}

// TestMACFromTrustedRouter identifies devices by the MAC address a router
// adds in EDNS0 option 65001, in dnsmasq's raw, text and base64 forms,
// and only when the router is in mac_from.
func TestMACFromTrustedRouter(t *testing.T) {
	t.Parallel()
	up, upURL := fakeUpstream(t, familyZone...)
	h := launch(t, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
%sprofiles:
  kids: {block: [social]}
  adults: {}
default_profile: adults
mac_from: [127.0.0.1]
devices:
  - {name: kid-phone, match: ["02:42:ac:11:00:02"], profile: kids}
`, upURL, familyLists), haven.Options{})

	kidMAC := []byte{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	mac := func(data []byte) dns.EDNS0 { return &dns.EDNS0_LOCAL{Code: 65001, Data: data} }
	tests := []struct {
		name string
		src  string
		opt  dns.EDNS0 // nil: no MAC option
		want string
	}{
		{"raw from router", "127.0.0.1", mac(kidMAC), "NXDOMAIN blocked:social"},
		{"text from router", "127.0.0.1", mac([]byte("02:42:ac:11:00:02")), "NXDOMAIN blocked:social"},
		{"base64 from router", "127.0.0.1", mac([]byte(base64.StdEncoding.EncodeToString(kidMAC))), "NXDOMAIN blocked:social"},
		{"no option from router", "127.0.0.1", nil, "NOERROR A 192.0.2.11"},
		{"unknown MAC from router", "127.0.0.1", mac([]byte{0x02, 0, 0, 0, 0, 0x99}), "NOERROR A 192.0.2.11"},
		{"raw from untrusted", "127.0.0.5", mac(kidMAC), "NOERROR A 192.0.2.11"},
		{"text from untrusted", "127.0.0.5", mac([]byte("02:42:ac:11:00:02")), "NOERROR A 192.0.2.11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []dns.EDNS0
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			if got := outcome(askFrom(t, tc.src, h.Addr(), "social.test.", dns.TypeA, opts...)); got != tc.want {
				t.Errorf("social.test: %q, want %q", got, tc.want)
			}
		})
	}

	// The device's MAC is for Haven only: it must not travel on to the
	// upstream resolver.
	r := askFrom(t, "127.0.0.1", h.Addr(), "mac-leak.test.", dns.TypeA, mac(kidMAC))
	if got := outcome(r); got != "NOERROR A 192.0.2.14" {
		t.Fatalf("mac-leak.test: %q", got)
	}
	last := up.LastRequest()
	if last == nil || last.Question[0].Name != "mac-leak.test." {
		t.Fatalf("upstream's last request %v, want mac-leak.test.", last)
	}
	if o := last.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if opt.Option() == 65001 {
				t.Errorf("MAC option forwarded upstream: %v", opt)
			}
		}
	}
}

// TestAllowAndDenyEntries: the config's allow and deny entries (top level
// and the profile's) decide before the lists, the more specific entry
// winning.
func TestAllowAndDenyEntries(t *testing.T) {
	t.Parallel()
	_, upURL := fakeUpstream(t,
		"example.com. 300 IN A 192.0.2.1",
		"social.test. 300 IN A 192.0.2.11",
		"khan.social.test. 300 IN A 192.0.2.15",
		"homework.social.test. 300 IN A 192.0.2.16",
		"bad.homework.social.test. 300 IN A 192.0.2.17",
	)
	h := launch(t, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
lists:
  social: [{inline: [social.test]}]
allow: [khan.social.test]
profiles:
  kids:
    block: [social]
    allow: [homework.social.test]
    deny: [bad.homework.social.test, example.com]
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [127.0.0.2], profile: kids}
`, upURL), haven.Options{})
	tests := []kidsAndAdults{
		{"social.test.", "NXDOMAIN blocked:social", "NOERROR A 192.0.2.11"},
		{"khan.social.test.", "NOERROR A 192.0.2.15", "NOERROR A 192.0.2.15"},            // top-level allow beats the list
		{"homework.social.test.", "NOERROR A 192.0.2.16", "NOERROR A 192.0.2.16"},        // the profile's allow beats the list
		{"x.homework.social.test.", "NXDOMAIN", "NXDOMAIN"},                              // and covers subdomains: forwarded
		{"bad.homework.social.test.", "NXDOMAIN blocked:custom", "NOERROR A 192.0.2.17"}, // a more specific deny beats the allow
		{"example.com.", "NXDOMAIN blocked:custom", "NOERROR A 192.0.2.1"},
	}
	checkKidsAndAdults(t, h.Addr(), tests)
}
