package blocklist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestAppendKey(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"com", "com"},
		{"example.com", "com\x01example"},
		{"www.example.com", "com\x01example\x01www"},
		{"a.b.c.d", "d\x01c\x01b\x01a"},
	} {
		if got := string(appendKey(nil, tc.name)); got != tc.want {
			t.Errorf("appendKey(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// buildSet returns a set over keys (sorted and deduplicated here) whose
// payload is each key's index.
func buildSet(keys []string) (nameSet, []string) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var b setBuilder
	for i, k := range keys {
		b.add([]byte(k), uint32(i))
	}
	return b.finish(), keys
}

// randomKeys returns keys drawn from a small alphabet so that they share
// long prefixes, many are prefixes of others, and several blocks start with
// the same 8 bytes.
func randomKeys(r *rand.Rand, n int) []string {
	const alphabet = "ab\x01"
	keys := make([]string, n)
	for i := range keys {
		var sb strings.Builder
		sb.WriteString("commonprefix"[:r.IntN(13)])
		for range 1 + r.IntN(12) {
			sb.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		keys[i] = sb.String()
	}
	return keys
}

func TestNameSetFind(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, setBlockSize - 1, setBlockSize, setBlockSize + 1, 1000, 5000} {
		s, keys := buildSet(randomKeys(r, n))
		if s.Len() != len(keys) {
			t.Fatalf("n=%d: Len = %d, want %d", n, s.Len(), len(keys))
		}
		present := make(map[string]uint32, len(keys))
		for i, k := range keys {
			present[k] = uint32(i)
		}
		probes := randomKeys(r, 3*n+10)
		probes = append(probes, keys...)
		probes = append(probes, "", "\x00", "\xff", "zzzzzzzzzzzzzzzz")
		for _, k := range keys {
			probes = append(probes, k+"a", k+"\x00", k[:len(k)/2])
		}
		for _, p := range probes {
			got, ok := s.find([]byte(p))
			want, wantOK := present[p]
			if ok != wantOK || got != want {
				t.Fatalf("n=%d: find(%q) = %d, %v; want %d, %v", n, p, got, ok, want, wantOK)
			}
		}
		var each []string
		s.each(func(key []byte, payload uint32) {
			if int(payload) != len(each) {
				t.Fatalf("each: payload %d at position %d", payload, len(each))
			}
			each = append(each, string(key))
		})
		if !slices.Equal(each, keys) {
			t.Fatalf("n=%d: each returned %d keys, want %d in order", n, len(each), len(keys))
		}
	}
}

// TestNameSetPayloads checks payloads that need several uvarint bytes.
func TestNameSetPayloads(t *testing.T) {
	var b setBuilder
	payloads := []uint32{0, 127, 128, 16383, 16384, 1<<32 - 1}
	for i, p := range payloads {
		b.add([]byte{'a', byte('a' + i)}, p)
	}
	s := b.finish()
	for i, want := range payloads {
		if got, ok := s.find([]byte{'a', byte('a' + i)}); !ok || got != want {
			t.Errorf("find(%d) = %d, %v; want %d", i, got, ok, want)
		}
	}
}

func TestNameSetFrontCoding(t *testing.T) {
	keys := []string{"com\x01example", "com\x01example\x01ads", "com\x01example\x01www", "com\x01examples"}
	var b setBuilder
	for i, k := range keys {
		b.add([]byte(k), uint32(min(i, 1)))
	}
	s := b.finish()
	// One block: a header byte per entry, the payload 1 of the second (the
	// first has 0, and the others repeat their predecessor's), and the
	// suffixes: the whole first key, then "\x01ads", "www", "s".
	want := 4 + 1 + len(keys[0]) + 4 + 3 + 1
	if len(s.data) != want {
		t.Errorf("data is %d bytes, want %d: %q", len(s.data), want, s.data)
	}
	if !bytes.Contains(s.data, []byte{entryStart | byte(len("com\x01example\x01")), 'w', 'w', 'w'}) {
		t.Errorf("www entry not front-coded against its predecessor: %q", s.data)
	}
}

// TestNameSetLongShared stores keys sharing more than the header can say.
func TestNameSetLongShared(t *testing.T) {
	long := strings.Repeat("a", 100)
	keys := []string{long, long + "b", long + "bc", long + "c"}
	var b setBuilder
	for i, k := range keys {
		b.add([]byte(k), uint32(i%2))
	}
	s := b.finish()
	for i, k := range keys {
		if got, ok := s.find([]byte(k)); !ok || got != uint32(i%2) {
			t.Errorf("find(%d) = %d, %v; want %d", i, got, ok, i%2)
		}
	}
	if _, ok := s.find([]byte(long + "bb")); ok {
		t.Error("found an absent key")
	}
}

func TestKeyFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	keys := randomKeys(r, 20000)
	_, keys = buildSet(keys)
	f := newKeyFilterSized(len(keys))
	for _, k := range keys {
		f.add(keyHash(fnvOffset, []byte(k)))
	}
	present := make(map[string]bool)
	for _, k := range keys {
		present[k] = true
		if !f.mayContain(keyHash(fnvOffset, []byte(k))) {
			t.Fatalf("filter rejects stored key %q", k)
		}
	}
	passed, absent := 0, 0
	for range 100000 {
		k := fmt.Sprint(r.Uint64())
		if present[k] {
			continue
		}
		absent++
		if f.mayContain(keyHash(fnvOffset, []byte(k))) {
			passed++
		}
	}
	if rate := float64(passed) / float64(absent); rate > 0.06 {
		t.Errorf("filter passes %.1f%% of absent keys, want about 3%%", 100*rate)
	}
	if (keyFilter{}).mayContain(1) != true {
		t.Error("empty filter rejects a key")
	}
}

// TestHeadPrefixOrder checks that headPrefix never orders two keys
// against bytes.Compare, and tells apart keys of name bytes that differ
// in their first 10 bytes.
func TestHeadPrefixOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const nameBytes = "\x01-09_az"
	var keys [][]byte
	for range 3000 {
		k := make([]byte, r.IntN(14))
		for i := range k {
			if r.IntN(10) == 0 {
				k[i] = byte(r.IntN(256)) // a lookup key may hold anything
			} else {
				k[i] = nameBytes[r.IntN(len(nameBytes))]
			}
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, bytes.Compare)
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		pa, pb := headPrefix(a), headPrefix(b)
		if pa > pb {
			t.Fatalf("headPrefix(%q) = %x > headPrefix(%q) = %x", a, pa, b, pb)
		}
		names := !bytes.ContainsFunc(a, func(c rune) bool { return !strings.ContainsRune(nameBytes, c) }) &&
			!bytes.ContainsFunc(b, func(c rune) bool { return !strings.ContainsRune(nameBytes, c) })
		if names && pa == pb && !bytes.Equal(a[:min(len(a), headChars)], b[:min(len(b), headChars)]) {
			t.Fatalf("headPrefix ties %q and %q", a, b)
		}
	}
}

// TestChunkSort sorts chunks of keys that often tie in their first 10
// bytes, with duplicates and several flags per key, against a comparison
// sort.
func TestChunkSort(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{1, 2, 31, 33, 200, 5000} {
		var kr keyRuns
		kr.chunkSize = 1 << 30
		for range n {
			name := "www.example" + strings.Repeat("x", r.IntN(3)) + ".com"
			if r.IntN(2) == 0 {
				name = fmt.Sprintf("h%d.%s", r.IntN(n), name)
			}
			addKey(&kr, name, uint8(r.IntN(3)))
		}
		want := slices.Clone(kr.recs)
		slices.SortStableFunc(want, func(a, b chunkRec) int {
			if c := bytes.Compare(kr.key(a.off), kr.key(b.off)); c != 0 {
				return c
			}
			return int(kr.chunk[a.off+1]) - int(kr.chunk[b.off+1])
		})
		kr.sort()
		for i := range want {
			a, b := want[i], kr.recs[i]
			if !bytes.Equal(kr.key(a.off), kr.key(b.off)) || kr.chunk[a.off+1] != kr.chunk[b.off+1] {
				t.Fatalf("n=%d: entry %d is %q/%d, want %q/%d", n, i, kr.key(b.off), kr.chunk[b.off+1], kr.key(a.off), kr.chunk[a.off+1])
			}
		}
	}
}
