package api

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PasswordFile is the name, in the data directory, of the file holding the
// hash of a generated console password.
const PasswordFile = "console.password"

// The console password hash is
//
//	pbkdf2-sha256$ITERATIONS$SALT$KEY
//
// with SALT (16 bytes) and KEY (32 bytes) in unpadded standard base64.
// PBKDF2 is in the standard library, so the format needs no dependency;
// the iteration count is OWASP's 2023 advice for PBKDF2-HMAC-SHA256 and is
// stored with the hash, so it can be raised without invalidating old ones.
const (
	hashScheme        = "pbkdf2-sha256"
	defaultIterations = 600000
	minIterations     = 10000
	maxIterations     = 10000000 // a typo in the config must not cost minutes per login
	saltLen           = 16
	keyLen            = 32
	minPassword       = 8
	maxPassword       = 1024
)

// passwordHash is a parsed hash.
type passwordHash struct {
	iter      int
	salt, key []byte
}

// HashPassword returns the hash of password in the format the console
// password is configured in.
func HashPassword(password string) (string, error) {
	return hashPassword(password, defaultIterations)
}

func hashPassword(password string, iter int) (string, error) {
	if len(password) < minPassword {
		return "", fmt.Errorf("the password is too short: use at least %d characters", minPassword)
	}
	if len(password) > maxPassword {
		return "", fmt.Errorf("the password is longer than %d bytes", maxPassword)
	}
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand)
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, keyLen)
	if err != nil {
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	enc := base64.RawStdEncoding
	return hashScheme + "$" + strconv.Itoa(iter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// ValidatePasswordHash reports whether s is a password hash the server
// accepts, for config validation.
func ValidatePasswordHash(s string) error {
	_, err := parsePasswordHash(s)
	return err
}

func parsePasswordHash(s string) (passwordHash, error) {
	parts := strings.Split(strings.TrimSpace(s), "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return passwordHash{}, fmt.Errorf("not a password hash: want %s$ITERATIONS$SALT$KEY (make one with haven password)", hashScheme)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < minIterations || iter > maxIterations {
		return passwordHash{}, fmt.Errorf("password hash: iterations %q: want %d to %d", parts[1], minIterations, maxIterations)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) != keyLen {
		return passwordHash{}, errors.New("password hash: bad salt or key (make a new one with haven password)")
	}
	return passwordHash{iter: iter, salt: salt, key: key}, nil
}

// CheckPassword reports whether password matches hash (made by
// HashPassword), for tools and tests; the server keeps its hash parsed.
func CheckPassword(hash, password string) (bool, error) {
	ph, err := parsePasswordHash(hash)
	if err != nil {
		return false, err
	}
	return ph.verify(password), nil
}

// verify reports whether password matches. The derived keys are compared
// in constant time; the derivation itself takes the same time for every
// candidate.
func (h *passwordHash) verify(password string) bool {
	if len(password) > maxPassword {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iter, keyLen)
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1
}

// passwordAlphabet leaves out characters that are easily misread (0 O o, 1
// l I) so a generated password can be read out or copied by hand.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// GeneratePassword returns a random 16-character password (80 bits) that
// is easy to read and type.
func GeneratePassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		// 32 symbols: the low 5 bits are uniform.
		b[i] = passwordAlphabet[b[i]&31]
	}
	return string(b)
}

// LoadOrCreatePassword returns the console password hash kept in
// dataDir/console.password. If there is none, it generates a password,
// stores its hash (mode 0600) and returns the password too, so that the
// caller can show it once; later calls return only the hash.
func LoadOrCreatePassword(dataDir string) (hash, generated string, err error) {
	if dataDir == "" {
		return "", "", errors.New("console password: no data directory")
	}
	path := filepath.Join(dataDir, PasswordFile)
	hash, err = readPasswordFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return hash, "", err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", "", fmt.Errorf("console password: %w", err)
	}
	generated = GeneratePassword()
	hash, err = HashPassword(generated)
	if err != nil {
		return "", "", fmt.Errorf("console password: %w", err)
	}
	err = createSecret(path, hash)
	if errors.Is(err, fs.ErrExist) {
		hash, err = readPasswordFile(path)
		return hash, "", err
	}
	if err != nil {
		return "", "", fmt.Errorf("console password: %w", err)
	}
	return hash, generated, nil
}

func readPasswordFile(path string) (string, error) {
	b, err := readSecret(path)
	if err != nil {
		return "", fmt.Errorf("console password: %w", err)
	}
	hash := strings.TrimSpace(string(b))
	if err := ValidatePasswordHash(hash); err != nil {
		return "", fmt.Errorf("console password: %s: %w; delete it and restart haven for a new password", path, err)
	}
	return hash, nil
}
