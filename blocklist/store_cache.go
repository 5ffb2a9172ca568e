package blocklist

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// cacheMeta is the sidecar of a cached copy: what is needed to ask the
// origin whether the copy is still current, and how old it is.
type cacheMeta struct {
	Key          string    `json:"key"` // the origin, for people reading the directory
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Fetched      time.Time `json:"fetched"` // when these bytes were obtained
	Checked      time.Time `json:"checked"` // when the origin last confirmed them (download, 304 or unchanged file)
	Size         int64     `json:"size"`    // of the copy, to notice a copy and sidecar that do not belong together
	SHA256       string    `json:"sha256,omitempty"`
	FileModTime  time.Time `json:"file_mtime,omitzero"`
	FileSize     int64     `json:"file_size,omitempty"`
}

// diskCache keeps the last good copy of every URL and file source in one
// directory: NAME.list holds the bytes as received, NAME.json the cacheMeta,
// where NAME is a hash of the origin key. Both are replaced atomically
// (temporary file, fsync, rename), so a crash leaves the old or the new copy,
// never a torn one.
type diskCache struct {
	dir string
}

const tempPattern = "fetch-*.tmp"

func (c *diskCache) base(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:16]))
}

func (c *diskCache) dataPath(key string) string { return c.base(key) + ".list" }
func (c *diskCache) metaPath(key string) string { return c.base(key) + ".json" }

func (c *diskCache) init() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("list cache: %w", err)
	}
	return nil
}

// removeTemps deletes temporary files left behind by a crash.
func (c *diskCache) removeTemps() {
	names, _ := filepath.Glob(filepath.Join(c.dir, tempPattern))
	for _, n := range names {
		os.Remove(n)
	}
}

// createTemp opens a new temporary file in the cache directory, so that it
// can later be renamed over a copy within one file system.
func (c *diskCache) createTemp() (*os.File, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(c.dir, tempPattern)
	if err != nil {
		return nil, fmt.Errorf("list cache: %w", err)
	}
	return f, nil
}

// load returns the sidecar of a cached copy and whether a copy exists. A
// missing or damaged sidecar next to an existing copy still yields the copy
// (it was renamed into place complete), only without validators, so the next
// download is unconditional.
func (c *diskCache) load(key string) (cacheMeta, bool, error) {
	fi, err := os.Stat(c.dataPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return cacheMeta{}, false, nil
	}
	if err != nil {
		return cacheMeta{}, false, fmt.Errorf("list cache: %w", err)
	}
	fallback := cacheMeta{Key: key, Fetched: fi.ModTime(), Checked: fi.ModTime(), Size: fi.Size()}
	b, err := os.ReadFile(c.metaPath(key))
	if err != nil {
		return fallback, true, nil
	}
	var m cacheMeta
	if json.Unmarshal(b, &m) != nil || m.Key != key || m.Size != fi.Size() {
		return fallback, true, nil
	}
	return m, true, nil
}

// replace moves the complete temporary file tmp into place as the copy of
// key.
func (c *diskCache) replace(key, tmp string) error {
	if err := os.Rename(tmp, c.dataPath(key)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("list cache: %w", err)
	}
	c.syncDir()
	return nil
}

// writeMeta replaces the sidecar of key atomically.
func (c *diskCache) writeMeta(key string, m cacheMeta) error {
	m.Key = key
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("list cache: %w", err)
	}
	f, err := c.createTemp()
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.metaPath(key))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("list cache: %w", err)
	}
	c.syncDir()
	return nil
}

// syncDir makes the renames durable. Not every platform can sync a
// directory; the copy is still complete without it, only possibly older
// after a power loss.
func (c *diskCache) syncDir() {
	if d, err := os.Open(c.dir); err == nil {
		d.Sync()
		d.Close()
	}
}
