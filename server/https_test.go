package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// dohClient is an HTTP client trusting roots, offering HTTP/2.
func dohClient(roots *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
	}
}

func TestDoHQuery(t *testing.T) {
	t.Parallel()
	chain := newTableChain(t)
	s := startTLS(t, Options{Resolver: chain}, nil)
	tests := []struct {
		method, path, id string
	}{
		{http.MethodGet, dohPath, ""},
		{http.MethodPost, dohPath, ""},
		{http.MethodGet, dohPath + "/kidtablet", "kidtablet"},
		{http.MethodPost, dohPath + "/kid-2", "kid-2"},
		{http.MethodGet, dohPath + "/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			url := "https://" + s.HTTPSAddrs()[0].String() + tc.path
			// RFC 8484 4.1: clients send ID 0, and get it back.
			q := query("example.com.", dns.TypeA)
			q.Id = 0
			r := dnstest.ExchangeDoH(t, tc.method, url, s.roots, q)
			checkA(t, r, "192.0.2.1", "192.0.2.2")
			if r.Id != 0 {
				t.Errorf("answer ID %d to a query with ID 0", r.Id)
			}
			want := seen{"example.com.", resolver.DoH, tc.id, netip.MustParseAddr("127.0.0.1")}
			if got := chain.last(t); got != want {
				t.Errorf("chain saw %+v, want %+v", got, want)
			}
		})
	}
	// Any other ID is answered as given.
	q := query("example.com.", dns.TypeA)
	q.Id = 4321
	if r := dnstest.ExchangeDoH(t, http.MethodPost, s.dohURL(), s.roots, q); r.Id != 4321 {
		t.Errorf("answer ID %d, want 4321", r.Id)
	}
}

func TestDoHRejects(t *testing.T) {
	t.Parallel()
	chain := newTableChain(t)
	s := startTLS(t, Options{Resolver: chain}, nil)
	client := dohClient(s.roots)
	defer client.CloseIdleConnections()
	wire := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	response := query("example.com.", dns.TypeA)
	response.Response = true
	base := "https://" + s.HTTPSAddrs()[0].String()
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
	}{
		{"bad base64", http.MethodGet, dohPath + "?dns=!!!", "", nil, http.StatusBadRequest},
		{"no dns parameter", http.MethodGet, dohPath, "", nil, http.StatusBadRequest},
		{"too short", http.MethodGet, dohPath + "?dns=" + b64([]byte{1, 2, 3}), "", nil, http.StatusBadRequest},
		{"a response", http.MethodGet, dohPath + "?dns=" + b64(wire(response)), "", nil, http.StatusBadRequest},
		{"wrong content type", http.MethodPost, dohPath, "text/plain", wire(query("example.com.", dns.TypeA)), http.StatusUnsupportedMediaType},
		{"no content type", http.MethodPost, dohPath, "", wire(query("example.com.", dns.TypeA)), http.StatusUnsupportedMediaType},
		{"oversized", http.MethodPost, dohPath, dohMIME, make([]byte, dns.MaxMsgSize+1), http.StatusRequestEntityTooLarge},
		{"empty body", http.MethodPost, dohPath, dohMIME, nil, http.StatusBadRequest},
		{"wrong method", http.MethodPut, dohPath, dohMIME, wire(query("example.com.", dns.TypeA)), http.StatusMethodNotAllowed},
		{"head", http.MethodHead, dohPath, "", nil, http.StatusMethodNotAllowed},
		{"bad client id", http.MethodGet, dohPath + "/Kid_Tablet?dns=" + b64(wire(query("example.com.", dns.TypeA))), "", nil, http.StatusBadRequest},
		{"nested id", http.MethodGet, dohPath + "/a/b?dns=" + b64(wire(query("example.com.", dns.TypeA))), "", nil, http.StatusBadRequest},
		{"wrong path", http.MethodGet, "/other?dns=" + b64(wire(query("example.com.", dns.TypeA))), "", nil, http.StatusNotFound},
		{"path prefix only", http.MethodGet, "/dns-queryx?dns=" + b64(wire(query("example.com.", dns.TypeA))), "", nil, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, bytes.NewReader(tc.body))
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
			if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, POST" {
				t.Errorf("405 with Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
	if n := chain.count(); n != 0 {
		t.Errorf("chain saw %d queries from rejected requests", n)
	}
}

// TestDoHDNSErrors: what is a DNS message but not one ordinary query is
// answered in DNS, with 200 (RFC 8484 4.2.1), as over UDP and TCP.
func TestDoHDNSErrors(t *testing.T) {
	t.Parallel()
	s := startTLS(t, Options{}, nil)
	update := query("example.com.", dns.TypeA)
	update.Opcode = dns.OpcodeUpdate
	two := query("example.com.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	for _, tc := range []struct {
		m     *dns.Msg
		rcode int
	}{{update, dns.RcodeNotImplemented}, {two, dns.RcodeFormatError}} {
		r := dnstest.ExchangeDoH(t, http.MethodPost, s.dohURL(), s.roots, tc.m)
		if r.Rcode != tc.rcode || r.Id != tc.m.Id {
			t.Errorf("rcode %s ID %d, want %s ID %d", dns.RcodeToString[r.Rcode], r.Id, dns.RcodeToString[tc.rcode], tc.m.Id)
		}
	}
}

func TestDoHHTTP2AndCacheControl(t *testing.T) {
	t.Parallel()
	s := startTLS(t, Options{}, nil)
	client := dohClient(s.roots)
	defer client.CloseIdleConnections()
	tests := []struct {
		name  string
		cache string
		rcode int
	}{
		{"example.com.", "max-age=60", dns.RcodeSuccess},    // TTLs 300 and 60
		{"nothing.test.", "max-age=30", dns.RcodeNameError}, // SOA TTL 3600, negative TTL 30
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := query(tc.name, dns.TypeA).Pack()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Get(s.dohURL() + "?dns=" + base64.RawURLEncoding.EncodeToString(b))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("protocol %s, want HTTP/2", resp.Proto)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if ct := resp.Header.Get("Content-Type"); ct != dohMIME {
				t.Errorf("Content-Type %q", ct)
			}
			m := new(dns.Msg)
			if err := m.Unpack(body); err != nil || m.Rcode != tc.rcode {
				t.Errorf("answer %v (%v), want rcode %s", m, err, dns.RcodeToString[tc.rcode])
			}
		})
	}
}

func TestMaxAge(t *testing.T) {
	t.Parallel()
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	msg := func(rcode int, answer, ns []dns.RR) *dns.Msg {
		m := query("example.com.", dns.TypeA)
		m.Response, m.Rcode, m.Answer, m.Ns = true, rcode, answer, ns
		m.SetEdns0(1232, false) // OPT's "TTL" is flags, never an age
		return m
	}
	soa := rr("example.com. 3600 IN SOA ns. host. 1 2 3 4 300")
	tests := []struct {
		name string
		m    *dns.Msg
		want uint32
	}{
		{"answer", msg(0, []dns.RR{rr("example.com. 600 IN A 192.0.2.1"), rr("example.com. 120 IN A 192.0.2.2")}, nil), 120},
		{"nxdomain", msg(dns.RcodeNameError, nil, []dns.RR{soa}), 300},
		{"nodata", msg(0, nil, []dns.RR{soa}), 300},
		{"no records", msg(0, nil, nil), 0},
		{"servfail", msg(dns.RcodeServerFailure, nil, []dns.RR{soa}), 0},
		{"refused", msg(dns.RcodeRefused, nil, nil), 0},
	}
	for _, tc := range tests {
		if got := maxAge(tc.m); got != tc.want {
			t.Errorf("%s: max-age %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestDoHHTTP1(t *testing.T) {
	t.Parallel()
	s := startTLS(t, Options{}, nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots, NextProtos: []string{"http/1.1"}}}
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // no HTTP/2
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	b, _ := query("example.com.", dns.TypeA).Pack()
	resp, err := client.Post(s.dohURL(), dohMIME, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != http.StatusOK {
		t.Errorf("%s %s, want HTTP/1.1 200", resp.Proto, resp.Status)
	}
}

func TestKdigHTTPS(t *testing.T) {
	t.Parallel()
	kdig, err := exec.LookPath("kdig")
	if err != nil {
		t.Skip("kdig is not installed (knot-dnsutils): kdig +https test not run")
	}
	chain := newTableChain(t)
	s := startTLS(t, Options{Resolver: chain}, nil)
	host, port, _ := net.SplitHostPort(s.HTTPSAddrs()[0].String())
	ca := certFile(t, s.cert)
	for method, session := range map[string]string{"+https-get": "(HTTP/2-GET)", "+nohttps-get": "(HTTP/2-POST)"} {
		t.Run(method, func(t *testing.T) {
			out, err := exec.Command(kdig, "@"+host, "-p", port, "+tls-ca="+ca, "+tls-hostname=localhost",
				"+https=/dns-query/kidtablet", method, "+timeout=5", "+retry=0", "example.com", "A").CombinedOutput()
			if err != nil {
				t.Fatalf("kdig: %v\n%s", err, out)
			}
			for _, want := range []string{"status: NOERROR", "192.0.2.1", session, "(status: 200)"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("kdig output lacks %q:\n%s", want, out)
				}
			}
			if got := chain.last(t); got.ClientID != "kidtablet" || got.Proto != resolver.DoH {
				t.Errorf("chain saw %+v, want client id kidtablet over DoH", got)
			}
		})
	}
}

func BenchmarkDoHPost(b *testing.B) {
	s := startTLS(b, Options{}, nil)
	client := dohClient(s.roots)
	defer client.CloseIdleConnections()
	wire, _ := query("example.com.", dns.TypeA).Pack()
	url := s.dohURL()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(url, dohMIME, bytes.NewReader(wire))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}
