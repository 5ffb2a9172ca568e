//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || android || ios)

package state

import "os"

// lockFile does nothing where flock(2) is missing: keeping two daemons
// off one data directory is then up to the operator.
func lockFile(string) (*os.File, error) { return nil, nil }

// syncDir syncs dir where the platform allows it. Windows refuses; there
// the durability of a rename rests with the file system.
func syncDir(dir string) error {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
