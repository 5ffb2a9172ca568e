package haven_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// encrypted is a Haven with DoT and DoH listeners, a generated certificate,
// and a device known only by its client id.
type encrypted struct {
	h                *haven.Haven
	dotAddr, dohAddr string // listener addresses
	certFile         string
	roots            *x509.CertPool
	serverName       string
}

func startEncrypted(tb testing.TB) *encrypted {
	tb.Helper()
	_, upURL := fakeUpstream(tb, familyZone...)
	dir := tb.TempDir()
	h := launch(tb, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
data_dir: %q
tls: {listen: ["127.0.0.1:0"], server_name: dns.example.net}
https: {listen: ["127.0.0.1:0"]}
%sprofiles:
  kids: {block: [social]}
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [kidtablet], profile: kids}
`, upURL, dir, familyLists), haven.Options{})
	e := &encrypted{h: h, certFile: filepath.Join(dir, "tls", "cert.pem"), serverName: "dns.example.net"}
	if a := h.TLSAddrs(); len(a) == 1 {
		e.dotAddr = a[0].String()
	}
	if a := h.HTTPSAddrs(); len(a) == 1 {
		e.dohAddr = a[0].String()
	}
	if e.dotAddr == "" || e.dohAddr == "" {
		tb.Fatalf("DoT addresses %v, DoH addresses %v: want one each", h.TLSAddrs(), h.HTTPSAddrs())
	}
	pem, err := os.ReadFile(e.certFile)
	if err != nil {
		tb.Fatalf("generated certificate: %v", err)
	}
	e.roots = x509.NewCertPool()
	if !e.roots.AppendCertsFromPEM(pem) {
		tb.Fatalf("%s holds no certificate", e.certFile)
	}
	return e
}

// doh POSTs m to path on the DoH listener, verifying the certificate for
// 127.0.0.1.
func (e *encrypted) post(tb testing.TB, path string, m *dns.Msg) *dns.Msg {
	tb.Helper()
	wire, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "https://"+e.dohAddr+path, bytes.NewReader(wire))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/dns-message")
	req.Header.Set("Accept", "application/dns-message")
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		tb.Fatalf("DoH %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize))
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/dns-message" {
		tb.Fatalf("DoH %s: %s, content type %q: %s", path, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	r := new(dns.Msg)
	if err := r.Unpack(body); err != nil {
		tb.Fatalf("DoH %s: %v", path, err)
	}
	return r
}

// dotConn opens a DoT connection with sni as the TLS server name, which
// the certificate must match.
func (e *encrypted) dotConn(tb testing.TB, sni string) *dns.Conn {
	tb.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", e.dotAddr, &tls.Config{RootCAs: e.roots, ServerName: sni, MinVersion: tls.VersionTLS12})
	if err != nil {
		tb.Fatalf("DoT dial with SNI %q: %v", sni, err)
	}
	tb.Cleanup(func() { c.Close() })
	return &dns.Conn{Conn: c}
}

func exchangeConn(tb testing.TB, c *dns.Conn, m *dns.Msg) *dns.Msg {
	tb.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMsg(m); err != nil {
		tb.Fatal(err)
	}
	r, err := c.ReadMsg()
	if err != nil {
		tb.Fatal(err)
	}
	if r.Id != m.Id {
		tb.Fatalf("reply ID %d, query ID %d", r.Id, m.Id)
	}
	return r
}

const (
	kidAnswer   = "NXDOMAIN blocked:social"
	adultAnswer = "NOERROR A 192.0.2.11"
)

// TestDoHClientID identifies a DoH client by the path it posts to.
func TestDoHClientID(t *testing.T) {
	t.Parallel()
	e := startEncrypted(t)
	tests := []struct{ path, want string }{
		{"/dns-query/kidtablet", kidAnswer},
		{"/dns-query", adultAnswer},
		{"/dns-query/", adultAnswer},
		{"/dns-query/stranger", adultAnswer}, // an unknown id is the default profile
	}
	for _, tc := range tests {
		if got := outcome(e.post(t, tc.path, query("social.test.", dns.TypeA))); got != tc.want {
			t.Errorf("POST %s: %q, want %q", tc.path, got, tc.want)
		}
	}
	// The kid's id changes nothing for a name the profile allows.
	if got := outcome(e.post(t, "/dns-query/kidtablet", query("example.com.", dns.TypeA))); got != "NOERROR A 192.0.2.1" {
		t.Errorf("kidtablet example.com: %q", got)
	}
}

// TestDoTClientID identifies a DoT client by the first label of the TLS
// server name it asks for.
func TestDoTClientID(t *testing.T) {
	t.Parallel()
	e := startEncrypted(t)
	tests := []struct{ sni, want string }{
		{"kidtablet.dns.example.net", kidAnswer},
		{"KidTablet.dns.example.net", kidAnswer}, // SNI arrives in the client's case
		{"dns.example.net", adultAnswer},
		{"stranger.dns.example.net", adultAnswer},
	}
	for _, tc := range tests {
		c := e.dotConn(t, tc.sni)
		// Every query on the connection is the same client.
		for i := 0; i < 2; i++ {
			if got := outcome(exchangeConn(t, c, query("social.test.", dns.TypeA))); got != tc.want {
				t.Errorf("SNI %s, query %d: %q, want %q", tc.sni, i+1, got, tc.want)
			}
		}
	}
}

// kdig runs Knot's kdig with args and returns its output, skipping the
// test when kdig is not installed.
func kdig(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kdig")
	if err != nil {
		t.Skip("kdig not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kdig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kdigSays checks kdig's report of an answer: its status line, and the
// filter's Extended DNS Error or the answer's address.
func kdigSays(t *testing.T, out string, blocked bool) {
	t.Helper()
	switch {
	case blocked && (!strings.Contains(out, "status: NXDOMAIN") || !strings.Contains(out, "blocked by Haven: social")):
		t.Errorf("want NXDOMAIN with the filter's EDE naming social; kdig says:\n%s", out)
	case !blocked && (!strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "192.0.2.11")):
		t.Errorf("want NOERROR with 192.0.2.11; kdig says:\n%s", out)
	}
}

func TestKdigTLS(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("kdig"); err != nil {
		t.Skip("kdig not installed")
	}
	e := startEncrypted(t)
	host, port, _ := net.SplitHostPort(e.dotAddr)
	for _, tc := range []struct {
		name    string
		blocked bool
	}{{"kidtablet.dns.example.net", true}, {"dns.example.net", false}} {
		out := kdig(t, "-p", port, "@"+host, "+tls-ca="+e.certFile, "+tls-hostname="+tc.name, "+tls-sni="+tc.name, "+edns", "social.test", "A")
		kdigSays(t, out, tc.blocked)
	}
}

func TestKdigHTTPS(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("kdig"); err != nil {
		t.Skip("kdig not installed")
	}
	e := startEncrypted(t)
	host, port, _ := net.SplitHostPort(e.dohAddr)
	for _, tc := range []struct {
		path    string
		blocked bool
	}{{"/dns-query/kidtablet", true}, {"/dns-query", false}} {
		out := kdig(t, "-p", port, "@"+host, "+https="+tc.path, "+tls-ca="+e.certFile, "+tls-hostname="+e.serverName, "+edns", "social.test", "A")
		kdigSays(t, out, tc.blocked)
	}
}
