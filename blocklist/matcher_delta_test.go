package blocklist

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// matcherNames returns every name of m with its facts, as eachName gives
// them.
func matcherNames(m *Matcher) map[string][]nameFact {
	names := map[string][]nameFact{}
	m.eachName(func(key []byte, id uint32) {
		names[string(key)] = slices.Clone(m.combo(id))
	})
	return names
}

// sameAnswers fails unless got holds the same names with the same facts
// as want, in key order, and decides every name (and a name below each) the
// same way.
func sameAnswers(tb testing.TB, got, want *Matcher) {
	tb.Helper()
	if got.Len() != want.Len() {
		tb.Fatalf("Len() = %d, want %d", got.Len(), want.Len())
	}
	var prev []byte
	n := 0
	got.eachName(func(key []byte, _ uint32) {
		if prev != nil && string(prev) >= string(key) {
			tb.Fatalf("eachName: %q after %q", key, prev)
		}
		prev = append(prev[:0], key...)
		n++
	})
	if n != got.Len() {
		tb.Fatalf("eachName gave %d names, Len() = %d", n, got.Len())
	}
	gn, wn := matcherNames(got), matcherNames(want)
	for k, facts := range wn {
		if !slices.Equal(gn[k], facts) {
			tb.Fatalf("key %q: facts %v, want %v", k, gn[k], facts)
		}
	}
	if len(gn) != len(wn) {
		tb.Fatalf("%d names, want %d", len(gn), len(wn))
	}
	i := 0
	for k := range wn {
		if i++; i%7 != 0 {
			continue // a sample is enough, and much faster
		}
		name := nameOfKey(k)
		for _, q := range []string{name, "x." + name} {
			if g, w := got.Lookup(q, ^uint64(0)), want.Lookup(q, ^uint64(0)); g != w {
				tb.Fatalf("Lookup(%s) = %+v, want %+v", q, g, w)
			}
			if g, w := got.Explain(q), want.Explain(q); !slices.Equal(g, w) {
				tb.Fatalf("Explain(%s) = %+v, want %+v", q, g, w)
			}
		}
	}
}

// nameOfKey turns a key back into its name.
func nameOfKey(key string) string {
	labels := strings.Split(key, string(rune(keySep)))
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// deltaRules feeds rules to a deltaBuilder over old as a Store would: the
// origins in changed are parsed again from rules.
func deltaRules(old *Matcher, rules []builderRule, origins int, changed []bool) *Matcher {
	d := newDeltaBuilder(old, changed)
	var cats []string
	var table []listOrigin
	for o := range origins {
		cats = append(cats, fmt.Sprintf("c%d", o))
		table = append(table, listOrigin{cat: uint8(o), source: fmt.Sprintf("s%d", o)})
		if !changed[o] {
			continue
		}
		d.source(o)
		for _, r := range rules {
			if r.origin == o {
				d.addRule([]byte(r.name), Kind(r.flags&factKind), r.flags&factAllow != 0, r.flags&factImportant != 0, 0)
			}
		}
	}
	return d.finish(cats, table, nil)
}

// mutate returns rules with some of origin o's rules dropped, some
// changed in flags, and new ones.
func mutate(r *rand.Rand, rules []builderRule, o int) []builderRule {
	var out []builderRule
	for _, rl := range rules {
		if rl.origin == o {
			switch r.IntN(10) {
			case 0:
				continue
			case 1:
				rl.flags ^= factAllow
			}
		}
		out = append(out, rl)
	}
	for _, rl := range randomRules(r, 300, 1) {
		rl.origin = o
		rl.name = "new." + rl.name
		out = append(out, rl)
	}
	return out
}

// TestDeltaBuild changes the rules of some origins, adds one and drops
// one, and checks that the Matcher made from the old one answers exactly
// as a full build over the new rules, with its overlay and after each step
// of the compaction.
func TestDeltaBuild(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const origins = 4
	rules := randomRules(r, 8_000, origins)
	for _, tc := range []struct {
		name     string
		origins  int    // after the change
		changed  []bool // by origin after the change
		mutateOf []int  // origins whose rules change
	}{
		{"nothing", origins, []bool{false, false, false, false}, nil},
		{"same rules parsed again", origins, []bool{false, true, false, false}, nil},
		{"one origin", origins, []bool{false, true, false, false}, []int{1}},
		{"two origins", origins, []bool{true, false, false, true}, []int{0, 3}},
		{"origin added", origins + 1, []bool{false, false, false, false, true}, []int{4}},
		{"last origin dropped", origins - 1, []bool{false, false, false}, nil},
		{"every origin emptied", origins, []bool{true, true, true, true}, []int{-1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := buildRulesLimit(rules, origins, 1<<10)
			now := slices.Clone(rules)
			for _, o := range tc.mutateOf {
				if o < 0 {
					now = nil
					continue
				}
				now = mutate(r, now, o)
			}
			now = slices.DeleteFunc(now, func(rl builderRule) bool { return rl.origin >= tc.origins })
			want := buildRulesLimit(now, tc.origins, 1<<10)
			m := deltaRules(old, now, tc.origins, tc.changed)
			sameAnswers(t, m, want)
			steps := 0
			final := compact(m, 1<<10, func(p *Matcher) {
				steps++
				sameAnswers(t, p, want)
			})
			if final.over != nil {
				t.Fatal("overlay left after compact")
			}
			sameAnswers(t, final, want)
			if m.over != nil && steps == 0 {
				t.Error("compact published nothing")
			}
			for i, s := range final.names.segs {
				if s.n == 0 || len(s.data) > 1<<10+2*maxKeyLen {
					t.Errorf("segment %d: %d names, %d bytes", i, s.n, len(s.data))
				}
			}
			t.Logf("overlay %d names, %d segments before, %d after, %d steps", overLen(m), len(m.names.segs), len(final.names.segs), steps)
		})
	}
}

func overLen(m *Matcher) int {
	if m.over == nil {
		return 0
	}
	return m.over.n
}

// buildRulesLimit is buildRules with segments of at most limit bytes.
func buildRulesLimit(rules []builderRule, origins, limit int) *Matcher {
	return buildWith(rules, origins, func(b *matcherBuilder) { b.segBytes = limit })
}

// TestDeltaAbort drops a source half-way through its rules.
func TestDeltaAbort(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	rules := randomRules(r, 5_000, 2)
	old := buildRulesLimit(rules, 2, 1<<10)
	d := newDeltaBuilder(old, []bool{false, true})
	d.source(1)
	for i, rl := range rules {
		if rl.origin == 1 && i%2 == 0 {
			d.addRule([]byte("gone."+rl.name), Subtree, false, false, 0)
			d.addRule([]byte(rl.name), Exact, true, false, 0)
		}
	}
	d.abort()
	d.addRule([]byte("kept.example"), Subtree, false, false, 0)
	m := d.finish([]string{"c0", "c1"}, []listOrigin{{0, "s0"}, {1, "s1"}}, nil)
	kept := slices.DeleteFunc(slices.Clone(rules), func(rl builderRule) bool { return rl.origin == 1 })
	kept = append(kept, builderRule{origin: 1, name: "kept.example"})
	sameAnswers(t, m, buildRulesLimit(kept, 2, 1<<10))
}
