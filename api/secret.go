package api

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

// The API token and the console password hash are secret files in the
// data directory: created once, mode 0600, and refused when other users
// may read or write them.

// maxSecret is the size beyond which a secret file holds something else.
const maxSecret = 1024

// createSecret writes value and a newline to a new file at path, mode
// 0600. If path exists, it returns an error satisfying
// errors.Is(err, fs.ErrExist) and leaves the file alone: another process
// created it meanwhile, and its secret is the one to use. A file left half
// written is removed.
func createSecret(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// readSecret returns the content of the secret file at path, up to
// maxSecret+1 bytes so that callers can tell a file too large. A file
// other users can access is refused: anyone who can read the token can
// switch filtering off, anyone who can write it can lock the owner out,
// and the password hash is slow to crack, not impossible. A group may
// share them (an admin group running the CLI), the world may not.
func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%s is accessible by other users (mode %04o); run chmod 600 on it", path, fi.Mode().Perm())
	}
	return io.ReadAll(io.LimitReader(f, maxSecret+1))
}
