package blocklist

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// builderRule is one rule fed to a builder in these tests.
type builderRule struct {
	origin int
	name   string
	flags  uint8
}

// randomRules returns rules over few labels, so that names repeat within
// and across origins, with every kind and flag, many sharing prefixes.
func randomRules(r *rand.Rand, n, origins int) []builderRule {
	labels := []string{"a", "b", "ads", "cdn", "com", "example", "x-1", "_srv", "tracker", "www"}
	rules := make([]builderRule, n)
	for i := range rules {
		var sb strings.Builder
		for j := range 2 + r.IntN(4) {
			if j > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(labels[r.IntN(len(labels))])
		}
		rules[i] = builderRule{origin: r.IntN(origins), name: sb.String(), flags: uint8(r.IntN(3)) | uint8(r.IntN(4))<<2}
	}
	return rules
}

// buildRules feeds rules to a builder with the given chunk size, source by
// source (origin o is category "c<o>", source "s<o>").
func buildRules(rules []builderRule, origins, chunkSize int) *Matcher {
	return buildWith(rules, origins, func(b *matcherBuilder) { b.keys.chunkSize = chunkSize })
}

// buildWith builds rules as buildRules does, with set changing the builder
// first.
func buildWith(rules []builderRule, origins int, set func(b *matcherBuilder)) *Matcher {
	b := newMatcherBuilder()
	set(b)
	for o := range origins {
		if err := b.source(fmt.Sprintf("c%d", o), fmt.Sprintf("s%d", o)); err != nil {
			panic(err)
		}
		for _, r := range rules {
			if r.origin == o {
				b.addRule([]byte(r.name), Kind(r.flags&factKind), r.flags&factAllow != 0, r.flags&factImportant != 0, 0)
			}
		}
	}
	return b.finish()
}

// TestBuilderRuns checks the sorted runs and their merge against a map, for
// chunk sizes that make one run or hundreds: the result must be the same
// set of names with the same facts, byte for byte whatever the chunking,
// and written into slices of exactly their size.
func TestBuilderRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const origins = 3
	rules := randomRules(r, 20_000, origins)
	want := map[string][]nameFact{}
	for _, rl := range rules {
		f := nameFact(rl.origin)<<8 | nameFact(rl.flags)
		if !slices.Contains(want[rl.name], f) {
			want[rl.name] = append(want[rl.name], f)
		}
	}
	var first *Matcher
	for _, size := range []int{256, 1000, 4096, 64 << 10, 0} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			m := buildRules(rules, origins, size)
			if m.Len() != len(want) {
				t.Fatalf("Len() = %d, want %d", m.Len(), len(want))
			}
			for name, facts := range want {
				slices.Sort(facts)
				if got, ok := m.factsOf(name); !ok || !slices.Equal(got, facts) {
					t.Fatalf("factsOf(%q) = %v %v, want %v", name, got, ok, facts)
				}
			}
			for i, seg := range m.names.segs {
				if cap(seg.data) != len(seg.data) || cap(seg.starts) != len(seg.starts) || cap(seg.heads) != len(seg.heads) {
					t.Errorf("segment %d: slices not sized exactly: data %d/%d, starts %d/%d, heads %d/%d", i,
						len(seg.data), cap(seg.data), len(seg.starts), cap(seg.starts), len(seg.heads), cap(seg.heads))
				}
			}
			if first == nil {
				first = m
				return
			}
			if !sameSegments(m, first) || !slices.Equal(m.facts, first.facts) ||
				!slices.Equal(m.comboEnd, first.comboEnd) || !slices.Equal(m.names.filter.words, first.names.filter.words) {
				t.Error("matcher differs from the one built with the first chunk size")
			}
		})
	}
}

// TestBuilderAbort drops a source whose rules already fill several runs,
// and then its patterns, keeping its category and the other sources.
func TestBuilderAbort(t *testing.T) {
	b := newMatcherBuilder()
	b.keys.chunkSize = 256
	add := func(names ...string) {
		for _, n := range names {
			b.addRule([]byte(n), Subtree, false, false, 0)
		}
	}
	many := func(prefix string) []string {
		var names []string
		for i := range 100 {
			names = append(names, fmt.Sprintf("%s%d.example", prefix, i))
		}
		return names
	}
	mustSource := func(cat, src string) {
		if err := b.source(cat, src); err != nil {
			t.Fatal(err)
		}
	}
	mustSource("keep", "one")
	add(many("kept")...)
	mustSource("broken", "two")
	add(many("dropped")...)
	b.addPatterns([]Pattern{{Text: "/dropped/", Re: regexp.MustCompile("dropped")}})
	b.abort()
	add("again.example") // a second pass of the same source
	mustSource("keep", "three")
	add("late.example")
	m := b.finish()

	if got := m.Categories(); !slices.Equal(got, []string{"keep", "broken"}) {
		t.Errorf("Categories() = %v", got)
	}
	if m.Len() != 102 || len(m.patterns) != 0 {
		t.Errorf("Len() = %d, patterns %d; want 102 names, no pattern", m.Len(), len(m.patterns))
	}
	all := ^uint64(0)
	for name, blocked := range map[string]bool{
		"kept7.example": true, "dropped7.example": false, "again.example": true, "late.example": true,
	} {
		if got := m.Lookup(name, all).Blocked; got != blocked {
			t.Errorf("Lookup(%s).Blocked = %v, want %v", name, got, blocked)
		}
	}
	if v := m.Lookup("again.example", all); v.Category != "broken" || v.Rule.Source != "two" {
		t.Errorf("Lookup(again.example) = %+v, want category broken, source two", v)
	}
}

// factsOf returns the facts stored for name, and whether it is stored.
func (m *Matcher) factsOf(name string) ([]nameFact, bool) {
	key := appendKey(nil, name)
	id, ok := m.find(key, keyHash(fnvOffset, key))
	if !ok || m.comboLen(id) == 0 {
		return nil, false
	}
	return m.combo(id), true
}

// sameSegments reports whether a and b hold the same bytes in the same
// segments.
func sameSegments(a, b *Matcher) bool {
	if len(a.names.segs) != len(b.names.segs) || !slices.Equal(a.names.heads, b.names.heads) {
		return false
	}
	for i := range a.names.segs {
		if !slices.Equal(a.names.segs[i].data, b.names.segs[i].data) || a.names.segs[i].n != b.names.segs[i].n {
			return false
		}
	}
	return true
}
