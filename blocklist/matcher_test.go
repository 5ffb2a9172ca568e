package blocklist

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// testInput parses text as one list of category cat and source src.
func testInput(tb testing.TB, cat, src, text string, opt ParseOptions) Input {
	tb.Helper()
	return Input{Category: cat, Source: src, List: mustParse(tb, text, opt)}
}

func semanticsMatcher(tb testing.TB) *Matcher {
	tb.Helper()
	m, err := NewMatcher([]Input{
		testInput(tb, "ads", "ads1", strings.Join([]string{
			"||example.com^",
			"||ads.example.org^",
			"*.wild.example",
			"||tracker.example.net^",
			`/^ad[0-9]+\.pattern\.example$/`,
			"||cdn-*.globs.example^",
		}, "\n"), ParseOptions{}),
		testInput(tb, "ads", "ads-exact", "exact.example\n", ParseOptions{Exact: true}),
		testInput(tb, "malware", "mal1", "||evil.example^$important\n||sub.example.com^\n||deep.a.example.org^\n", ParseOptions{}),
		testInput(tb, "allow", "allow1", strings.Join([]string{
			"@@||ads.example.com^",
			"@@||example.org^",
			"@@||sub.evil.example^",
			`@@/^ad7\.pattern\.example$/`,
			"@@||forced1.example^",
		}, "\n"), ParseOptions{}),
		testInput(tb, "social", "soc", "||social.example^\n||tracker.example.net^\n", ParseOptions{}),
		testInput(tb, "vip", "vip", "@@||vip.evil.example^$important\n", ParseOptions{}),
		testInput(tb, "strict", "strict", "||forced*.example^$important\n", ParseOptions{}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func blockedBy(cat, src, name string, kind Kind) Verdict {
	return Verdict{Blocked: true, Category: cat, Rule: Ref{Source: src, Name: name, Kind: kind}}
}

func allowedBy(cat, src, name string) Verdict {
	return Verdict{Category: cat, Rule: Ref{Source: src, Name: name, Allow: true}}
}

func TestMatcherLookup(t *testing.T) {
	m := semanticsMatcher(t)
	all := ^uint64(0)
	patternBlock := blockedBy("ads", "ads1", `/^ad[0-9]+\.pattern\.example$/`, Subtree)
	patternBlock.Rule.Pattern = true
	globBlock := blockedBy("ads", "ads1", "||cdn-*.globs.example^", Subtree)
	globBlock.Rule.Pattern = true
	patternAllow := allowedBy("allow", "allow1", `@@/^ad7\.pattern\.example$/`)
	patternAllow.Rule.Pattern = true
	forced := blockedBy("strict", "strict", "||forced*.example^$important", Subtree)
	forced.Rule.Pattern = true

	for _, tc := range []struct {
		name   string
		active uint64
		want   Verdict
	}{
		{"example.com", all, blockedBy("ads", "ads1", "example.com", Subtree)},
		{"www.example.com", all, blockedBy("ads", "ads1", "example.com", Subtree)},
		{"example.com.", all, blockedBy("ads", "ads1", "example.com", Subtree)},
		{"notexample.com", all, Verdict{}},
		{"com", all, Verdict{}},
		// An exception at least as specific as the block wins…
		{"ads.example.com", all, allowedBy("allow", "allow1", "ads.example.com")},
		{"x.ads.example.com", all, allowedBy("allow", "allow1", "ads.example.com")},
		// …a less specific one does not.
		{"ads.example.org", all, blockedBy("ads", "ads1", "ads.example.org", Subtree)},
		{"deep.a.example.org", all, blockedBy("malware", "mal1", "deep.a.example.org", Subtree)},
		// An exception with nothing to lift decides nothing.
		{"other.example.org", all, Verdict{}},
		// The most specific block decides.
		{"sub.example.com", all, blockedBy("malware", "mal1", "sub.example.com", Subtree)},
		{"sub.example.com", m.Mask("ads"), blockedBy("ads", "ads1", "example.com", Subtree)},
		{"wild.example", all, Verdict{}},
		{"a.wild.example", all, blockedBy("ads", "ads1", "wild.example", Below)},
		{"a.b.wild.example", all, blockedBy("ads", "ads1", "wild.example", Below)},
		{"exact.example", all, blockedBy("ads", "ads-exact", "exact.example", Exact)},
		{"www.exact.example", all, Verdict{}},
		// Important blocks beat exceptions, important exceptions beat them.
		{"evil.example", all, blockedBy("malware", "mal1", "evil.example", Subtree)},
		{"sub.evil.example", all, blockedBy("malware", "mal1", "evil.example", Subtree)},
		{"vip.evil.example", all, allowedBy("vip", "vip", "vip.evil.example")},
		{"forced1.example", all, forced},
		{"forced1.example", m.Mask("allow"), Verdict{}},
		// Categories: blocks count only when active; ties go to the
		// category that came first.
		{"example.com", m.Mask("malware", "social"), Verdict{}},
		{"ads.example.com", m.Mask("malware"), Verdict{}},
		{"tracker.example.net", all, blockedBy("ads", "ads1", "tracker.example.net", Subtree)},
		{"tracker.example.net", m.Mask("social"), blockedBy("social", "soc", "tracker.example.net", Subtree)},
		{"tracker.example.net", 0, Verdict{}},
		// Patterns.
		{"ad12.pattern.example", all, patternBlock},
		{"ad12.pattern.example", m.Mask("malware"), Verdict{}},
		{"ad7.pattern.example", all, patternAllow},
		{"cdn-1.globs.example", all, globBlock},
		{"x.cdn-1.globs.example", all, globBlock},
		{"cdn.globs.example", all, Verdict{}},
		// Odd input.
		{"", all, Verdict{}},
		{".", all, Verdict{}},
		{"..example.com", all, blockedBy("ads", "ads1", "example.com", Subtree)},
		{strings.Repeat("a.", 200) + "example.com", all, blockedBy("ads", "ads1", "example.com", Subtree)},
		{strings.Repeat("a.", 200) + "example.net", all, Verdict{}},
		{strings.Repeat("a.", 120) + "example.com", all, blockedBy("ads", "ads1", "example.com", Subtree)},
	} {
		t.Run(fmt.Sprintf("%s/%x", tc.name, tc.active), func(t *testing.T) {
			if got := m.Lookup(tc.name, tc.active); got != tc.want {
				t.Errorf("Lookup(%q, %b)\n got %+v\nwant %+v", tc.name, tc.active, got, tc.want)
			}
		})
	}
}

func TestMatcherExplain(t *testing.T) {
	m := semanticsMatcher(t)
	hit := func(cat, src, name string, kind Kind, allow, pattern bool) Hit {
		return Hit{Category: cat, Ref: Ref{Source: src, Name: name, Kind: kind, Allow: allow, Pattern: pattern}}
	}
	for _, tc := range []struct {
		name string
		want []Hit
	}{
		{"sub.example.com", []Hit{hit("malware", "mal1", "sub.example.com", Subtree, false, false),
			hit("ads", "ads1", "example.com", Subtree, false, false)}},
		{"x.ads.example.com.", []Hit{hit("allow", "allow1", "ads.example.com", Subtree, true, false),
			hit("ads", "ads1", "example.com", Subtree, false, false)}},
		{"ad7.pattern.example", []Hit{hit("ads", "ads1", `/^ad[0-9]+\.pattern\.example$/`, Subtree, false, true),
			hit("allow", "allow1", `@@/^ad7\.pattern\.example$/`, Subtree, true, true)}},
		{"wild.example", []Hit{}},
		{"tracker.example.net", []Hit{hit("ads", "ads1", "tracker.example.net", Subtree, false, false),
			hit("social", "soc", "tracker.example.net", Subtree, false, false)}},
	} {
		if got := m.Explain(tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("Explain(%q)\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestMatcherCategories(t *testing.T) {
	m := semanticsMatcher(t)
	want := []string{"ads", "malware", "allow", "social", "vip", "strict"}
	if got := m.Categories(); !slices.Equal(got, want) {
		t.Errorf("Categories() = %v, want %v", got, want)
	}
	if got := m.Mask("social", "nope", "ads"); got != 0b1001 {
		t.Errorf("Mask = %b, want 1001", got)
	}
	// tracker.example.net is in two lists and counts once.
	if got := m.Len(); got != 14 {
		t.Errorf("Len() = %d, want 14", got)
	}
	var nilMatcher *Matcher
	if nilMatcher.Lookup("example.com", 1) != (Verdict{}) || nilMatcher.Len() != 0 || nilMatcher.Explain("x") != nil {
		t.Error("nil Matcher does not behave as an empty one")
	}
}

func TestNewMatcherErrors(t *testing.T) {
	many := make([]Input, 65)
	for i := range many {
		many[i] = Input{Category: fmt.Sprint("c", i), Source: "s"}
	}
	bad := func(r Rule) []Input { return []Input{{Category: "c", Source: "s", List: &List{Rules: []Rule{r}}}} }
	for _, tc := range []struct {
		name string
		in   []Input
		want string
	}{
		{"65 categories", many, "more than 64 categories"},
		{"empty category", []Input{{Source: "s"}}, "empty category"},
		{"upper case", bad(Rule{Name: "Example.com"}), "not lower case"},
		{"single label", bad(Rule{Name: "com"}), reasonSingleLabel},
		{"bad kind", bad(Rule{Name: "example.com", Kind: 7}), "unknown kind"},
		{"pattern without regexp", []Input{{Category: "c", List: &List{Patterns: []Pattern{{Text: "x"}}}}}, "no regexp"},
	} {
		if _, err := NewMatcher(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
	m, err := NewMatcher(many[:64])
	if err != nil || len(m.Categories()) != 64 || m.Mask("c63") != 1<<63 {
		t.Errorf("64 categories: %v, %v", err, m)
	}
	if m.Lookup("a.example", ^uint64(0)) != (Verdict{}) {
		t.Error("empty matcher blocks")
	}
}

func TestMatcherLookupDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race: regexp's pooled machines are dropped at random")
	}
	m := semanticsMatcher(t)
	for _, name := range []string{"www.example.com", "ads.example.com.", "ad12.pattern.example",
		"ad7.pattern.example", "forced1.example", "nothing.here.example", strings.Repeat("a.", 200) + "x"} {
		if n := testing.AllocsPerRun(100, func() { m.Lookup(name, ^uint64(0)) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %.0f times", name, n)
		}
	}
}
