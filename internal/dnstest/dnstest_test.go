package dnstest

import (
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var records = []string{
	"example.com. 300 IN A 192.0.2.1",
	"example.com. 300 IN A 192.0.2.2",
	"www.example.com. 300 IN CNAME example.com.",
	"a.b.example.org. 300 IN TXT \"deep\"",
	"example.org. 3600 IN SOA ns.example.org. admin.example.org. 1 7200 900 1209600 120",
}

func TestZoneHandler(t *testing.T) {
	t.Parallel()
	u := NewUpstream(t, ZoneHandler(records...))
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answers int
		soa     string // owner of the SOA in authority, "" for none
	}{
		{"answer", "example.com.", dns.TypeA, dns.RcodeSuccess, 2, ""},
		{"case-insensitive", "EXAMPLE.com.", dns.TypeA, dns.RcodeSuccess, 2, ""},
		{"any", "example.com.", dns.TypeANY, dns.RcodeSuccess, 2, ""},
		{"cname followed", "www.example.com.", dns.TypeA, dns.RcodeSuccess, 3, ""},
		{"cname asked", "www.example.com.", dns.TypeCNAME, dns.RcodeSuccess, 1, ""},
		{"nodata", "example.com.", dns.TypeAAAA, dns.RcodeSuccess, 0, "."},
		{"empty non-terminal", "b.example.org.", dns.TypeA, dns.RcodeSuccess, 0, "example.org."},
		{"nxdomain with zone soa", "nope.example.org.", dns.TypeA, dns.RcodeNameError, 0, "example.org."},
		{"nxdomain", "nope.example.net.", dns.TypeA, dns.RcodeNameError, 0, "."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Exchange(t, "udp", u.Addr(), Query(tc.qname, tc.qtype))
			if r.Rcode != tc.rcode || len(r.Answer) != tc.answers {
				t.Fatalf("got %s with %d answers, want %s with %d:\n%v",
					dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tc.rcode], tc.answers, r)
			}
			if !r.RecursionAvailable {
				t.Error("RA not set")
			}
			soa := ""
			if len(r.Ns) == 1 {
				soa = r.Ns[0].Header().Name
			}
			if soa != tc.soa {
				t.Errorf("SOA owner %q, want %q", soa, tc.soa)
			}
		})
	}
}

func TestZoneHandlerEDNS(t *testing.T) {
	t.Parallel()
	u := NewUpstream(t, ZoneHandler(records...))
	for _, do := range []bool{false, true} {
		m := Query("example.com.", dns.TypeA)
		m.SetEdns0(4096, do)
		r := Exchange(t, "udp", u.Addr(), m)
		o := r.IsEdns0()
		if o == nil || o.Do() != do {
			t.Errorf("DO=%v: answer OPT %v", do, o)
		}
	}
	if r := Exchange(t, "udp", u.Addr(), Query("example.com.", dns.TypeA)); r.IsEdns0() != nil {
		t.Error("EDNS in the answer to a query without it")
	}
}

func TestZoneHandlerBadRecordPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a bad record")
		}
	}()
	ZoneHandler("example.com. IN A not-an-address")
}

func TestTransports(t *testing.T) {
	t.Parallel()
	plain := NewUpstream(t, ZoneHandler(records...))
	tlsUp := NewTLSUpstream(t, ZoneHandler(records...))
	doh := NewDoHUpstream(t, ZoneHandler(records...))
	tests := []struct {
		name     string
		exchange func(*testing.T, *dns.Msg) *dns.Msg
	}{
		{"udp", func(t *testing.T, m *dns.Msg) *dns.Msg { return Exchange(t, "udp", plain.Addr(), m) }},
		{"tcp", func(t *testing.T, m *dns.Msg) *dns.Msg { return Exchange(t, "tcp", plain.Addr(), m) }},
		{"tls", func(t *testing.T, m *dns.Msg) *dns.Msg { return ExchangeTLS(t, tlsUp.Addr(), tlsUp.RootCAs(), m) }},
		{"doh-get", func(t *testing.T, m *dns.Msg) *dns.Msg {
			return ExchangeDoH(t, http.MethodGet, doh.URL(), doh.RootCAs(), m)
		}},
		{"doh-post", func(t *testing.T, m *dns.Msg) *dns.Msg {
			return ExchangeDoH(t, http.MethodPost, doh.URL(), doh.RootCAs(), m)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Query("example.com.", dns.TypeA)
			r := tc.exchange(t, m)
			if r.Id != m.Id || len(r.Answer) != 2 {
				t.Fatalf("answer %v", r)
			}
		})
	}
	if plain.Count() != 2 || tlsUp.Count() != 1 || doh.Count() != 2 {
		t.Errorf("counts plain %d tls %d doh %d, want 2 1 2", plain.Count(), tlsUp.Count(), doh.Count())
	}
	if plain.Conns() != 1 || tlsUp.Conns() != 1 || doh.Conns() != 2 {
		t.Errorf("conns plain %d tls %d doh %d, want 1 1 2", plain.Conns(), tlsUp.Conns(), doh.Conns())
	}
	if got := doh.HTTPProto(); got != "HTTP/2.0" {
		t.Errorf("DoH protocol %q, want HTTP/2.0", got)
	}
	if doh.URL() != "https://"+doh.Addr()+"/dns-query" {
		t.Errorf("URL %q", doh.URL())
	}
	if plain.URL() != "" || plain.RootCAs() != nil {
		t.Error("plain fake has a URL or roots")
	}
}

func TestTruncation(t *testing.T) {
	t.Parallel()
	u := NewUpstream(t, BigHandler(100))
	m := Query("big.example.", dns.TypeA)
	m.SetEdns0(1232, false)
	r := Exchange(t, "udp", u.Addr(), m)
	if !r.Truncated || len(r.Answer) >= 100 {
		t.Errorf("UDP: TC=%v with %d answers, want TC and fewer than 100", r.Truncated, len(r.Answer))
	}
	r = Exchange(t, "tcp", u.Addr(), m)
	if r.Truncated || len(r.Answer) != 100 {
		t.Errorf("TCP: TC=%v with %d answers, want 100", r.Truncated, len(r.Answer))
	}
}

func TestSetHandlerAndLastRequest(t *testing.T) {
	t.Parallel()
	u := NewUpstream(t, nil)
	if r := Exchange(t, "udp", u.Addr(), Query("example.com.", dns.TypeA)); r.Rcode != dns.RcodeNameError {
		t.Errorf("nil handler: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	u.SetHandler(RcodeHandler(dns.RcodeServerFailure))
	m := Query("example.com.", dns.TypeA)
	m.CheckingDisabled = true
	m.SetEdns0(1232, true)
	if r := Exchange(t, "tcp", u.Addr(), m); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("after SetHandler: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	last := u.LastRequest()
	if last == nil || last.Id != m.Id || !last.CheckingDisabled || last.IsEdns0() == nil || !last.IsEdns0().Do() {
		t.Errorf("last request %v", last)
	}
	if u.Count() != 2 {
		t.Errorf("count %d, want 2", u.Count())
	}
}

func TestSpoofingHandlers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		h     dns.Handler
		check func(q, r *dns.Msg) bool
	}{
		{"wrong id", WrongIDHandler(ZoneHandler(records...)), func(q, r *dns.Msg) bool { return r.Id != q.Id }},
		{"wrong question", WrongQuestionHandler(ZoneHandler(records...)), func(q, r *dns.Msg) bool {
			return r.Question[0].Name != q.Question[0].Name
		}},
		{"echo", EchoHandler(), func(q, r *dns.Msg) bool {
			return r.Response && r.Id == q.Id && r.IsEdns0() != nil && r.IsEdns0().Do()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := NewUpstream(t, tc.h)
			// A raw connection: dns.Client would reject the spoofed answers.
			c, err := dns.Dial("tcp", u.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(clientTimeout))
			q := Query("example.com.", dns.TypeA)
			q.SetEdns0(1232, true)
			if err := c.WriteMsg(q); err != nil {
				t.Fatal(err)
			}
			r, err := c.ReadMsg()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(q, r) {
				t.Errorf("answer not as expected:\n%v", r)
			}
		})
	}
}

func TestDropAndClose(t *testing.T) {
	t.Parallel()
	u := NewUpstream(t, DropHandler())
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	if _, _, err := c.Exchange(Query("example.com.", dns.TypeA), u.Addr()); err == nil {
		t.Error("DropHandler answered")
	}
	if u.Count() != 1 {
		t.Errorf("count %d, want 1", u.Count())
	}
	u.SetHandler(DelayHandler(time.Millisecond, ZoneHandler(records...)))
	Exchange(t, "udp", u.Addr(), Query("example.com.", dns.TypeA))

	u.Close()
	u.Close() // idempotent
	c.Timeout = clientTimeout
	for _, network := range []string{"udp", "tcp"} {
		c.Net = network
		if _, _, err := c.Exchange(Query("example.com.", dns.TypeA), u.Addr()); err == nil {
			t.Errorf("%s: closed fake answered", network)
		}
	}
	if _, err := net.Dial("tcp", u.Addr()); err == nil {
		t.Error("TCP port still open after Close")
	}
}

func TestDoHRejectsBadRequests(t *testing.T) {
	t.Parallel()
	u := NewDoHUpstream(t, ZoneHandler(records...))
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: u.RootCAs(), MinVersion: tls.VersionTLS12},
	}}
	defer client.CloseIdleConnections()
	tests := []struct {
		name, method, url, ctype string
		status                   int
	}{
		{"bad base64", http.MethodGet, u.URL() + "?dns=!!!", "", http.StatusBadRequest},
		{"no message", http.MethodGet, u.URL(), "", http.StatusBadRequest},
		{"wrong content type", http.MethodPost, u.URL(), "text/plain", http.StatusUnsupportedMediaType},
		{"wrong method", http.MethodPut, u.URL(), "", http.StatusMethodNotAllowed},
		{"wrong path", http.MethodGet, "https://" + u.Addr() + "/other", "", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	if u.Count() != 0 {
		t.Errorf("count %d after bad requests only, want 0", u.Count())
	}
}
