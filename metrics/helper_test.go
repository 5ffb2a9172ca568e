package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serve starts Handler(reg) on a loopback HTTP server for the test.
func serve(tb testing.TB, reg prometheus.Gatherer) string {
	tb.Helper()
	srv := httptest.NewServer(Handler(reg))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// scrape fetches url over HTTP and parses the text exposition. It returns
// the raw body too, for checks on what must not appear in it.
func scrape(tb testing.TB, url string) (map[string]*dto.MetricFamily, string) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("scrape: read body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("scrape: status %s: %s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		tb.Fatalf("scrape: Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		tb.Fatalf("scrape: parse: %v\n%s", err, body)
	}
	return fams, string(body)
}

// labels is a label set written as name, value pairs.
type labels []string

// find returns the metric of family name whose labels are exactly ls.
func find(fams map[string]*dto.MetricFamily, name string, ls labels) (*dto.Metric, bool) {
	f, ok := fams[name]
	if !ok {
		return nil, false
	}
	for _, m := range f.GetMetric() {
		if matches(m, ls) {
			return m, true
		}
	}
	return nil, false
}

func matches(m *dto.Metric, ls labels) bool {
	want := make(map[string]string, len(ls)/2)
	for i := 0; i+1 < len(ls); i += 2 {
		want[ls[i]] = ls[i+1]
	}
	got := m.GetLabel()
	// The text format leaves out empty labels, so compare non-empty ones.
	n := 0
	for _, v := range want {
		if v != "" {
			n++
		}
	}
	seen := 0
	for _, lp := range got {
		if lp.GetValue() == "" {
			continue
		}
		if want[lp.GetName()] != lp.GetValue() {
			return false
		}
		seen++
	}
	return seen == n
}

// value is the value of a counter, gauge or untyped metric, or the sample
// count of a histogram.
func value(tb testing.TB, fams map[string]*dto.MetricFamily, name string, ls labels) float64 {
	tb.Helper()
	m, ok := find(fams, name, ls)
	if !ok {
		tb.Fatalf("no %s%v in scrape", name, ls)
	}
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	tb.Fatalf("%s%v: unsupported metric type", name, ls)
	return 0
}

// bucket is the cumulative count of histogram name{ls} at upper bound le.
func bucket(tb testing.TB, fams map[string]*dto.MetricFamily, name string, ls labels, le float64) uint64 {
	tb.Helper()
	m, ok := find(fams, name, ls)
	if !ok || m.Histogram == nil {
		tb.Fatalf("no histogram %s%v in scrape", name, ls)
	}
	for _, b := range m.GetHistogram().GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	tb.Fatalf("%s%v: no bucket le=%g", name, ls, le)
	return 0
}
