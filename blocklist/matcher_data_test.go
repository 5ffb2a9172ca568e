package blocklist

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const largeList = "blocklists/large/blocklistproject_all-nl_concat_ee3bdbad.txt.gz"

// readQueries returns the names of a query list of the shared data.
func readQueries(tb testing.TB, rel string) []string {
	tb.Helper()
	f, err := os.Open(filepath.Join(fullDataDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		names = append(names, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return names
}

// TestMatcherDataExactOverlap checks the matcher against the data README's
// count of blocklist names that are also in the top-100k query list: with
// every rule made exact, that is the number of queries blocked.
func TestMatcherDataExactOverlap(t *testing.T) {
	queries := readQueries(t, "queries/cloudflare-radar_top100000.txt")
	for _, tc := range []struct {
		file string
		want int
	}{
		{"hosts/sinfonietta_pornography-hosts", 1332},
		{"domains/chadmayfield_porn_top1m.list", 520},
		{"domains/ut1_gambling.domains", 205},
		{"domains/ut1_social_networks.domains", 135},
		{"adblock/hagezi_light_2022.adblock.txt", 2039},
		{"domains/hagezi-legacy_light.domains.txt", 3880},
		{"domains/blocklistproject_phishing-nl.txt", 27},
		{"adblock/hagezi_doh-vpn-proxy-bypass_2022.adblock.txt", 78},
		{"large/blocklistproject_all-nl_concat_ee3bdbad.txt.gz", 3838},
	} {
		t.Run(tc.file, func(t *testing.T) {
			l := parseDataFile(t, filepath.Join("blocklists", tc.file), ParseOptions{})
			for i := range l.Rules {
				l.Rules[i].Kind = Exact
			}
			m, err := NewMatcher([]Input{{Category: "c", Source: "s", List: l}})
			if err != nil {
				t.Fatal(err)
			}
			exact, subtree := 0, 0
			for _, q := range queries {
				if m.Lookup(q, 1).Blocked {
					exact++
				}
			}
			if exact != tc.want {
				t.Errorf("%d queries blocked by exact names, README says %d", exact, tc.want)
			}
			for i := range l.Rules {
				l.Rules[i].Kind = Subtree
			}
			if m, err = NewMatcher([]Input{{Category: "c", Source: "s", List: l}}); err != nil {
				t.Fatal(err)
			}
			for _, q := range queries {
				if m.Lookup(q, 1).Blocked {
					subtree++
				}
			}
			t.Logf("top-100k queries blocked: %d exact, %d with subdomain matching", exact, subtree)
			if subtree < exact {
				t.Errorf("subtree matching blocks %d < %d", subtree, exact)
			}
		})
	}
}

// TestMatcherDataSet checks the compact set against a map over the large
// list plus lists of other formats and categories: every stored name, and
// every ancestor of every query, must be found exactly when the map has it,
// with the same facts.
func TestMatcherDataSet(t *testing.T) {
	var in []Input
	for _, f := range []struct{ cat, file string }{
		{"large", largeList},
		{"ads", "blocklists/hosts/adaway_hosts.txt"},
		{"allow", "blocklists/adblock/hagezi_whitelist-referral_2022.adblock.txt"},
		{"bypass", "blocklists/wildcard/hagezi_doh-vpn-proxy-bypass_2022.wildcard.txt"},
		{"malware", "blocklists/adblock/dandelionsprout_AntiMalwareAdGuardHome.txt"},
	} {
		in = append(in, Input{Category: f.cat, Source: filepath.Base(f.file), List: parseDataFile(t, f.file, ParseOptions{})})
	}
	m, err := NewMatcher(in)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string][]nameFact)
	for i, input := range in {
		for _, r := range input.List.Rules {
			f := newNameFact(i, r) // one source per category here: origin = input index
			if !slices.Contains(want[r.Name], f) {
				want[r.Name] = append(want[r.Name], f)
			}
		}
	}
	for _, facts := range want {
		slices.Sort(facts)
	}
	if m.Len() != len(want) {
		t.Errorf("Len() = %d, want %d distinct names", m.Len(), len(want))
	}
	check := func(name string) {
		got, ok := m.factsOf(name)
		facts, wantOK := want[name]
		if ok != wantOK || ok && !slices.Equal(got, facts) {
			t.Fatalf("factsOf(%q) = %v %v, want %v %v", name, got, ok, wantOK, facts)
		}
	}
	for name := range want {
		check(name)
	}
	for _, q := range readQueries(t, "queries/cloudflare-radar_top100000.txt") {
		for n := "www." + q; ; {
			check(n)
			i := 0
			for i < len(n) && n[i] != '.' {
				i++
			}
			if i == len(n) {
				break
			}
			n = n[i+1:]
		}
	}
	data := 0
	for _, seg := range m.names.segs {
		data += len(seg.data)
	}
	t.Logf("%d names, %d combinations, %d patterns, %d bytes of front-coded data in %d segments", m.Len(), len(m.comboEnd), len(m.patterns), data, len(m.names.segs))
}

// TestDeltaLargeList changes 1% of the large list (churnList) and checks
// that the Matcher made from the old one by a deltaBuilder, then
// compacted, holds exactly the names and facts of a full build of the new
// list, and decides the top-100k queries the same way.
func TestDeltaLargeList(t *testing.T) {
	text := readLarge(t)
	build := func(list []byte) *Matcher {
		b := newMatcherBuilder()
		if err := b.source("all", "large"); err != nil {
			t.Fatal(err)
		}
		if _, err := parseInto(bytes.NewReader(list), ParseOptions{}, nil, builderSink{b}); err != nil {
			t.Fatal(err)
		}
		return b.finish()
	}
	old := build(text)
	churned := churnList(text)
	want := build(churned)
	d := newDeltaBuilder(old, []bool{true})
	d.source(0)
	if _, err := parseInto(bytes.NewReader(churned), ParseOptions{}, nil, d); err != nil {
		t.Fatal(err)
	}
	m := d.finish(old.cats, old.origins, nil)
	if m.over == nil || m.over.n < 10_000 {
		t.Fatalf("overlay of %d names, want about 15,000", overLen(m))
	}
	steps := 0
	m = compact(m, segmentBytes, func(*Matcher) { steps++ })
	if m.Len() != want.Len() || digest(m) != digest(want) {
		t.Fatalf("delta build: %d names, digest %x; full build: %d names, digest %x", m.Len(), digest(m), want.Len(), digest(want))
	}
	for _, q := range readQueries(t, "queries/cloudflare-radar_top100000.txt") {
		for _, name := range []string{q, "new-" + q} {
			if g, w := m.Lookup(name, 1), want.Lookup(name, 1); g != w {
				t.Fatalf("Lookup(%s) = %+v, want %+v", name, g, w)
			}
		}
	}
	t.Logf("%d names, %d segments (full build: %d), %d compaction steps", m.Len(), len(m.names.segs), len(want.names.segs), steps)
}

// digest hashes every name of m with its facts, in order.
func digest(m *Matcher) uint64 {
	h := uint64(fnvOffset)
	m.eachName(func(key []byte, id uint32) {
		h = keyHash(h, key)
		for _, f := range m.combo(id) {
			h = keyHash(h, []byte{byte(f >> 24), byte(f >> 16), byte(f >> 8), byte(f), 0xff})
		}
	})
	return h
}
