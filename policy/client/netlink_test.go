package client

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
)

// readDump loads testdata/neigh_dump.hex: '#' comment lines, then hex.
func readDump(tb testing.TB) []byte {
	tb.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		tb.Skip("captured dump is little-endian; netlink uses host byte order")
	}
	text, err := os.ReadFile("testdata/neigh_dump.hex")
	if err != nil {
		tb.Fatal(err)
	}
	var sb strings.Builder
	for _, line := range strings.Split(string(text), "\n") {
		if !strings.HasPrefix(line, "#") {
			sb.WriteString(strings.TrimSpace(line))
		}
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		tb.Fatalf("testdata/neigh_dump.hex: %v", err)
	}
	return b
}

func TestParseNeighborsCaptured(t *testing.T) {
	b := readDump(t)
	list, done, err := parseNeighbors(b, 77, nil)
	if err != nil || !done {
		t.Fatalf("parseNeighbors = done %v, err %v; want done, no error", done, err)
	}
	type entry struct {
		addr, mac string
		state     uint16
	}
	want := []entry{
		{"198.18.200.8", "02:00:5e:10:00:08", nudStale},
		{"224.0.0.22", "01:00:5e:00:00:16", 0x40},
		{"198.18.200.7", "02:00:5e:10:00:07", nudPermanent},
		{"198.18.200.10", "02:00:5e:10:00:0a", 0x40},
		// 198.18.200.9 is INCOMPLETE: no link-layer address, so skipped.
		{"ff02::1:fff7:f31d", "33:33:ff:f7:f3:1d", 0x40},
		{"fd00:c8::7", "02:00:5e:10:00:17", nudPermanent},
		{"ff02::16", "33:33:00:00:00:16", 0x40},
		{"ff02::2", "33:33:00:00:00:02", 0x40},
	}
	if len(list) != len(want) {
		t.Fatalf("got %d entries %v, want %d", len(list), list, len(want))
	}
	for i, w := range want {
		g := list[i]
		if g.Addr.String() != w.addr || g.MAC.String() != w.mac || g.State != w.state || g.Ifindex != 8 {
			t.Errorf("entry %d = %v %v state %#x if %d; want %s %s state %#x if 8", i, g.Addr, g.MAC, g.State, g.Ifindex, w.addr, w.mac, w.state)
		}
	}

	table := buildTable(list)
	wantTable := map[string]string{
		"198.18.200.7": "02:00:5e:10:00:07",
		"198.18.200.8": "02:00:5e:10:00:08",
		"fd00:c8::7":   "02:00:5e:10:00:17",
	}
	if len(table) != len(wantTable) {
		t.Errorf("table has %d entries %v, want %v", len(table), table, wantTable)
	}
	for a, m := range wantTable {
		if got := table[netip.MustParseAddr(a)]; got.String() != m {
			t.Errorf("table[%s] = %v, want %s", a, got, m)
		}
	}
}

func TestParseNeighborsSplit(t *testing.T) {
	// The kernel may split a dump over several datagrams; only the last
	// carries NLMSG_DONE.
	b := readDump(t)
	first := 0
	for first < len(b) && first < 3*0x4c { // the first three messages
		first += int(align4(binary.NativeEndian.Uint32(b[first:])))
	}
	list, done, err := parseNeighbors(b[:first], 77, nil)
	if err != nil || done || len(list) != 3 {
		t.Fatalf("first datagram: %d entries, done %v, err %v; want 3, false, nil", len(list), done, err)
	}
	list, done, err = parseNeighbors(b[first:], 77, list)
	if err != nil || !done || len(list) != 8 {
		t.Fatalf("second datagram: %d entries, done %v, err %v; want 8, true, nil", len(list), done, err)
	}
}

// nlmsg builds one netlink message with the given type, flags, seq and body.
func nlmsg(typ, flags uint16, seq uint32, body []byte) []byte {
	ne := binary.NativeEndian
	l := nlmsgHdrLen + len(body)
	b := make([]byte, align4(uint32(l)))
	ne.PutUint32(b[0:], uint32(l))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	copy(b[nlmsgHdrLen:], body)
	return b
}

func errBody(errno int32) []byte {
	b := make([]byte, 4+nlmsgHdrLen)
	binary.NativeEndian.PutUint32(b, uint32(errno))
	return b
}

// neighBody builds a struct ndmsg with the given attributes (type, value).
func neighBody(family byte, state uint16, attrs ...any) []byte {
	ne := binary.NativeEndian
	b := make([]byte, ndMsgLen)
	b[0] = family
	ne.PutUint32(b[4:], 3)
	ne.PutUint16(b[8:], state)
	for i := 0; i+1 < len(attrs); i += 2 {
		typ, v := attrs[i].(int), attrs[i+1].([]byte)
		a := make([]byte, align4(uint32(rtaHdrLen+len(v))))
		ne.PutUint16(a[0:], uint16(rtaHdrLen+len(v)))
		ne.PutUint16(a[2:], uint16(typ))
		copy(a[rtaHdrLen:], v)
		b = append(b, a...)
	}
	return b
}

func TestParseNeighborsMessages(t *testing.T) {
	v4 := []byte{192, 0, 2, 7}
	mac := []byte{2, 0, 0x5e, 0, 0, 7}
	good := nlmsg(rtmNewNeigh, 0, 5, neighBody(afInet, nudReachable, ndaDst, v4, ndaLLAddr, mac))
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		in      []byte
		entries int
		done    bool
		err     string
	}{
		{"one and done", cat(good, nlmsg(nlmsgDone, 0, 5, make([]byte, 4))), 1, true, ""},
		{"no done yet", good, 1, false, ""},
		{"empty", nil, 0, false, ""},
		{"noop ignored", cat(nlmsg(nlmsgNoop, 0, 5, nil), good), 1, false, ""},
		{"other sequence ignored", cat(nlmsg(rtmNewNeigh, 0, 4, neighBody(afInet, nudReachable, ndaDst, v4, ndaLLAddr, mac)), nlmsg(nlmsgDone, 0, 4, nil)), 0, false, ""},
		{"ack is not an error", cat(nlmsg(nlmsgError, 0, 5, errBody(0)), good), 1, false, ""},
		{"error", nlmsg(nlmsgError, 0, 5, errBody(-int32(syscall.EPERM))), 0, false, "operation not permitted"},
		{"short error", nlmsg(nlmsgError, 0, 5, []byte{1}), 0, false, "short error"},
		{"interrupted", cat(good, nlmsg(rtmNewNeigh, nlmFDumpIntr, 5, neighBody(afInet, nudReachable))), 1, false, "interrupted"},
		{"short header", good[:10], 0, false, "short header"},
		{"length too long", good[:len(good)-4], 0, false, "out of range"},
		{"length below header", func() []byte {
			b := nlmsg(rtmNewNeigh, 0, 5, nil)
			binary.NativeEndian.PutUint32(b, 8)
			return b
		}(), 0, false, "out of range"},
		{"no lladdr", nlmsg(rtmNewNeigh, 0, 5, neighBody(afInet, nudIncompleteForTest, ndaDst, v4)), 0, false, ""},
		{"no dst", nlmsg(rtmNewNeigh, 0, 5, neighBody(afInet, nudReachable, ndaLLAddr, mac)), 0, false, ""},
		{"20-byte lladdr", nlmsg(rtmNewNeigh, 0, 5, neighBody(afInet, nudReachable, ndaDst, v4, ndaLLAddr, make([]byte, 20))), 0, false, ""},
		{"family mismatch", nlmsg(rtmNewNeigh, 0, 5, neighBody(afInet6, nudReachable, ndaDst, v4, ndaLLAddr, mac)), 0, false, ""},
		{"IPv6", nlmsg(rtmNewNeigh, 0, 5, neighBody(afInet6, nudReachable, ndaDst, netip.MustParseAddr("fd00::7").AsSlice(), ndaLLAddr, mac)), 1, false, ""},
		{"short ndmsg", nlmsg(rtmNewNeigh, 0, 5, []byte{2, 0, 0}), 0, false, ""},
		{"bad attribute length", nlmsg(rtmNewNeigh, 0, 5, append(neighBody(afInet, nudReachable, ndaDst, v4, ndaLLAddr, mac), 0xff, 0, 1, 0)), 0, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, done, err := parseNeighbors(tc.in, 5, nil)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if len(list) != tc.entries || done != tc.done {
				t.Errorf("got %d entries, done %v; want %d, %v", len(list), done, tc.entries, tc.done)
			}
		})
	}
	if _, _, err := parseNeighbors(nlmsg(rtmNewNeigh, nlmFDumpIntr, 5, nil), 5, nil); !errors.Is(err, errDumpInterrupted) {
		t.Errorf("interrupted dump: err = %v, want errDumpInterrupted", err)
	}
}

const nudIncompleteForTest = 0x01

func TestNeighRequest(t *testing.T) {
	b := neighRequest(42)
	ne := binary.NativeEndian
	if len(b) != 28 || ne.Uint32(b) != 28 || ne.Uint16(b[4:]) != rtmGetNeigh ||
		ne.Uint16(b[6:]) != nlmFRequest|nlmFDump || ne.Uint32(b[8:]) != 42 || b[16] != 0 {
		t.Errorf("neighRequest(42) = % x", b)
	}
}

func TestBuildTable(t *testing.T) {
	m1, m2 := MAC{2, 0, 0, 0, 0, 1}, MAC{2, 0, 0, 0, 0, 2}
	a := netip.MustParseAddr
	table := buildTable([]neighbor{
		{Addr: a("192.0.2.1"), MAC: m1, State: nudReachable},
		{Addr: a("192.0.2.2"), MAC: m1, State: nudFailedForTest}, // unusable state
		{Addr: a("192.0.2.3"), MAC: MAC{}, State: nudPermanent},  // zero MAC
		{Addr: a("fe80::1"), MAC: m1, State: nudStale, Ifindex: 3},
		{Addr: a("fe80::1"), MAC: m2, State: nudStale, Ifindex: 4}, // ambiguous
		{Addr: a("fe80::1"), MAC: m1, State: nudStale, Ifindex: 5},
		{Addr: a("fe80::2"), MAC: m2, State: nudDelay, Ifindex: 3},
		{Addr: a("fe80::2"), MAC: m2, State: nudProbe, Ifindex: 4}, // same MAC twice: fine
	})
	want := map[netip.Addr]MAC{a("192.0.2.1"): m1, a("fe80::2"): m2}
	if len(table) != len(want) {
		t.Fatalf("table = %v, want %v", table, want)
	}
	for k, v := range want {
		if table[k] != v {
			t.Errorf("table[%v] = %v, want %v", k, table[k], v)
		}
	}
}

const nudFailedForTest = 0x20

func FuzzParseNeighbors(f *testing.F) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		f.Add(readDump(f))
	}
	f.Add(nlmsg(rtmNewNeigh, 0, 77, neighBody(afInet, nudReachable, ndaDst, []byte{1, 2, 3, 4}, ndaLLAddr, []byte{1, 2, 3, 4, 5, 6})))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, _, _ := parseNeighbors(b, 77, nil)
		for _, n := range list {
			if !n.Addr.IsValid() {
				t.Fatalf("entry with invalid address: %+v", n)
			}
		}
	})
}
