package dnstest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// clientTimeout bounds each helper exchange so a broken server fails the test
// instead of hanging it.
const clientTimeout = 5 * time.Second

// Query returns a query for name and qtype with RD set and a random ID, as a
// stub resolver sends it (no EDNS).
func Query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

// Exchange sends m to addr over network ("udp" or "tcp") and returns the
// answer, failing the test on any error. Call it from the test's goroutine.
func Exchange(tb testing.TB, network, addr string, m *dns.Msg) *dns.Msg {
	tb.Helper()
	c := &dns.Client{Net: network, Timeout: clientTimeout}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		tb.Fatalf("dnstest: exchange %s %s: %v", network, addr, err)
	}
	return r
}

// ExchangeTLS sends m over DNS over TLS to addr, trusting roots, and returns
// the answer, failing the test on any error.
func ExchangeTLS(tb testing.TB, addr string, roots *x509.CertPool, m *dns.Msg) *dns.Msg {
	tb.Helper()
	c := &dns.Client{
		Net:       "tcp-tls",
		Timeout:   clientTimeout,
		TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		tb.Fatalf("dnstest: exchange tls %s: %v", addr, err)
	}
	return r
}

// ExchangeDoH sends m to the DoH endpoint url with method (http.MethodGet or
// http.MethodPost), trusting roots, and returns the answer, failing the test
// on any error, an HTTP status other than 200 or a content type other than
// application/dns-message.
func ExchangeDoH(tb testing.TB, method, url string, roots *x509.CertPool, m *dns.Msg) *dns.Msg {
	tb.Helper()
	wire, err := m.Pack()
	if err != nil {
		tb.Fatalf("dnstest: pack: %v", err)
	}
	var req *http.Request
	switch method {
	case http.MethodGet:
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		req, err = http.NewRequest(method, url+sep+"dns="+base64.RawURLEncoding.EncodeToString(wire), nil)
	case http.MethodPost:
		req, err = http.NewRequest(method, url, bytes.NewReader(wire))
		if err == nil {
			req.Header.Set("Content-Type", dohMIMEType)
		}
	default:
		tb.Fatalf("dnstest: DoH method %q: want GET or POST", method)
	}
	if err != nil {
		tb.Fatalf("dnstest: DoH request: %v", err)
	}
	req.Header.Set("Accept", dohMIMEType)

	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: clientTimeout}).Do(req)
	if err != nil {
		tb.Fatalf("dnstest: DoH %s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize+1))
	if err != nil {
		tb.Fatalf("dnstest: DoH %s %s: read body: %v", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("dnstest: DoH %s %s: status %s: %s", method, url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != dohMIMEType {
		tb.Fatalf("dnstest: DoH %s %s: content type %q, want %s", method, url, ct, dohMIMEType)
	}
	r := new(dns.Msg)
	if err := r.Unpack(body); err != nil {
		tb.Fatalf("dnstest: DoH %s %s: unpack answer: %v", method, url, err)
	}
	return r
}
