package api

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet: created
	tok, err := LoadOrCreateToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(b) != 32 {
		t.Errorf("token %q: want 32 bytes base64url (%v)", tok, err)
	}
	fi, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	again, err := LoadOrCreateToken(dir)
	if err != nil || again != tok {
		t.Errorf("second load: %q, %v; want the same token %q", again, err, tok)
	}
	read, err := ReadToken(dir)
	if err != nil || read != tok {
		t.Errorf("ReadToken: %q, %v; want %q", read, err, tok)
	}
	other, err := LoadOrCreateToken(t.TempDir())
	if err != nil || other == tok {
		t.Errorf("another directory: %q, %v; want a different token", other, err)
	}
}

func TestReadToken(t *testing.T) {
	if _, err := ReadToken(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := ReadToken(""); err == nil {
		t.Error("no data directory: no error")
	}
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // token, or a part of the error
		ok      bool
	}{
		{"hand-written", "  my-own-long-token-1234\n\n", 0o600, "my-own-long-token-1234", true},
		{"group readable", "my-own-long-token-1234", 0o640, "my-own-long-token-1234", true},
		{"world readable", "my-own-long-token-1234", 0o644, "accessible by other users", false},
		{"empty", "", 0o600, "does not hold a token", false},
		{"too short", "short", 0o600, "does not hold a token", false},
		{"two words", "my-own-long token-1234", 0o600, "does not hold a token", false},
		{"huge", strings.Repeat("x", 2000), 0o600, "too large", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && tt.mode != 0o600 {
				t.Skip("no Unix permissions")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, TokenFile)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := ReadToken(dir)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, %v; want an error containing %q", got, err, tt.want)
			}
			// The server refuses such a file too, rather than replacing it.
			if _, err := LoadOrCreateToken(dir); err == nil {
				t.Error("LoadOrCreateToken accepted it")
			}
		})
	}
}
