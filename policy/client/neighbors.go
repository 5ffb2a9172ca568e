package client

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// NeighborOptions configures a Neighbors table.
type NeighborOptions struct {
	Every  time.Duration // refresh interval; default 30s
	Logger *slog.Logger  // default: discard
}

// Neighbors is a copy of the kernel's neighbour table (IPv4 ARP and IPv6
// neighbour discovery), so that a query from a device on the local network
// can be matched by its MAC address without a router adding it. The copy is
// refreshed in the background, never per query; a failed refresh keeps the
// last good copy, since a device's MAC rarely changes and an old answer is
// better than none.
type Neighbors struct {
	every time.Duration
	log   *slog.Logger

	mu    sync.Mutex // serialises refreshes so swaps land in order
	seq   uint32
	table atomic.Pointer[map[netip.Addr]MAC]
	// version counts the refreshes that changed the table, so that what
	// was decided for an address under an older copy can be told apart.
	version atomic.Uint64
}

// NewNeighbors returns an empty table; call Refresh or Run to fill it.
func NewNeighbors(opt NeighborOptions) *Neighbors {
	n := &Neighbors{every: opt.Every, log: opt.Logger}
	if n.every <= 0 {
		n.every = 30 * time.Second
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	return n
}

// Run refreshes the table now and then every interval until ctx is done.
// Failures are logged; on a system without rtnetlink it logs once and
// returns.
func (n *Neighbors) Run(ctx context.Context) {
	t := time.NewTicker(n.every)
	defer t.Stop()
	for {
		if err := n.Refresh(); err != nil {
			if errors.Is(err, errors.ErrUnsupported) {
				n.log.Warn("MAC matching by neighbour table disabled", "err", err)
				return
			}
			n.log.Warn("neighbour table refresh failed; keeping the previous copy", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads the kernel's neighbour table once and swaps it in.
func (n *Neighbors) Refresh() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var (
		list []neighbor
		err  error
	)
	// A table change during the dump makes the kernel flag it; the next
	// attempt almost always gets a clean copy.
	for range 3 {
		n.seq++
		list, err = n.dump(n.seq)
		if !errors.Is(err, errDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return err
	}
	t := buildTable(list)
	old := n.table.Swap(&t)
	if old == nil || !maps.Equal(*old, t) {
		n.version.Add(1)
	}
	n.log.Debug("neighbour table refreshed", "entries", len(t))
	return nil
}

func (n *Neighbors) dump(seq uint32) ([]neighbor, error) {
	var list []neighbor
	err := neighDump(seq, func(b []byte) (done bool, err error) {
		list, done, err = parseNeighbors(b, seq, list)
		return done, err
	})
	return list, err
}

// buildTable keeps the usable entries. An address seen with two different
// MACs (the same link-local address on two links, or a table caught
// mid-change) is dropped: guessing could put a device under the wrong
// profile.
func buildTable(list []neighbor) map[netip.Addr]MAC {
	t := make(map[netip.Addr]MAC, len(list))
	var ambiguous map[netip.Addr]bool
	for _, e := range list {
		if e.State&nudUsable == 0 || e.MAC.IsZero() {
			continue
		}
		a := e.Addr.Unmap()
		if m, ok := t[a]; ok && m != e.MAC {
			if ambiguous == nil {
				ambiguous = make(map[netip.Addr]bool)
			}
			ambiguous[a] = true
		}
		t[a] = e.MAC
	}
	for a := range ambiguous {
		delete(t, a)
	}
	return t
}

// Lookup returns the MAC address the kernel last knew for ip. It takes no
// lock and does not allocate.
func (n *Neighbors) Lookup(ip netip.Addr) (MAC, bool) {
	t := n.table.Load()
	if t == nil {
		return MAC{}, false
	}
	m, ok := (*t)[ip.Unmap().WithZone("")]
	return m, ok
}

// Version changes whenever a refresh changes the table.
func (n *Neighbors) Version() uint64 { return n.version.Load() }

// Len returns the number of entries in the current copy.
func (n *Neighbors) Len() int {
	if t := n.table.Load(); t != nil {
		return len(*t)
	}
	return 0
}
