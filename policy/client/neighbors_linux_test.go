package client

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// testLink creates a throwaway interface in the current network namespace
// holding only static (permanent) neighbour entries, so the kernel resolves
// nothing and no packet leaves the host. It prefers a dummy interface and
// falls back to a port-less bridge where the dummy driver is missing.
func testLink(t *testing.T) (v4, v6 netip.Addr, mac4, mac6 MAC) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("neighbour table test needs root to add an interface")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("neighbour table test needs iproute2's ip command")
	}
	ipCmd := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	x := os.Getpid()%200 + 20
	name := fmt.Sprintf("hvtest%d", os.Getpid()%1000)
	_ = ipCmd("link", "del", name) // left over from a killed run
	if err := ipCmd("link", "add", name, "type", "dummy"); err != nil {
		t.Logf("%v; using a bridge instead", err)
		if err := ipCmd("link", "add", name, "type", "bridge"); err != nil {
			t.Skipf("cannot create a test interface: %v", err)
		}
	}
	t.Cleanup(func() {
		if err := ipCmd("link", "del", name); err != nil {
			t.Error(err)
		}
	})
	v4 = netip.MustParseAddr(fmt.Sprintf("198.18.%d.7", x))
	v6 = netip.MustParseAddr(fmt.Sprintf("fd00:%x::7", x))
	mac4, mac6 = MAC{0x02, 0x00, 0x5e, 0x10, 0x00, 0x07}, MAC{0x02, 0x00, 0x5e, 0x10, 0x00, 0x17}
	for _, args := range [][]string{
		{"link", "set", name, "up"},
		{"addr", "add", fmt.Sprintf("198.18.%d.1/24", x), "dev", name},
		{"neigh", "add", v4.String(), "lladdr", mac4.String(), "dev", name, "nud", "permanent"},
		{"-6", "addr", "add", fmt.Sprintf("fd00:%x::1/64", x), "dev", name, "nodad"},
		{"-6", "neigh", "add", v6.String(), "lladdr", mac6.String(), "dev", name, "nud", "permanent"},
	} {
		if err := ipCmd(args...); err != nil {
			t.Fatal(err)
		}
	}
	return v4, v6, mac4, mac6
}

func TestNeighborsKernel(t *testing.T) {
	v4, v6, mac4, mac6 := testLink(t)
	n := NewNeighbors(NeighborOptions{})
	if _, ok := n.Lookup(v4); ok {
		t.Fatal("Lookup before Refresh found an entry")
	}
	if err := n.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	for _, tc := range []struct {
		addr netip.Addr
		want MAC
		ok   bool
	}{
		{v4, mac4, true},
		{netip.AddrFrom16(v4.As16()), mac4, true}, // IPv4-mapped
		{v6, mac6, true},
		{v4.Next(), MAC{}, false},
		{v6.Next(), MAC{}, false},
	} {
		if got, ok := n.Lookup(tc.addr); ok != tc.ok || got != tc.want {
			t.Errorf("Lookup(%v) = %v, %v; want %v, %v", tc.addr, got, ok, tc.want, tc.ok)
		}
	}
	if n.Len() < 2 {
		t.Errorf("Len() = %d, want at least 2", n.Len())
	}

	t.Run("Run", func(t *testing.T) {
		n := NewNeighbors(NeighborOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n.Run(ctx) // refreshes once, then sees ctx is done
		if got, ok := n.Lookup(v4); !ok || got != mac4 {
			t.Errorf("Lookup after Run = %v, %v; want %v", got, ok, mac4)
		}
	})
}
