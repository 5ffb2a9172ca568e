package blocklist

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestPlainNameFastPath checks that the fast path for plain names gives,
// for every line it takes, what the general path gives: the same rule or
// the same skip reason.
func TestPlainNameFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const alphabet = "abz09.-_A#$*|^/: é"
	lines := []string{
		"example.com", "example.com.", "example.com..", ".example.com", "-a.example", "a-.example",
		"1.2.3.4", "1.2.3.4.", "1.2.3.4.5", "01.02.03.04", "999.1.1.1", "localhost", "com", "com.",
		"_dmarc.example.com", "a..b", strings.Repeat("a", 63) + ".com", strings.Repeat("a", 64) + ".com",
		"x." + strings.Repeat("a", 64), strings.Repeat("a.", 126) + "com", strings.Repeat("ab.", 84) + "com",
	}
	for range 20_000 {
		var sb strings.Builder
		for range 1 + r.IntN(12) {
			if r.IntN(4) == 0 {
				sb.WriteString(alphabet[r.IntN(len(alphabet)):][:1])
			} else {
				sb.WriteString("ab.0"[r.IntN(4):][:1])
			}
		}
		lines = append(lines, sb.String())
	}
	fast := 0
	for _, opt := range []ParseOptions{{}, {Exact: true}} {
		for _, line := range lines {
			var fs, gs listSink
			pf := &listParser{opt: opt, sink: &fs, skipped: map[string]int{}}
			if line == "" || !pf.plainName([]byte(line)) {
				continue
			}
			fast++
			pg := &listParser{opt: opt, sink: &gs, skipped: map[string]int{}}
			pg.anyLine([]byte(line))
			if !slices.Equal(fs.rules, gs.rules) || !maps.Equal(pf.skipped, pg.skipped) {
				t.Errorf("%q %+v: fast path gives %v %v, general path %v %v", line, opt, fs.rules, pf.skipped, gs.rules, pg.skipped)
			}
		}
	}
	if fast < 1000 {
		t.Errorf("only %d lines took the fast path", fast)
	}
}
