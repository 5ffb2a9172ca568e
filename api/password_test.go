package api

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$600000$") {
		t.Errorf("hash %q", h)
	}
	ph, err := parsePasswordHash(h)
	if err != nil {
		t.Fatal(err)
	}
	if !ph.verify(testPassword) {
		t.Error("the password does not match its own hash")
	}
	for _, wrong := range []string{"", "correct horse batter", testPassword + " ", strings.ToUpper(testPassword)} {
		if ph.verify(wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	// The salt is random: the same password never hashes the same twice.
	if h2, _ := HashPassword(testPassword); h2 == h {
		t.Error("two hashes of one password are equal")
	}
}

func TestPasswordHashErrors(t *testing.T) {
	good := testHash()
	parts := strings.Split(good, "$")
	tests := []struct{ name, hash, want string }{
		{"empty", "", "not a password hash"},
		{"plain text", "hunter2hunter2", "not a password hash"},
		{"other scheme", "bcrypt$" + strings.Join(parts[1:], "$"), "not a password hash"},
		{"too few iterations", strings.Join([]string{parts[0], "1000", parts[2], parts[3]}, "$"), "iterations"},
		{"too many iterations", strings.Join([]string{parts[0], "99999999", parts[2], parts[3]}, "$"), "iterations"},
		{"bad salt", strings.Join([]string{parts[0], parts[1], "!!", parts[3]}, "$"), "bad salt or key"},
		{"short key", strings.Join([]string{parts[0], parts[1], parts[2], parts[3][:20]}, "$"), "bad salt or key"},
		{"extra field", good + "$x", "not a password hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePasswordHash(tt.hash)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := ValidatePasswordHash(good + "\n"); err != nil {
		t.Errorf("a good hash with a newline: %v", err)
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("hashed a 5-character password")
	}
	s := New(Options{Controller: &fakeController{}, Token: testToken, Console: &fakeConsole{}, PasswordHash: "nonsense"})
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "console password hash") {
		_ = s.Shutdown(context.Background())
		t.Errorf("started with a bad hash: %v", err)
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := GeneratePassword()
		if len(p) != 16 || strings.Trim(p, passwordAlphabet) != "" {
			t.Fatalf("generated %q", p)
		}
		if seen[p] {
			t.Fatalf("%q generated twice", p)
		}
		seen[p] = true
	}
}

func TestLoadOrCreatePassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	hash, pw, err := LoadOrCreatePassword(dir)
	if err != nil || pw == "" {
		t.Fatalf("first start: %q %q %v", hash, pw, err)
	}
	ph, err := parsePasswordHash(hash)
	if err != nil || !ph.verify(pw) {
		t.Fatalf("the stored hash %q does not match the generated password: %v", hash, err)
	}
	path := filepath.Join(dir, PasswordFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), pw) {
		t.Error("the password itself is in the file")
	}
	hash2, pw2, err := LoadOrCreatePassword(dir)
	if err != nil || hash2 != hash || pw2 != "" {
		t.Errorf("second start: %q %q %v; want the same hash and no new password", hash2, pw2, err)
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreatePassword(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("world-readable file: %v", err)
		}
	}
	if err := os.WriteFile(path, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreatePassword(dir); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("garbage file: %v", err)
	}
	if _, _, err := LoadOrCreatePassword(""); err == nil {
		t.Error("no data directory: no error")
	}
}

// TestGeneratedPasswordLoggedOnce starts two servers on one data
// directory: the first makes a password and logs it, the second reads the
// hash and logs nothing about it.
func TestGeneratedPasswordLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	var logs []string
	for range 2 {
		var buf bytes.Buffer
		s := New(Options{Addr: "127.0.0.1:0", Controller: &fakeController{}, Token: testToken, Console: &fakeConsole{},
			DataDir: dir, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		_ = s.Shutdown(context.Background())
		logs = append(logs, buf.String())
	}
	_, after, ok := strings.Cut(logs[0], "console password generated: ")
	if !ok || !strings.Contains(logs[0], "level=WARN") || !strings.Contains(logs[0], "change it with haven password") {
		t.Fatalf("first start logged %q", logs[0])
	}
	pw := after[:16]
	hash, _, err := LoadOrCreatePassword(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ph, _ := parsePasswordHash(hash); !ph.verify(pw) {
		t.Errorf("the logged password %q does not match the stored hash", pw)
	}
	if strings.Contains(logs[1], "password") {
		t.Errorf("second start logged %q", logs[1])
	}
}
