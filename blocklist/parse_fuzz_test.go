package blocklist

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to Parse and checks that nothing breaks:
// every rule it keeps is a valid normalised name, and a Matcher built from
// the list finds each rule again.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"0.0.0.0 a.example b.example # comment\n",
		"\uFEFF[Adblock Plus 3.13]\r\n||ads.example^$important\r\n@@||ok.ads.example^\r\n",
		"||aax-*.amazon.*^\n||*.top^\n*.wild.example\n||prefix.\n",
		"/^ad[0-9]+\\./\n@@/x/$badfilter\n||a.example^$badfilter\n||a.example^\n",
		"fe80::1%lo0 localhost\n216.239.38.120 google.com\n127.0.0.7 Upper.Example.\n",
		"bücher.example\nxn--bcher-kva.example\n_dmarc.example\n",
		"example.com##.ad\n|http://x.\n-trk.xyz^\n||x^$denyallow=a.com|b.com,dnstype=~CNAME\n",
	} {
		f.Add(seed, false, false)
	}
	f.Add("(^|\\.)lgsmartad\\.com\n^[a-z]{3}$ # note\n(\n", false, true)
	f.Add("a.example\n0.0.0.0 b.example\n", true, false)
	f.Fuzz(func(t *testing.T, text string, exact, regex bool) {
		l, err := Parse(strings.NewReader(text), ParseOptions{Exact: exact, Regex: regex})
		if err != nil {
			if !strings.Contains(err.Error(), "longer than") {
				t.Fatalf("Parse: %v", err)
			}
			return
		}
		checkListInvariants(t, l)
		lines := strings.Count(text, "\n")
		if text != "" && !strings.HasSuffix(text, "\n") {
			lines++
		}
		if l.Stats.Lines != lines {
			t.Errorf("Stats.Lines = %d, want %d", l.Stats.Lines, lines)
		}
		m, err := NewMatcher([]Input{{Category: "c", Source: "s", List: l}})
		if err != nil {
			t.Fatalf("NewMatcher: %v", err)
		}
		for _, r := range l.Rules {
			name := r.Name
			if r.Kind == Below {
				name = "x." + name
			}
			found := false
			for _, h := range m.Explain(name) {
				found = found || !h.Ref.Pattern && h.Ref.Name == r.Name && h.Ref.Kind == r.Kind && h.Ref.Allow == r.Allow
			}
			if !found {
				t.Errorf("rule %+v not found by Explain(%q)", r, name)
			}
			m.Lookup(name, 1)
		}
	})
}
