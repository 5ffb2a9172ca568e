package dnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// NewCertificate returns a fresh self-signed ECDSA certificate valid for
// 127.0.0.1, ::1 and "localhost", and a pool trusting it: for servers under
// test that need a DoT or DoH certificate, and the clients talking to them.
func NewCertificate(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("dnstest: generate key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatalf("dnstest: serial: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dnstest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("dnstest: create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("dnstest: parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// newEncrypted returns an Upstream answering with h that trusts a fresh
// certificate, and a TCP listener on its address to serve it on.
func newEncrypted(tb testing.TB, h dns.Handler) (*Upstream, tls.Certificate, net.Listener) {
	tb.Helper()
	u := newUpstream(tb, h)
	cert, pool := NewCertificate(tb)
	u.roots = pool
	l := listenTCP(tb)
	u.addr = l.Addr().String()
	return u, cert, l
}

// NewTLSUpstream starts a fake DNS-over-TLS server (RFC 7858) answering with
// h. Addr is its port; clients trust it through RootCAs.
func NewTLSUpstream(tb testing.TB, h dns.Handler) *Upstream {
	tb.Helper()
	u, cert, l := newEncrypted(tb, h)
	tl := tls.NewListener(countingListener{l, &u.conns}, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})
	u.start(tb, &dns.Server{Net: "tcp-tls", Listener: tl, Handler: dispatcher{u}})
	return u
}

// NewDoHUpstream starts a fake DNS-over-HTTPS server (RFC 8484, GET and POST
// at /dns-query, HTTP/2 or HTTP/1.1) answering with h. URL is its endpoint;
// clients trust it through RootCAs.
func NewDoHUpstream(tb testing.TB, h dns.Handler) *Upstream {
	tb.Helper()
	u, cert, l := newEncrypted(tb, h)
	u.url = "https://" + u.addr + dohPath

	mux := http.NewServeMux()
	mux.HandleFunc(dohPath, u.serveHTTP)
	srv := &http.Server{
		Handler: mux,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		},
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				u.conns.Add(1)
			}
		},
		// Handshakes a test aborts on purpose are not worth a log line.
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 5 * time.Second,
	}
	// The listener is bound already, so the server is reachable as soon as
	// this returns; Serve picks the queued connections up.
	go srv.ServeTLS(l, "", "")
	u.onClose(func() { srv.Close() })
	return u
}
