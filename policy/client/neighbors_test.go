package client

import (
	"net/netip"
	"testing"
)

func TestNeighborsLookupAllocs(t *testing.T) {
	n := NewNeighbors(NeighborOptions{})
	a := netip.MustParseAddr("192.0.2.1")
	m := MAC{2, 0, 0, 0, 0, 1}
	table := buildTable([]neighbor{{Addr: a, MAC: m, State: nudReachable}})
	n.table.Store(&table)
	if got, ok := n.Lookup(netip.MustParseAddr("::ffff:192.0.2.1")); !ok || got != m {
		t.Fatalf("Lookup = %v, %v; want %v", got, ok, m)
	}
	if allocs := testing.AllocsPerRun(100, func() { n.Lookup(a) }); allocs != 0 {
		t.Errorf("Lookup: %v allocations, want 0", allocs)
	}
}

func TestNewNeighborsDefaults(t *testing.T) {
	n := NewNeighbors(NeighborOptions{})
	if n.every <= 0 || n.log == nil {
		t.Errorf("defaults not applied: every %v, logger %v", n.every, n.log)
	}
	if n.Len() != 0 {
		t.Errorf("new table has %d entries", n.Len())
	}
}
