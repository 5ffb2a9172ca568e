package blocklist

import (
	"bufio"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wantPattern describes a Pattern a case expects, and names it must and must
// not match.
type wantPattern struct {
	text             string
	allow, important bool
	match, miss      []string
}

type parseCase struct {
	name     string
	in       string
	opt      ParseOptions
	rules    []Rule
	patterns []wantPattern
	skipped  map[string]int
	comments int
}

func ruleSub(name string, line int) Rule   { return Rule{Name: name, Kind: Subtree, Line: line} }
func ruleExact(name string, line int) Rule { return Rule{Name: name, Kind: Exact, Line: line} }
func ruleBelow(name string, line int) Rule { return Rule{Name: name, Kind: Below, Line: line} }
func asAllow(r Rule) Rule                  { r.Allow = true; return r }
func asImportant(r Rule) Rule              { r.Important = true; return r }

func mustParse(tb testing.TB, text string, opt ParseOptions) *List {
	tb.Helper()
	l, err := Parse(strings.NewReader(text), opt)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	checkListInvariants(tb, l)
	return l
}

// checkListInvariants checks what every parse result must satisfy.
func checkListInvariants(tb testing.TB, l *List) {
	tb.Helper()
	if got := len(l.Rules) + len(l.Patterns); l.Stats.Kept != got {
		tb.Errorf("Stats.Kept = %d, want rules+patterns = %d", l.Stats.Kept, got)
	}
	for _, r := range l.Rules {
		n, reason := normalizeName([]byte(r.Name), r.Kind == Below)
		if reason != "" || n != r.Name {
			tb.Errorf("line %d: rule name %q is not normalised (%q, %s)", r.Line, r.Name, n, reason)
		}
		if r.Line < 1 || r.Line > l.Stats.Lines {
			tb.Errorf("rule %q: line %d outside 1..%d", r.Name, r.Line, l.Stats.Lines)
		}
	}
	for _, p := range l.Patterns {
		if p.Re == nil || p.Text == "" {
			tb.Errorf("line %d: pattern %q without regexp or text", p.Line, p.Text)
		}
	}
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := mustParse(t, tc.in, tc.opt)
			if !slices.Equal(l.Rules, tc.rules) {
				t.Errorf("rules:\n got %+v\nwant %+v", l.Rules, tc.rules)
			}
			skipped := tc.skipped
			if skipped == nil {
				skipped = map[string]int{}
			}
			if !maps.Equal(l.Stats.Skipped, skipped) {
				t.Errorf("skipped = %v, want %v", l.Stats.Skipped, skipped)
			}
			if l.Stats.Comments != tc.comments {
				t.Errorf("comments = %d, want %d", l.Stats.Comments, tc.comments)
			}
			if len(l.Patterns) != len(tc.patterns) {
				t.Fatalf("patterns = %+v, want %d", l.Patterns, len(tc.patterns))
			}
			for i, w := range tc.patterns {
				p := l.Patterns[i]
				if p.Text != w.text || p.Allow != w.allow || p.Important != w.important {
					t.Errorf("pattern %d = {%q allow=%v important=%v}, want {%q %v %v}",
						i, p.Text, p.Allow, p.Important, w.text, w.allow, w.important)
				}
				for _, n := range w.match {
					if !p.Re.MatchString(n) {
						t.Errorf("pattern %q (%s) does not match %q", p.Text, p.Re, n)
					}
				}
				for _, n := range w.miss {
					if p.Re.MatchString(n) {
						t.Errorf("pattern %q (%s) matches %q", p.Text, p.Re, n)
					}
				}
			}
		})
	}
}

func skipOne(reason string) map[string]int { return map[string]int{reason: 1} }

// TestParseFormats covers each format and option on small inputs.
func TestParseFormats(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "hosts exact option", in: "0.0.0.0 a.example\nb.example\n||c.example^\n",
			opt:   ParseOptions{Exact: true},
			rules: []Rule{ruleExact("a.example", 1), ruleExact("b.example", 2), ruleSub("c.example", 3)}},
		{name: "ipv6 sinkholes", in: ":: a.example\n::1 b.example\n::ffff:127.0.0.1 c.example\n",
			rules: []Rule{ruleSub("a.example", 1), ruleSub("b.example", 2), ruleSub("c.example", 3)}},
		{name: "self entry and ip6 preamble", in: "0.0.0.0 0.0.0.0\n::1 ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\n",
			skipped: map[string]int{reasonPreamble: 4}},
		{name: "ip6- prefix only without dots", in: "0.0.0.0 ip6-x.example\n", rules: []Rule{ruleSub("ip6-x.example", 1)}},
		{name: "idn unicode to punycode", in: "bücher.example\n0.0.0.0 MÜNCHEN.example\n",
			rules: []Rule{ruleSub("xn--bcher-kva.example", 1), ruleSub("xn--mnchen-3ya.example", 2)}},
		{name: "idn in adblock rules", in: "||bücher.example^\n*.bücher.example\n||bücher*.example^\n||*.bücher.example^\n",
			rules: []Rule{ruleSub("xn--bcher-kva.example", 1), ruleBelow("xn--bcher-kva.example", 2),
				ruleBelow("xn--bcher-kva.example", 4)},
			skipped: skipOne(reasonBadPattern)},
		{name: "idn invalid", in: "a\u200d\u0301b.example\n", skipped: skipOne(reasonIDNA)},
		{name: "wildcard of a tld", in: "*.top\n", rules: []Rule{ruleBelow("top", 1)}},
		{name: "wildcard with end anchor", in: "*.a.example^\n", rules: []Rule{ruleBelow("a.example", 1)}},
		{name: "important exception", in: "@@||a.example^$important\n",
			rules: []Rule{asImportant(asAllow(ruleSub("a.example", 1)))}},
		{name: "important and all", in: "||a.example^$all,important\n", rules: []Rule{asImportant(ruleSub("a.example", 1))}},
		{name: "badfilter above its target", in: "||a.example^$badfilter\n0.0.0.0 a.example\na.example\n||b.example^\n",
			rules:   []Rule{ruleSub("b.example", 4)},
			skipped: map[string]int{reasonBadfilter: 1, reasonBadfiltered: 2}},
		{name: "badfilter keeps flags apart", in: "||a.example^$important\n||a.example^\n@@||a.example^\n||a.example^$badfilter\n",
			rules:   []Rule{asImportant(ruleSub("a.example", 1)), asAllow(ruleSub("a.example", 3))},
			skipped: map[string]int{reasonBadfilter: 1, reasonBadfiltered: 1}},
		{name: "badfilter of a pattern", in: "||ads*.example^\n||ads*.example^$badfilter\n@@/x/\n@@/x/$badfilter\n",
			skipped: map[string]int{reasonBadfilter: 2, reasonBadfiltered: 2}},
		{name: "modifiers counted by first unsupported", in: "||a.example^$third-party\n||b.example^$~third-party\n||c.example^$client=10.0.0.1,dnstype=A\n||d.example^$ctag=device_tv\n",
			skipped: map[string]int{"unsupported modifier $third-party": 1, "unsupported modifier $~third-party": 1,
				"unsupported modifier $client": 1, "unsupported modifier $ctag": 1}},
		{name: "regex with modifiers", in: "/^ad\\./$important\n/^x\\./$denyallow=a.com\n",
			patterns: []wantPattern{{text: "/^ad\\./$important", important: true, match: []string{"ad.example"}}},
			skipped:  skipOne("unsupported modifier $denyallow")},
		{name: "invalid regex", in: "/a(b/\n", skipped: skipOne(reasonRegex)},
		{name: "url path is not a regex", in: "/ads/banner.gif\n", skipped: skipOne(reasonURL)},
		{name: "anchored url path", in: "||a.example/ads\n||a.example^path\n", skipped: map[string]int{reasonURL: 2}},
		{name: "match-all pattern refused", in: "||*^\n||*.*\n", skipped: map[string]int{reasonBadPattern: 2}},
		{name: "bad characters", in: "a!b.example\n0.0.0.0 a,b.example\n||a~b.example^\n",
			skipped: map[string]int{reasonBadChar: 2, reasonBadPattern: 1}},
		{name: "empty labels", in: "a..example\n.\n0.0.0.0 a.example..\n", skipped: map[string]int{reasonEmptyLabel: 2, reasonPartial: 1}},
		{name: "two names without an address", in: "a.example b.example\n", skipped: skipOne(reasonUnrecognised)},
		{name: "pihole regex options", in: "^ads\\.;querytype=AAAA\n^x\\.;invert\n(^|\\.)ok\\.example$\n",
			opt:      ParseOptions{Regex: true},
			patterns: []wantPattern{{text: "(^|\\.)ok\\.example$", match: []string{"ok.example", "a.ok.example"}, miss: []string{"nook.example"}}},
			skipped:  map[string]int{reasonRegexOption: 2}},
		{name: "pihole invalid regex", in: "(\n", opt: ParseOptions{Regex: true}, skipped: skipOne(reasonRegex)},
		{name: "cosmetic variants", in: "a.example#?#div\na.example#$#body{}\na.example#%#//scriptlet('x')\na.example$$script\n",
			skipped: map[string]int{reasonCosmetic: 4}},
	})
}

func TestParseLongLine(t *testing.T) {
	ok := "0.0.0.0 " + strings.Repeat("a", maxLineLen-8)
	l := mustParse(t, ok+"\nb.example\n", ParseOptions{})
	if l.Stats.Lines != 2 || len(l.Rules) != 1 || l.Stats.Skipped[reasonLongName] != 1 {
		t.Errorf("got %+v, want one long-name skip then b.example", l.Stats)
	}
	long := "a.example\n" + strings.Repeat("x", maxLineLen+1) + "\n"
	_, err := Parse(strings.NewReader(long), ParseOptions{})
	if !errors.Is(err, bufio.ErrTooLong) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Parse(line over 64 KiB) error = %v, want ErrTooLong at line 2", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	_, err := Parse(failingReader{}, ParseOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("error = %v, want the read error", err)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"WWW.Example.COM.", "www.example.com", ""},
		{"bücher.example", "xn--bcher-kva.example", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{"_dmarc.example.com", "_dmarc.example.com", ""},
		{"example", "", reasonSingleLabel},
		{"192.0.2.1", "", reasonIP},
		{"2001:db8::1", "", reasonIP},
		{"a b.example", "", reasonBadChar},
		{"a:b.example", "", reasonBadChar},
		{"", "", reasonEmptyLabel},
		{strings.Repeat("a", 64) + ".example", "", reasonLongLabel},
		{"example." + strings.Repeat("a", 64), "", reasonLongLabel},
		{strings.Repeat("abcdefghi.", 25) + "example", "", reasonLongName},
	} {
		got, err := Normalize(tc.in)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if got != tc.want || errText != tc.err {
			t.Errorf("Normalize(%q) = %q, %q; want %q, %q", tc.in, got, errText, tc.want, tc.err)
		}
	}
}

func readTestdata(tb testing.TB, name string, opt ParseOptions) *List {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return mustParse(tb, string(data), opt)
}

// TestParseTestdata checks the excerpts in testdata, which need no shared
// data.
func TestParseTestdata(t *testing.T) {
	for _, tc := range []struct {
		file                         string
		opt                          ParseOptions
		lines, comments, rules, pats int
		skipped                      map[string]int
	}{
		{file: "blocklistproject_tiktok_head.hosts", lines: 213, comments: 13, rules: 200},
		{file: "blocklistproject_tiktok-nl_head.txt", lines: 213, comments: 13, rules: 200},
		{file: "blocklistproject_tiktok-ags_head.txt", lines: 213, comments: 13, rules: 200},
		{file: "clefspeare13_safesearch_head.hosts", lines: 120, comments: 12, rules: 0,
			skipped: map[string]int{reasonPreamble: 5, reasonRewrite: 103}},
		{file: "fademind_add.2o7Net_head.hosts", lines: 60, rules: 60},
		{file: "adaway_head.hosts", lines: 80, comments: 45, rules: 33, skipped: map[string]int{reasonPreamble: 2}},
		{file: "perflyst_SmartTV.txt", lines: 374, comments: 129, rules: 245},
		{file: "mmotti_regex.list", opt: ParseOptions{Regex: true}, lines: 31, comments: 17, pats: 14},
		{file: "perflyst_SmartTV_regex.list", opt: ParseOptions{Regex: true}, lines: 28, comments: 14, pats: 14},
		{file: "adblock_dialect.txt", lines: 30, comments: 3, rules: 9, pats: 5,
			skipped: map[string]int{reasonHeader: 1, "unsupported modifier $popup": 1, "unsupported modifier $client": 1,
				reasonBadfilter: 1, reasonBadfiltered: 1, reasonURL: 2, reasonPartial: 1, reasonCosmetic: 2,
				reasonIP: 2, reasonSingleLabel: 1, reasonBadChar: 1}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			l := readTestdata(t, tc.file, tc.opt)
			st := l.Stats
			if st.Lines != tc.lines || st.Comments != tc.comments || len(l.Rules) != tc.rules || len(l.Patterns) != tc.pats {
				t.Errorf("lines %d, comments %d, rules %d, patterns %d; want %d, %d, %d, %d",
					st.Lines, st.Comments, len(l.Rules), len(l.Patterns), tc.lines, tc.comments, tc.rules, tc.pats)
			}
			want := tc.skipped
			if want == nil {
				want = map[string]int{}
			}
			if !maps.Equal(st.Skipped, want) {
				t.Errorf("skipped = %v, want %v", st.Skipped, want)
			}
		})
	}
	hosts := distinctNames(readTestdata(t, "blocklistproject_tiktok_head.hosts", ParseOptions{}).Rules)
	for _, f := range []string{"blocklistproject_tiktok-nl_head.txt", "blocklistproject_tiktok-ags_head.txt"} {
		if names := distinctNames(readTestdata(t, f, ParseOptions{}).Rules); !maps.Equal(names, hosts) {
			t.Errorf("%s: names differ from the hosts version", f)
		}
	}
	dialect := readTestdata(t, "adblock_dialect.txt", ParseOptions{})
	wantRules := []Rule{ruleSub("ads.example.com", 5), asImportant(ruleSub("tracker.example.net", 6)),
		asAllow(ruleSub("ok.ads.example.com", 7)), ruleSub("mixed-case.example.org", 8), ruleBelow("bad-tld", 9),
		ruleBelow("wild.example", 13), ruleSub("plain.example.com", 14), ruleSub("hosts.example.com", 15),
		ruleSub("hosts2.example.com", 15)}
	if got := dialect.Rules; !slices.Equal(got, wantRules) {
		t.Errorf("adblock_dialect.txt rules:\n got %+v\nwant %+v", got, wantRules)
	}
}
