package blocklist

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/havendns/haven/internal/dnstest"
)

// BenchmarkLoadListLarge parses the large list straight into a Matcher, as
// a Store's build does (no List, no per-name allocation): "text" from the
// decompressed list, "gzip" from the file as downloaded, decompression
// included. It reports the time per name and, as cpu-ns/domain, the CPU
// time of the whole process per name (the garbage collector's included,
// which runs on the other cores).
func BenchmarkLoadListLarge(b *testing.B) {
	text := readLarge(b)
	gz, err := os.ReadFile(filepath.Join(fullDataDir(b), largeList))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		open func() (io.Reader, error)
	}{
		{"text", func() (io.Reader, error) { return bytes.NewReader(text), nil }},
		{"gzip", func() (io.Reader, error) { return gzip.NewReader(bytes.NewReader(gz)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			cpu, _ := dnstest.ProcessCPU()
			for b.Loop() {
				r, err := bc.open()
				if err != nil {
					b.Fatal(err)
				}
				bld := newMatcherBuilder()
				if err := bld.source("all", "large"); err != nil {
					b.Fatal(err)
				}
				if _, err := parseInto(r, ParseOptions{}, nil, builderSink{bld}); err != nil {
					b.Fatal(err)
				}
				n = bld.finish().Len()
			}
			end, _ := dnstest.ProcessCPU()
			cpu = end - cpu
			perOp := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(perOp*1e9/float64(n), "ns/domain")
			b.ReportMetric(perOp*1e6/float64(n), "s/1M-domains")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/domain")
			}
		})
	}
}
