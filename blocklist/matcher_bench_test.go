package blocklist

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// readLarge returns the decompressed large list, so that benchmarks time
// parsing, not gunzip.
func readLarge(b testing.TB) []byte {
	b.Helper()
	f, err := os.Open(filepath.Join(fullDataDir(b), largeList))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func parseBytes(b *testing.B, data []byte, opt ParseOptions) *List {
	b.Helper()
	l, err := Parse(bytes.NewReader(data), opt)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkParseLarge(b *testing.B) {
	data := readLarge(b)
	b.SetBytes(int64(len(data)))
	var rules int
	for b.Loop() {
		rules = len(parseBytes(b, data, ParseOptions{}).Rules)
	}
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(rules)/perOp, "domains/s")
	b.ReportMetric(perOp*1e9/float64(rules), "ns/domain")
}

func BenchmarkNewMatcherLarge(b *testing.B) {
	in := []Input{{Category: "all", Source: "large", List: parseBytes(b, readLarge(b), ParseOptions{})}}
	for b.Loop() {
		if _, err := NewMatcher(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatcherBytesPerDomain measures the heap a Matcher over the large
// list keeps once the parsed List is gone.
func BenchmarkMatcherBytesPerDomain(b *testing.B) {
	data := readLarge(b)
	var perName, total float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// The List is dead once NewMatcher returns: nothing refers to it.
		m, err := NewMatcher([]Input{{Category: "all", Source: "large", List: parseBytes(b, data, ParseOptions{})}})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		total = float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
		perName = total / float64(m.Len())
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perName, "bytes/domain")
	b.ReportMetric(total/(1<<20), "MiB")
}

// BenchmarkLookup looks up real popular names (Cloudflare Radar top 100k)
// in the large list: "hit" are the names it blocks, "miss" the others,
// "www-miss" the misses one label deeper, and "with-patterns" all of them
// with the DandelionSprout list (288 patterns) in a second category.
func BenchmarkLookup(b *testing.B) {
	large := Input{Category: "all", Source: "large", List: parseBytes(b, readLarge(b), ParseOptions{})}
	m, err := NewMatcher([]Input{large})
	if err != nil {
		b.Fatal(err)
	}
	var hits, misses, deep []string
	for _, q := range readQueries(b, "queries/cloudflare-radar_top100000.txt") {
		if m.Lookup(q, 1).Blocked {
			hits = append(hits, q)
		} else {
			misses = append(misses, q)
			deep = append(deep, "www."+q)
		}
	}
	malware := Input{Category: "malware", Source: "dandelion",
		List: parseDataFile(b, "blocklists/adblock/dandelionsprout_AntiMalwareAdGuardHome.txt", ParseOptions{})}
	withPatterns, err := NewMatcher([]Input{large, malware})
	if err != nil {
		b.Fatal(err)
	}
	all := append(append([]string(nil), hits...), misses...)
	for _, bc := range []struct {
		name  string
		m     *Matcher
		names []string
	}{
		{"hit", m, hits},
		{"miss", m, misses},
		{"www-miss", m, deep},
		{"with-patterns", withPatterns, all},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchmarkLookups(b, bc.m, bc.names)
		})
	}
}

func benchmarkLookups(b *testing.B, m *Matcher, names []string) {
	b.ReportAllocs()
	i, blocked := 0, 0
	for b.Loop() {
		if m.Lookup(names[i], ^uint64(0)).Blocked {
			blocked++
		}
		if i++; i == len(names) {
			i = 0
		}
	}
	b.ReportMetric(float64(len(names)), "names")
}

// testdataInputs parses every list in testdata, one category each.
func testdataInputs(tb testing.TB) []Input {
	tb.Helper()
	files, err := filepath.Glob("testdata/*")
	if err != nil || len(files) == 0 {
		tb.Fatalf("testdata: %v", err)
	}
	var in []Input
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		opt := ParseOptions{Regex: strings.HasSuffix(f, "regex.list")}
		in = append(in, Input{Category: filepath.Base(f), Source: f, List: mustParse(tb, string(data), opt)})
	}
	return in
}

// BenchmarkParseTestdata and BenchmarkLookupTestdata run without the shared
// data, over the excerpts in testdata.
func BenchmarkParseTestdata(b *testing.B) {
	var data [][]byte
	var size int64
	for _, in := range testdataInputs(b) {
		d, err := os.ReadFile(in.Source)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
		size += int64(len(d))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range data {
			parseBytes(b, d, ParseOptions{})
		}
	}
}

func BenchmarkLookupTestdata(b *testing.B) {
	in := testdataInputs(b)
	m, err := NewMatcher(in)
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	for _, input := range in {
		for _, r := range input.List.Rules {
			names = append(names, "www."+r.Name, r.Name+".example")
		}
	}
	benchmarkLookups(b, m, names)
}
