package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

func leafOf(tb testing.TB, cfg *tls.Config) *x509.Certificate {
	tb.Helper()
	if len(cfg.Certificates) != 1 || cfg.Certificates[0].Leaf == nil {
		tb.Fatalf("config holds %d certificates, want one with its leaf", len(cfg.Certificates))
	}
	return cfg.Certificates[0].Leaf
}

func TestCertGenerateAndReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg, err := LoadOrCreateCertificate("", "", dir, []string{"dns.example.net", "192.168.1.2"}, log)
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, cfg)
	fp := fingerprint(leaf)
	if !strings.Contains(logs.String(), "generated a self-signed TLS certificate") || !strings.Contains(logs.String(), fp) {
		t.Errorf("generation not logged with fingerprint %s:\n%s", fp, logs.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, name := range []string{"dns.example.net", "kidtablet.dns.example.net", "localhost", "127.0.0.1", "::1", "192.168.1.2"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("certificate not valid for %s: %v", name, err)
		}
	}
	if leaf.IsCA {
		t.Error("server certificate is a CA (browsers refuse it)")
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 9*365*24*time.Hour {
		t.Errorf("valid for %v, want about ten years", d)
	}
	key, err := os.Stat(filepath.Join(dir, "tls", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if key.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", key.Mode().Perm())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "tls", ".*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	logs.Reset()
	again, err := LoadOrCreateCertificate("", "", dir, []string{"dns.example.net", "192.168.1.2"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := fingerprint(leafOf(t, again)); got != fp {
		t.Errorf("reloaded certificate %s, want the stored %s", got, fp)
	}
	if strings.Contains(logs.String(), "generated") {
		t.Errorf("generated again instead of reloading:\n%s", logs.String())
	}
}

// TestCertRegenerate: a stored Haven certificate is made anew when it lacks
// a name asked for or nears its end; a certificate Haven did not make is
// never replaced.
func TestCertRegenerate(t *testing.T) {
	t.Parallel()
	discard := slog.New(slog.DiscardHandler)
	now := time.Now()
	load := func(dir string, names []string, at time.Time) string {
		t.Helper()
		cert, err := loadOrCreate("", "", dir, names, discard, at)
		if err != nil {
			t.Fatal(err)
		}
		return fingerprint(cert.Leaf)
	}
	dir := t.TempDir()
	first := load(dir, []string{"dns.example.net"}, now)
	if load(dir, nil, now) != first {
		t.Error("fewer names: certificate replaced")
	}
	second := load(dir, []string{"other.example"}, now)
	if second == first {
		t.Error("new name: certificate not replaced")
	}
	if load(dir, []string{"other.example"}, now.Add(certValidity-certRenew/2)) == second {
		t.Error("near its end: certificate not replaced")
	}

	// Someone else's certificate in the data directory stays, even
	// without the names asked for.
	other := t.TempDir()
	foreign, _ := dnstest.NewCertificate(t)
	writePair(t, filepath.Join(other, "tls", "cert.pem"), filepath.Join(other, "tls", "key.pem"), foreign)
	if load(other, []string{"dns.example.net"}, now) != fingerprint(foreign.Leaf) {
		t.Error("a certificate Haven did not make was replaced")
	}
}

// writePair writes cert and its key as PEM files.
func writePair(tb testing.TB, certFile, keyFile string, cert tls.Certificate) {
	tb.Helper()
	if err := store(filepath.Dir(certFile), certFile, keyFile, cert); err != nil {
		tb.Fatal(err)
	}
}

func TestCertFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, _ := testCert(t)
	certFile, keyFile := filepath.Join(dir, "my.crt"), filepath.Join(dir, "my.key")
	writePair(t, certFile, keyFile, cert)
	// The files win over the data directory.
	cfg, err := LoadOrCreateCertificate(certFile, keyFile, t.TempDir(), []string{"ignored.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fingerprint(leafOf(t, cfg)), fingerprint(cert.Leaf); got != want {
		t.Errorf("loaded %s, want %s", got, want)
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}
}

func TestCertErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, _ := testCert(t)
	other, _ := testCert(t)
	good, goodKey := filepath.Join(dir, "good.crt"), filepath.Join(dir, "good.key")
	writePair(t, good, goodKey, cert)
	otherCert, otherKey := filepath.Join(dir, "other.crt"), filepath.Join(dir, "other.key")
	writePair(t, otherCert, otherKey, other)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyAsCert := filepath.Join(dir, "key-as-cert.pem")
	keyPEM, _ := os.ReadFile(goodKey)
	if err := os.WriteFile(keyAsCert, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	onlyCert := t.TempDir()
	os.MkdirAll(filepath.Join(onlyCert, "tls"), 0o700)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	os.WriteFile(filepath.Join(onlyCert, "tls", "cert.pem"), certPEM, 0o644)

	missing := filepath.Join(dir, "missing.crt")
	tests := []struct {
		name            string
		cert, key, data string
		wantInErr       string
		wantInErrAlso   string
	}{
		{"missing cert file", missing, goodKey, "", missing, ""},
		{"missing key file", good, filepath.Join(dir, "missing.key"), "", "missing.key", ""},
		{"garbage cert", garbage, goodKey, "", garbage, ""},
		{"key as cert", keyAsCert, goodKey, "", keyAsCert, ""},
		{"garbage key", good, garbage, "", garbage, ""},
		{"key of another cert", good, otherKey, "", good, otherKey},
		{"cert without key", good, "", "", "both", ""},
		{"key without cert", "", goodKey, "", "both", ""},
		{"data dir with cert only", "", "", onlyCert, "key.pem is missing", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadOrCreateCertificate(tc.cert, tc.key, tc.data, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.wantInErr) || !strings.Contains(err.Error(), tc.wantInErrAlso) {
				t.Errorf("error %q does not name %q %q", err, tc.wantInErr, tc.wantInErrAlso)
			}
		})
	}
}

func TestCertInMemory(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	cfg, err := LoadOrCreateCertificate("", "", "", []string{"dns.example.net"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, cfg)
	if err := leaf.VerifyHostname("kidtablet.dns.example.net"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), fingerprint(leaf)) || !strings.Contains(logs.String(), spkiPin(leaf)) {
		t.Errorf("fingerprint and pin not logged:\n%s", logs.String())
	}
}
