package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileOptions are the parts of a File that do not come from its path.
type FileOptions struct {
	Now    func() time.Time // nil = time.Now
	Logger *slog.Logger     // nil = discard
}

// File is the default Store: the whole set is kept in memory and written,
// on every change, as one JSON file replaced atomically (see README.md for
// why a crash at any point leaves the old or the new file). One process
// at a time may open a file; the lock is PATH.lock beside it.
type File struct {
	c         core
	path      string
	log       *slog.Logger
	lock      *os.File // holds the advisory lock; nil where there is none
	recovered error    // a *CorruptError if the file was set aside on open
}

var _ Store = (*File)(nil)

// CorruptError describes a state file that could not be read. OpenFile
// does not fail on one: it keeps the file aside, starts empty, logs the
// error and reports it through File.Recovered, because the daemon must go
// on answering DNS. The pauses and exceptions in the file are lost.
type CorruptError struct {
	Path  string // the state file
	Aside string // where it was kept; "" if it could not be renamed
	Err   error  // why it could not be read
}

func (e *CorruptError) Error() string {
	kept := "could not be kept aside, it will be overwritten"
	if e.Aside != "" {
		kept = "kept as " + e.Aside
	}
	return fmt.Sprintf("state file %s is corrupt (%s; starting with no pauses or exceptions): %v", e.Path, kept, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// OpenFile opens the state file at path, creating its directory if needed.
// A missing file is an empty store. Temporary files a crash left behind are
// removed. A file that cannot be parsed is not an error here: see
// CorruptError. Errors are returned for what a restart would not cure by
// itself: an unreadable file or directory, or a file another process holds.
func OpenFile(path string, opt FileOptions) (*File, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, fmt.Errorf("state: no file name")
	}
	f := &File{path: path, log: opt.Logger}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	f.lock = lock
	// Only with the lock held: another process's temporary file would be
	// a write in progress, not debris.
	f.removeTemps()
	entries, err := f.load(opt.Now())
	if err != nil {
		f.unlock()
		return nil, err
	}
	f.c.init(opt.Now, entries)
	f.c.commit = f.write
	return f, nil
}

// Recovered returns the *CorruptError if OpenFile found the file corrupt
// and started empty, so that the daemon can show it; nil otherwise.
func (f *File) Recovered() error { return f.recovered }

// List returns every stored entry, oldest first.
func (f *File) List(ctx context.Context) ([]Entry, error) { return f.c.list(ctx) }

// Put adds or replaces e by ID, writes the file, and returns e as stored.
// When Put returns an error the file and the set are unchanged.
func (f *File) Put(ctx context.Context, e Entry) (Entry, error) { return f.c.put(ctx, e) }

// Delete removes the entries matching filter, writes the file if any were,
// and returns how many.
func (f *File) Delete(ctx context.Context, filter Filter) (int, error) {
	return f.c.delete(ctx, filter)
}

// Prune removes expired entries, writing the file if there were any, and
// returns how many.
func (f *File) Prune(ctx context.Context) (int, error) { return f.c.prune(ctx) }

// Close waits for a write in progress and releases the file's lock. The
// file is always complete on disk, so there is nothing to flush.
func (f *File) Close() error {
	if !f.c.close() {
		return nil
	}
	return f.unlock()
}

func (f *File) unlock() error {
	if f.lock == nil {
		return nil
	}
	err := f.lock.Close() // closing the descriptor releases the lock
	f.lock = nil
	return err
}

// load reads the file at open. Corrupt content is set aside; entries that
// are individually invalid are dropped with a warning, so that one bad
// hand edit does not cost the others.
func (f *File) load(now time.Time) ([]Entry, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	records, err := decode(data)
	if err != nil {
		f.setAside(err, now)
		return nil, nil
	}
	entries := make([]Entry, 0, len(records))
	seen := make(map[string]int, len(records))
	for i, r := range records {
		e := r.entry()
		if err := check(e); err != nil || e.ID == "" {
			if err == nil {
				err = fmt.Errorf("%w: no id", ErrInvalid)
			}
			f.log.Warn("state: dropping an invalid entry", "file", f.path, "index", i, "err", err)
			continue
		}
		if !e.Active(now) {
			continue // would be pruned by the next write anyway
		}
		if j, dup := seen[e.ID]; dup {
			f.log.Warn("state: duplicate entry id, keeping the later one", "file", f.path, "id", e.ID)
			entries[j] = e
			continue
		}
		seen[e.ID] = len(entries)
		entries = append(entries, e)
	}
	return entries, nil
}

// setAside renames a corrupt file out of the way, so that the next write
// does not destroy what someone may want to look at, and records why.
func (f *File) setAside(reason error, now time.Time) {
	ce := &CorruptError{Path: f.path, Err: reason}
	base := f.path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	var renameErr error
	for i := 0; i < 100; i++ {
		aside := base
		if i > 0 {
			aside = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(aside); err == nil {
			continue
		}
		if renameErr = os.Rename(f.path, aside); renameErr == nil {
			ce.Aside = aside
		}
		break
	}
	f.recovered = ce
	if renameErr != nil {
		f.log.Warn("state: could not keep the corrupt file aside", "file", f.path, "err", renameErr)
	}
	f.log.Error("state: corrupt file, starting with no pauses or exceptions",
		"file", f.path, "aside", ce.Aside, "err", reason)
}

// write replaces the file with entries: a temporary file in the same
// directory is written and fsynced, renamed over the file, and the
// directory is fsynced so that the rename itself is durable.
func (f *File) write(entries []Entry) (err error) {
	data, err := encode(entries)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	dir, name := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, name+tempInfix+"*") // mode 0600
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("state: writing %s: %w", f.path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	// The new content is in place and what every reader sees; only its
	// survival of a power cut is in doubt if the directory sync fails, so
	// that is not reported as a failed write.
	if err := syncDir(dir); err != nil {
		f.log.Warn("state: could not sync the directory", "dir", dir, "err", err)
	}
	return nil
}

// tempInfix marks temporary files: state.json.tmp-123456.
const tempInfix = ".tmp-"

// removeTemps deletes temporary files left by a crash between creating
// one and renaming it.
func (f *File) removeTemps() {
	dir, name := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return // reading the state file will say what is wrong
	}
	for _, de := range des {
		if !de.Type().IsRegular() || !strings.HasPrefix(de.Name(), name+tempInfix) {
			continue
		}
		p := filepath.Join(dir, de.Name())
		if err := os.Remove(p); err != nil {
			f.log.Warn("state: could not remove a temporary file", "file", p, "err", err)
			continue
		}
		f.log.Info("state: removed a temporary file left by a crash", "file", p)
	}
}
