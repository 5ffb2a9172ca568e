package api

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := createSecret(path, "first"); err != nil {
		t.Fatal(err)
	}
	// A second writer finds the first one's file and leaves it alone.
	if err := createSecret(path, "second"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v, want fs.ErrExist", err)
	}
	b, err := readSecret(path)
	if err != nil || string(b) != "first\n" {
		t.Fatalf("readSecret = %q, %v; want %q", b, err, "first\n")
	}
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %04o, want 0600", perm)
	}
}

func TestCreateSecretMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "secret")
	if err := createSecret(path, "x"); err == nil || errors.Is(err, fs.ErrExist) {
		t.Fatalf("create in a missing folder: %v, want an error other than fs.ErrExist", err)
	}
}
