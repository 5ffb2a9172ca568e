package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	// certValidity is how long a generated certificate lasts: clients
	// that pin or trust it should not have to be told again soon.
	certValidity = 10 * 365 * 24 * time.Hour
	// certRenew is how long before its end a generated certificate is
	// replaced.
	certRenew = 30 * 24 * time.Hour
	// certOrg marks the certificates Haven generated, the only stored ones
	// it replaces by itself.
	certOrg = "Haven self-signed"
)

// LoadOrCreateCertificate returns the TLS configuration of the DoT and DoH
// listeners, with one certificate (its Leaf set):
//
//   - with certFile and keyFile given, the PEM pair in them;
//   - else, with a dataDir, the pair in dataDir/tls/cert.pem and key.pem,
//     made there on first use: a self-signed ECDSA P-256 certificate valid
//     ten years for names, each DNS name's wildcard ("*.dns.example.net",
//     for DoT client ids), "localhost", 127.0.0.1 and ::1. A stored
//     certificate Haven made is made again when it lacks one of those or
//     nears its end;
//   - else, such a certificate in memory only, new on every start.
//
// Generating a certificate is logged with its SHA-256 fingerprint and its
// SPKI pin, for clients to check or pin.
func LoadOrCreateCertificate(certFile, keyFile, dataDir string, names []string, log *slog.Logger) (*tls.Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cert, err := loadOrCreate(certFile, keyFile, dataDir, names, log, time.Now())
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func loadOrCreate(certFile, keyFile, dataDir string, names []string, log *slog.Logger, now time.Time) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return tls.Certificate{}, errors.New("server: a certificate file and a key file go together: give both or neither")
		}
		cert, err := loadPair(certFile, keyFile)
		if err == nil && now.After(cert.Leaf.NotAfter) {
			log.Warn("TLS certificate has expired", "file", certFile, "not_after", cert.Leaf.NotAfter)
		}
		return cert, err
	}
	dnsNames, ips := certNames(names)
	if dataDir == "" {
		cert, err := selfSigned(dnsNames, ips, now)
		if err == nil {
			log.Warn("no data directory: using a self-signed TLS certificate that changes on every start",
				certAttrs(cert.Leaf)...)
		}
		return cert, err
	}

	dir := filepath.Join(dataDir, "tls")
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	haveCert, haveKey := exists(certFile), exists(keyFile)
	switch {
	case haveCert && haveKey:
		cert, err := loadPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, err
		}
		if !slices.Contains(cert.Leaf.Subject.Organization, certOrg) || covers(cert.Leaf, dnsNames, ips, now) {
			return cert, nil
		}
		log.Warn("stored TLS certificate lacks a name or nears its end: making a new one", "file", certFile)
	case haveCert != haveKey:
		missing := keyFile
		if haveKey {
			missing = certFile
		}
		return tls.Certificate{}, fmt.Errorf("server: %s is missing (remove %s to have a new certificate made)",
			missing, filepath.Join(dir, "*.pem"))
	}
	cert, err := selfSigned(dnsNames, ips, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := store(dir, certFile, keyFile, cert); err != nil {
		return tls.Certificate{}, err
	}
	log.Info("generated a self-signed TLS certificate", append(certAttrs(cert.Leaf), "file", certFile)...)
	return cert, nil
}

// loadPair loads a PEM certificate and key, with errors that name the file
// at fault.
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: TLS key: %w", err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return tls.Certificate{}, fmt.Errorf("server: TLS certificate %s: no PEM certificate in it", certFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("server: TLS certificate %s: %w", certFile, err)
		}
	}
	return cert, nil
}

// certNames splits the names a generated certificate is for into DNS names
// (each with its wildcard) and addresses, and adds the loopback ones.
func certNames(names []string) ([]string, []net.IP) {
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		for _, d := range []string{n, "*." + strings.TrimPrefix(n, "*.")} {
			if !slices.Contains(dnsNames, d) {
				dnsNames = append(dnsNames, d)
			}
		}
	}
	return dnsNames, ips
}

// covers reports whether leaf holds every name and address and has some
// time left.
func covers(leaf *x509.Certificate, dnsNames []string, ips []net.IP, now time.Time) bool {
	if now.Before(leaf.NotBefore) || now.Add(certRenew).After(leaf.NotAfter) {
		return false
	}
	for _, n := range dnsNames {
		if !slices.Contains(leaf.DNSNames, n) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func selfSigned(dnsNames []string, ips []net.IP, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: certificate serial: %w", err)
	}
	cn := dnsNames[0]
	if len(dnsNames) > 1 {
		cn = dnsNames[1] // the first name given, not "localhost"
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{certOrg}},
		// An hour back, for clients whose clock is a little behind.
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(certValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Not a CA: browsers refuse a CA certificate used as a server's
		// (Firefox: CA_CERT_USED_AS_END_ENTITY).
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: create TLS certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: parse TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// store writes cert and its key in dir, each file whole or not at all: the
// key first, so that a cert.pem on disk always has its key.
func store(dir, certFile, keyFile string, cert tls.Certificate) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("server: TLS directory: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return fmt.Errorf("server: marshal TLS key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	if err := writeAtomic(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeAtomic(certFile, certPEM, 0o644)
}

func writeAtomic(name string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("server: write %s: %w", name, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("server: write %s: %w", name, err)
	}
	return nil
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// certAttrs are the log attributes that let a user check a certificate:
// the SHA-256 fingerprint browsers show, and the SPKI pin of RFC 7858
// (kdig +tls-pin, Android-style pinning).
func certAttrs(leaf *x509.Certificate) []any {
	return []any{"names", strings.Join(leaf.DNSNames, ","), "sha256", fingerprint(leaf), "pin_sha256", spkiPin(leaf)}
}

// fingerprint is the SHA-256 of the certificate, as colon-separated hex.
func fingerprint(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	var b bytes.Buffer
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// spkiPin is the base64 SHA-256 of the certificate's public key.
func spkiPin(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
