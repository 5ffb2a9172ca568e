package state

import (
	"context"
	"time"
)

// Memory is a Store with no persistence, for a daemon without a data
// directory: pauses and exceptions last until it stops.
type Memory struct {
	c core
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store on the system clock.
func NewMemory() *Memory { return NewMemoryClock(nil) }

// NewMemoryClock returns an empty Memory store that reads the time from now
// (nil = time.Now), for tests.
func NewMemoryClock(now func() time.Time) *Memory {
	m := &Memory{}
	m.c.init(now, nil)
	return m
}

// List returns every stored entry, oldest first.
func (m *Memory) List(ctx context.Context) ([]Entry, error) { return m.c.list(ctx) }

// Put adds or replaces e by ID and returns it as stored.
func (m *Memory) Put(ctx context.Context, e Entry) (Entry, error) { return m.c.put(ctx, e) }

// Delete removes the entries matching f and returns how many.
func (m *Memory) Delete(ctx context.Context, f Filter) (int, error) { return m.c.delete(ctx, f) }

// Prune removes expired entries and returns how many.
func (m *Memory) Prune(ctx context.Context) (int, error) { return m.c.prune(ctx) }

// Close makes later calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.c.close()
	return nil
}
