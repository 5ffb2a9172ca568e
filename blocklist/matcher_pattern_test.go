package blocklist

import (
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestRequiredLiterals(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want []string
	}{
		{`^(?:.*\.)?aax-.*\.amazon\..*$`, []string{".amazon."}},
		{`(^|\.)lgsmartad\.com`, []string{"lgsmartad.com"}},
		{`^(.*[./])?discord[a-z0-9-]{1,}\.gifts?(/.*)?$`, []string{"discord"}},
		{`^ad([sxv]?[0-9]*|system)[_.-]([^.[:space:]]+\.){1,}|[_.-]ad([sxv]?[0-9]*|system)[_.-]`, []string{"ad"}},
		{`^.*(tech|project|linux).*\.top$`, []string{".top"}},
		{`^.*(tech|project|linux)\.`, []string{"linux", "project", "tech"}},
		{`(?i)casefold`, nil},
		{`^[a-rt-z][a-z]{10,14}$`, nil},
		{`a|.`, nil},
	} {
		if got := requiredLiterals(regexp.MustCompile(tc.re)); !slices.Equal(got, tc.want) {
			t.Errorf("requiredLiterals(%s) = %q, want %q", tc.re, got, tc.want)
		}
	}
}

// TestPatternIndex checks that looking patterns up through the index
// decides like trying every pattern in list order.
func TestPatternIndex(t *testing.T) {
	var lines []string
	for _, f := range []string{"testdata/mmotti_regex.list", "testdata/perflyst_SmartTV_regex.list"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		l := mustParse(t, string(data), ParseOptions{Regex: true})
		for _, p := range l.Patterns {
			lines = append(lines, "/"+p.Text+"/")
		}
	}
	lines = append(lines, "||aax-*.amazon.*^", "||ads*^", "||*ad*.example^", "||ad.", "/a/", `/^[a-z]{3}\.com$/`)
	l := mustParse(t, strings.Join(lines, "\n"), ParseOptions{})
	if len(l.Patterns) != len(lines) {
		t.Fatalf("%d patterns from %d lines: %v", len(l.Patterns), len(lines), l.Stats.Skipped)
	}
	m, err := NewMatcher([]Input{{Category: "c", Source: "s", List: l}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.pindex.always) == len(m.patterns) {
		t.Fatal("no pattern indexed")
	}
	r := rand.New(rand.NewPCG(5, 6))
	words := []string{"ad", "ads", "adserver", "aax-eu", "amazon", "example", "telemetry", "lgsmartad", "com",
		"tv", "stats", "pixel", "x", "counter", "internetat", "api", "hismarttv", "abcdefghijk", "_", "-"}
	for range 20000 {
		var parts []string
		for range 1 + r.IntN(5) {
			w := words[r.IntN(len(words))]
			if r.IntN(3) == 0 {
				w += words[r.IntN(len(words))]
			}
			parts = append(parts, w)
		}
		name := strings.Join(parts, ".")
		want := Verdict{}
		for _, p := range l.Patterns {
			if p.Re.MatchString(name) {
				want = Verdict{Blocked: true, Category: "c", Rule: Ref{Source: "s", Name: p.Text, Pattern: true}}
				break
			}
		}
		if got := m.Lookup(name, 1); got != want {
			t.Fatalf("Lookup(%q) = %+v, want %+v", name, got, want)
		}
	}
}
