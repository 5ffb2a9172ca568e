package wirecache

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var t0 = time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)

// answer packs an answer to name/qtype with the given TTLs, as the server
// would send it.
func answer(tb testing.TB, name string, ttls ...uint32) []byte {
	tb.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	m := new(dns.Msg)
	m.SetReply(q)
	for i, ttl := range ttls {
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: strings.ToLower(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
			A:   net.IPv4(192, 0, 2, byte(i+1)),
		})
	}
	m.SetEdns0(1232, false)
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// keep offers an answer twice, as the doorkeeper wants before it stores.
func keep[M any](c *Cache[M], k *Key, wire []byte, meta M, now time.Time, valid time.Duration) bool {
	c.Store(k, wire, meta, now, valid, false)
	return c.Store(k, wire, meta, now, valid, false)
}

func wireName(tb testing.TB, name string) []byte {
	tb.Helper()
	b := make([]byte, 256)
	n, err := dns.PackDomainName(name, b, 0, nil, false)
	if err != nil {
		tb.Fatal(err)
	}
	return b[:n]
}

func key(tb testing.TB, subject string, version uint64, name string) *Key {
	return &Key{Subject: subject, Version: version, Name: wireName(tb, strings.ToLower(name)), Type: dns.TypeA, Flags: 1}
}

func TestReplay(t *testing.T) {
	c := New[string](64)
	k := key(t, "tablet", 7, "www.example.com.")
	if !keep(c, k, answer(t, "www.example.com.", 300, 60), "meta", t0, 0) {
		t.Fatal("not stored")
	}
	asked := wireName(t, "WwW.ExAmple.COM.")
	dst := make([]byte, 1232)
	n, name, meta, ok := c.Answer(dst, k, 0xbeef, asked, t0.Add(3500*time.Millisecond), 1232)
	if !ok || *meta != "meta" || name != "www.example.com." {
		t.Fatalf("no replay: ok %v, name %q", ok, name)
	}
	m := new(dns.Msg)
	if err := m.Unpack(dst[:n]); err != nil {
		t.Fatal(err)
	}
	if m.Id != 0xbeef {
		t.Errorf("ID %#x, want 0xbeef", m.Id)
	}
	if got := m.Question[0].Name; got != "WwW.ExAmple.COM." {
		t.Errorf("question %q, want the case asked", got)
	}
	if len(m.Answer) != 2 || m.Answer[0].Header().Ttl != 297 || m.Answer[1].Header().Ttl != 57 {
		t.Errorf("TTLs not aged by 3 s: %v", m.Answer)
	}
	if o := m.IsEdns0(); o == nil || o.UDPSize() != 1232 {
		t.Errorf("OPT changed: %v", o)
	}
}

func TestMisses(t *testing.T) {
	stored := key(t, "tablet", 7, "example.com.")
	wire := answer(t, "example.com.", 60)
	tests := []struct {
		name string
		k    *Key
		at   time.Duration
		max  int
	}{
		{"other subject", key(t, "laptop", 7, "example.com."), 0, 1232},
		{"other version", key(t, "tablet", 8, "example.com."), 0, 1232},
		{"other name", key(t, "tablet", 7, "example.org."), 0, 1232},
		{"other type", &Key{Subject: "tablet", Version: 7, Name: stored.Name, Type: dns.TypeAAAA, Flags: 1}, 0, 1232},
		{"other flags", &Key{Subject: "tablet", Version: 7, Name: stored.Name, Type: dns.TypeA, Flags: 3}, 0, 1232},
		{"expired", stored, 60 * time.Second, 1232},
		{"too big for the client", stored, 0, len(wire) - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New[int](64)
			keep(c, stored, wire, 1, t0, 0)
			dst := make([]byte, 1232)
			if _, _, _, ok := c.Answer(dst, tc.k, 1, tc.k.Name, t0.Add(tc.at), tc.max); ok {
				t.Error("replayed")
			}
			// The stored key itself still hits just before expiry.
			if _, _, _, ok := c.Answer(dst, stored, 1, stored.Name, t0.Add(59*time.Second), 1232); !ok {
				t.Error("stored key missed")
			}
		})
	}
}

func TestValidCapsLife(t *testing.T) {
	c := New[int](64)
	k := key(t, "kids", 1, "example.com.")
	keep(c, k, answer(t, "example.com.", 3600), 0, t0, 10*time.Second)
	dst := make([]byte, 1232)
	if _, _, _, ok := c.Answer(dst, k, 1, k.Name, t0.Add(9999*time.Millisecond), 1232); !ok {
		t.Error("missed within Valid")
	}
	if _, _, _, ok := c.Answer(dst, k, 1, k.Name, t0.Add(10*time.Second), 1232); ok {
		t.Error("replayed at the end of Valid (a schedule boundary)")
	}
}

func TestNotStored(t *testing.T) {
	good := answer(t, "example.com.", 60)
	trunc := bytes.Clone(good)
	trunc[2] |= 0x02
	tests := []struct {
		name string
		wire []byte
	}{
		{"zero TTL", answer(t, "example.com.", 60, 0)},
		{"no records", answer(t, "example.com.")},
		{"truncated", trunc},
		{"cut short", good[:len(good)-3]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"header only", good[:12]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New[int](64)
			k := key(t, "kids", 1, "example.com.")
			if keep(c, k, tc.wire, 0, t0, 0) {
				t.Error("stored")
			}
		})
	}
}

func TestDoorkeeper(t *testing.T) {
	c := New[int](64)
	k := key(t, "kids", 1, "example.com.")
	wire := answer(t, "example.com.", 300)
	dst := make([]byte, 1232)
	if c.Store(k, wire, 0, t0, 0, false) {
		t.Fatal("stored at first sight")
	}
	if _, _, _, ok := c.Answer(dst, k, 1, k.Name, t0, 1232); ok {
		t.Fatal("replayed an answer not stored")
	}
	if !c.Store(k, wire, 0, t0, 0, false) {
		t.Fatal("not stored at second sight")
	}
	if _, _, _, ok := c.Answer(dst, k, 1, k.Name, t0, 1232); !ok {
		t.Fatal("not replayed")
	}
	// Once a sixteenth of its bits are set, the doorkeeper forgets: the key
	// must be seen twice again.
	for i := uint64(0); ; i++ {
		c.door.admit(i << 32)
		if c.door.set.Load() == 0 {
			break // wiped
		}
		if i > uint64(len(c.door.bits))*64 {
			t.Fatal("never wiped")
		}
	}
	k2 := key(t, "kids", 2, "example.com.")
	if c.Store(k2, wire, 0, t0, 0, false) {
		t.Error("stored at first sight after the wipe")
	}
	// An answer known to have been asked before gets in at first sight.
	k3 := key(t, "kids", 3, "example.com.")
	if !c.Store(k3, wire, 0, t0, 0, true) {
		t.Fatal("a seen answer not stored at first sight")
	}
	if _, _, _, ok := c.Answer(dst, k3, 1, k3.Name, t0, 1232); !ok {
		t.Error("a seen answer not replayed")
	}
}

func TestNames(t *testing.T) {
	for _, n := range []string{".", "com.", "www.example.com.", "_dmarc.x-1.example."} {
		w := wireName(t, n)
		p, ok := presentation(w)
		if !ok || string(p) != n || !sameName(w, n) {
			t.Errorf("%q: presentation %q %v, sameName %v", n, p, ok, sameName(w, n))
		}
	}
	for _, n := range []string{`a\.b.example.`, "UPPER.example.", `sp\032ace.example.`} {
		if _, ok := presentation(wireName(t, n)); ok {
			t.Errorf("%q: taken", n)
		}
	}
	for _, pair := range [][2]string{{"www.example.com.", "www.example.co."}, {"a.b.", "ab."}, {"a.b.", "a.b.c."}, {".", "a."}} {
		if sameName(wireName(t, pair[0]), pair[1]) {
			t.Errorf("%q and %q the same", pair[0], pair[1])
		}
	}
}

func TestFourWays(t *testing.T) {
	// A table of four slots holds four names; a fifth evicts the one that
	// expires first.
	c := New[int](4)
	if c.Len() != 4 {
		t.Fatalf("%d slots", c.Len())
	}
	names := []string{"a.example.", "b.example.", "c.example.", "d.example."}
	var keys []*Key
	for i, n := range names {
		k := key(t, "s", 1, n)
		keys = append(keys, k)
		ttl := uint32(100)
		if i == 1 {
			ttl = 50
		}
		keep(c, k, answer(t, n, ttl), 0, t0, 0)
	}
	dst := make([]byte, 1232)
	for _, k := range keys {
		if _, _, _, ok := c.Answer(dst, k, 1, k.Name, t0, 1232); !ok {
			t.Fatalf("%s missed", k.Name)
		}
	}
	e := key(t, "s", 1, "e.example.")
	keep(c, e, answer(t, "e.example.", 100), 0, t0, 0)
	if _, _, _, ok := c.Answer(dst, keys[1], 1, keys[1].Name, t0, 1232); ok {
		t.Error("the entry expiring first was kept")
	}
	for _, k := range []*Key{keys[0], keys[2], keys[3], e} {
		if _, _, _, ok := c.Answer(dst, k, 1, k.Name, t0, 1232); !ok {
			t.Errorf("%s missed", k.Name)
		}
	}
}

func TestAnswerAllocs(t *testing.T) {
	c := New[int](64)
	k := key(t, "kids", 1, "example.com.")
	keep(c, k, answer(t, "example.com.", 300), 0, t0, 0)
	dst := make([]byte, 1232)
	at := t0.Add(2 * time.Second)
	if n := testing.AllocsPerRun(100, func() { c.Answer(dst, k, 1, k.Name, at, 1232) }); n != 0 {
		t.Errorf("%v allocations per replay, want 0", n)
	}
}

func BenchmarkAnswer(b *testing.B) {
	c := New[int](1 << 16)
	k := key(b, "kids", 1, "www.example.com.")
	keep(c, k, answer(b, "www.example.com.", 300, 300), 0, t0, 0)
	dst := make([]byte, 1232)
	at := t0.Add(2 * time.Second)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok := c.Answer(dst, k, 1, k.Name, at, 1232); !ok {
			b.Fatal("miss")
		}
	}
}

// TestNewEntry: every length gets a buffer of exactly that length that
// overwrites nothing of its entry, inline or not.
func TestNewEntry(t *testing.T) {
	for n := 1; n <= 600; n++ {
		e := newEntry[[2]uint64](n)
		e.hash, e.meta = 0x1234, [2]uint64{5, 6}
		if len(e.buf) != n || cap(e.buf) != n {
			t.Fatalf("n %d: len %d cap %d", n, len(e.buf), cap(e.buf))
		}
		for i := range e.buf {
			e.buf[i] = 0xff
		}
		if e.hash != 0x1234 || e.meta != [2]uint64{5, 6} {
			t.Fatalf("n %d: the buffer overlaps its entry", n)
		}
	}
}

// TestConcurrent stores and replays many names at once in a table much
// smaller than them, so that stores race on the same slots and tags:
// every replay must still be the answer of the name asked.
func TestConcurrent(t *testing.T) {
	c := New[int](16)
	const names = 200
	keys := make([]*Key, names)
	wires := make([][]byte, names)
	for i := range names {
		n := fmt.Sprintf("n%d.example.", i)
		keys[i], wires[i] = key(t, "s", 1, n), answer(t, n, uint32(100+i))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, 1232)
			for r := range 3000 {
				i := (r*7 + g*31) % names
				if r%3 == 0 {
					c.Store(keys[i], wires[i], i, t0, 0, true)
					continue
				}
				n, _, meta, ok := c.Answer(dst, keys[i], 9, keys[i].Name, t0, 1232)
				if !ok {
					continue
				}
				want := append([]byte(nil), wires[i]...)
				want[0], want[1] = 0, 9
				if *meta != i || !bytes.Equal(dst[:n], want) {
					select {
					case errs <- fmt.Sprintf("asked %s, got the answer stored for %d", keys[i].Name, *meta):
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkAnswerLarge replays names at random from a working set larger
// than the processor's caches, as the mix workload does: what it measures
// is mostly waits on memory.
func BenchmarkAnswerLarge(b *testing.B) {
	const names = 200_000
	c := New[int](1 << 19)
	keys := make([]*Key, names)
	for i := range names {
		n := fmt.Sprintf("n%d.example.", i)
		keys[i] = key(b, "kids", 1, n)
		c.Store(keys[i], answer(b, n, 300), i, t0, 0, true)
	}
	dst := make([]byte, 1232)
	at := t0.Add(2 * time.Second)
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int32, 1<<16)
	for i := range order {
		order[i] = int32(rng.IntN(names))
	}
	hits := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := keys[order[i&(len(order)-1)]]
		if _, _, _, ok := c.Answer(dst, k, 1, k.Name, at, 1232); ok {
			hits++
		}
	}
	b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
}

// TestDoorkeeperRace offers each new key from two goroutines at once:
// exactly one of the two offers must be told the key was seen, or a name
// asked twice at once would never be kept.
func TestDoorkeeperRace(t *testing.T) {
	d := newDoorkeeper(1 << 20)
	const keys = 20000
	var seen [2][keys]bool
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range keys {
				seen[g][i] = d.admit(uint64(i) << 32)
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range keys {
		if seen[0][i] == seen[1][i] {
			t.Fatalf("key %d: both offers saw %v, want exactly one seen", i, seen[0][i])
		}
	}
}
