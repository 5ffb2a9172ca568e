package state

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// core is the in-memory half shared by File and Memory: the committed set
// of entries, published as an immutable sorted slice so that List never
// waits for a write's disk I/O, and the writer lock.
type core struct {
	now func() time.Time

	// mu serialises writers. A writer builds the next set, persists it
	// through commit (holding mu), and only then publishes it, so a
	// failed write leaves the set as it was.
	mu     sync.Mutex
	cur    atomic.Pointer[[]Entry] // never modified once published
	closed atomic.Bool
	commit func(next []Entry) error // nil: nothing to persist
	max    int                      // MaxEntries; lowered by tests
}

func (c *core) init(now func() time.Time, entries []Entry) {
	if now == nil {
		now = time.Now
	}
	c.now = now
	c.max = MaxEntries
	sortEntries(entries)
	c.cur.Store(&entries)
}

func (c *core) list(ctx context.Context) ([]Entry, error) {
	if err := c.usable(ctx); err != nil {
		return nil, err
	}
	return slices.Clone(*c.cur.Load()), nil
}

func (c *core) put(ctx context.Context, e Entry) (Entry, error) {
	if err := c.usable(ctx); err != nil {
		return Entry{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return Entry{}, ErrClosed
	}
	now := c.now()
	e, err := normalize(e, now)
	if err != nil {
		return Entry{}, fmt.Errorf("state: %w", err)
	}
	old := *c.cur.Load()
	next := make([]Entry, 0, len(old)+1)
	for _, o := range old {
		if o.ID != e.ID && o.Active(now) {
			next = append(next, o)
		}
	}
	if len(next) >= c.max {
		return Entry{}, fmt.Errorf("state: %w: %d in force", ErrFull, len(next))
	}
	next = append(next, e)
	sortEntries(next)
	if err := c.publish(next); err != nil {
		return Entry{}, err
	}
	return e, nil
}

func (c *core) delete(ctx context.Context, f Filter) (int, error) {
	if f.empty() {
		return 0, fmt.Errorf("state: delete: %w: empty filter", ErrInvalid)
	}
	return c.remove(ctx, f.Match)
}

func (c *core) prune(ctx context.Context) (int, error) {
	return c.remove(ctx, nil)
}

// remove drops the entries drop selects, and every expired one, and writes
// the result if anything changed. It returns how many entries drop
// selected (expired or not: they were stored); with a nil drop (Prune), how
// many expired.
func (c *core) remove(ctx context.Context, drop func(Entry) bool) (int, error) {
	if err := c.usable(ctx); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return 0, ErrClosed
	}
	now := c.now()
	old := *c.cur.Load()
	next := make([]Entry, 0, len(old))
	selected, expired := 0, 0
	for _, o := range old {
		switch {
		case drop != nil && drop(o):
			selected++
		case !o.Active(now):
			expired++
		default:
			next = append(next, o)
		}
	}
	if selected+expired == 0 {
		return 0, nil
	}
	if err := c.publish(next); err != nil {
		return 0, err
	}
	if drop == nil {
		return expired, nil
	}
	return selected, nil
}

// publish persists next and makes it the current set. Callers hold mu.
func (c *core) publish(next []Entry) error {
	if c.commit != nil {
		if err := c.commit(next); err != nil {
			return err
		}
	}
	c.cur.Store(&next)
	return nil
}

func (c *core) usable(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// close marks the store closed once; it reports whether this call did.
func (c *core) close() bool {
	c.mu.Lock() // wait for a write in progress
	defer c.mu.Unlock()
	return !c.closed.Swap(true)
}

// sortEntries orders entries oldest first, so List and the file read in
// the order parents made them.
func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
