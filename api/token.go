package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the name of the token file in the data directory.
const TokenFile = "api.token"

// minToken is the shortest token accepted from a file a person wrote.
const minToken = 16

// LoadOrCreateToken returns the API token kept in dataDir/api.token,
// creating the directory and a new token (32 random bytes, base64url) if
// there is none. The server calls it; the CLI only reads (ReadToken).
func LoadOrCreateToken(dataDir string) (string, error) {
	tok, err := ReadToken(dataDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	tok = base64.RawURLEncoding.EncodeToString(b[:])
	path := filepath.Join(dataDir, TokenFile)
	err = createSecret(path, tok)
	if errors.Is(err, fs.ErrExist) {
		return ReadToken(dataDir)
	}
	if err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	return tok, nil
}

// ReadToken returns the token in dataDir/api.token. A missing file gives
// an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadToken(dataDir string) (string, error) {
	if dataDir == "" {
		return "", errors.New("api token: no data directory")
	}
	path := filepath.Join(dataDir, TokenFile)
	b, err := readSecret(path)
	if err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	if len(b) > maxSecret {
		return "", fmt.Errorf("api token: %s is too large to be a token", path)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < minToken || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return "", fmt.Errorf("api token: %s does not hold a token (at least %d printable ASCII characters, no spaces); delete it and restart haven to make a new one", path, minToken)
	}
	return tok, nil
}
