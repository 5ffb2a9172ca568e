// Package state keeps Haven's runtime state — pauses and temporary
// exceptions — in a store that survives restarts.
//
// A parent pauses a device or a whole profile ("all internet off but the
// allow list") or grants a temporary exception ("YouTube for 30 minutes").
// Such entries are never written into the user's YAML: they live in a Store
// (File on disk by default, Memory without a data directory, a shared
// database later), and the query path reads them through an immutable
// Snapshot built from Store.List.
package state

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is what an entry does to its target.
type Kind string

// Kinds of entries.
const (
	Pause Kind = "pause" // everything blocked but the allow entries
	Allow Kind = "allow" // What (a category, service or domain name) unblocked
)

// Entry is one pause or exception. It takes effect when stored and ends at
// Until; there are no entries that start in the future.
type Entry struct {
	ID      string    // assigned by Put if empty (random, URL-safe)
	Target  string    // a device or profile name
	Kind    Kind      // Pause or Allow
	What    string    // for Allow: the category, service or domain; "" for Pause
	Until   time.Time // when it ends; never zero
	Created time.Time // filled by Put if zero
	By      string    // who made it (e.g. "cli", "api:token-name"), free text
}

// Active reports whether the entry is in force at now.
func (e Entry) Active(now time.Time) bool { return now.Before(e.Until) }

// Store is where entries live. Implementations are safe for concurrent use.
type Store interface {
	// List returns every stored entry, oldest first. Expired entries may
	// be included until pruned; Snapshot ignores them.
	List(ctx context.Context) ([]Entry, error)
	// Put adds e, or replaces the entry with the same ID, and returns it
	// as stored: ID and Created filled in, times in UTC. Errors wrap
	// ErrInvalid for an entry that cannot be stored (including one that
	// has already ended) and ErrFull when MaxEntries are in force.
	Put(ctx context.Context, e Entry) (Entry, error)
	// Delete removes the entries matching f and returns how many it
	// removed.
	Delete(ctx context.Context, f Filter) (int, error)
	// Prune removes expired entries and returns how many it removed.
	// Writes prune too; the daemon calls Prune now and then so that a
	// quiet store does not keep dead entries forever.
	Prune(ctx context.Context) (int, error)
	// Close releases the store; later calls fail with ErrClosed.
	Close() error
}

// Filter selects entries to delete. Empty fields match anything; at least
// one field must be set, so that "delete everything" is never an accident.
type Filter struct {
	ID     string
	Target string
	Kind   Kind
	What   string
}

// Match reports whether e is selected by f.
func (f Filter) Match(e Entry) bool {
	return (f.ID == "" || f.ID == e.ID) &&
		(f.Target == "" || f.Target == e.Target) &&
		(f.Kind == "" || f.Kind == e.Kind) &&
		(f.What == "" || f.What == e.What)
}

func (f Filter) empty() bool { return f == Filter{} }

// MaxEntries bounds how many entries a store holds, so that a runaway API
// client cannot grow the state file without limit. Households need tens.
const MaxEntries = 10000

// Limits on the text fields, in bytes.
const (
	maxIDLen   = 64
	maxTextLen = 256
)

// Errors returned by stores. Test with errors.Is.
var (
	ErrInvalid = errors.New("invalid entry")
	ErrFull    = errors.New("too many entries")
	ErrClosed  = errors.New("state store closed")
)

// normalize checks e and returns it as a store keeps it: ID and Created
// filled in, times in UTC without a monotonic clock reading (so that what
// Put returns equals what List returns after a restart).
func normalize(e Entry, now time.Time) (Entry, error) {
	if err := check(e); err != nil {
		return Entry{}, err
	}
	if !e.Active(now) {
		return Entry{}, fmt.Errorf("%w: until %s has already passed", ErrInvalid, e.Until.Format(time.RFC3339))
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Created.IsZero() {
		e.Created = now
	}
	e.Until = e.Until.UTC().Round(0)
	e.Created = e.Created.UTC().Round(0)
	return e, nil
}

// check validates the fields of e that do not depend on the time; it is
// also applied to entries read back from disk.
func check(e Entry) error {
	if e.ID != "" && !validID(e.ID) {
		return fmt.Errorf("%w: id %q: want 1 to %d of A-Z a-z 0-9 - _ . ~", ErrInvalid, e.ID, maxIDLen)
	}
	if err := checkText("target", e.Target, true); err != nil {
		return err
	}
	switch e.Kind {
	case Pause:
		if e.What != "" {
			return fmt.Errorf("%w: a pause has no what (got %q)", ErrInvalid, e.What)
		}
	case Allow:
		if err := checkText("what", e.What, true); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: kind %q: want %q or %q", ErrInvalid, e.Kind, Pause, Allow)
	}
	if e.Until.IsZero() {
		return fmt.Errorf("%w: until is not set", ErrInvalid)
	}
	return checkText("by", e.By, false)
}

func checkText(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
	case len(s) > maxTextLen:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, field, maxTextLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s %q contains a control character", ErrInvalid, field, s)
		}
	}
	return nil
}

// validID accepts the characters RFC 3986 leaves unreserved, so an ID can
// be used in a URL path as it is.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}

// newID returns 96 random bits, base64url: 16 characters, unguessable, so
// knowing one entry's URL says nothing about another's.
func newID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
