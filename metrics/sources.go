package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sources are hooks into state other packages own, read at scrape time so
// that those packages need not know about Prometheus. Any hook may be nil;
// its metrics are then left out. Hooks may be called from concurrent
// scrapes and should return quickly.
type Sources struct {
	// Cache reports the response cache's counters since start and its
	// current number of entries.
	Cache func() (hits, misses, stale, evictions uint64, entries int)
	// Upstreams reports each configured upstream resolver.
	Upstreams func() []Upstream
	// Lists reports each configured blocklist source.
	Lists func() []List
	// Log reports the query log's records written and dropped since start,
	// and whether it is writing.
	Log func() (written, dropped uint64, healthy bool)
}

// Upstream is the state of one upstream resolver.
type Upstream struct {
	Name    string // from config; the label value
	Healthy bool
	Queries uint64 // sent since start
	Errors  uint64 // failed since start
	LastRTT time.Duration
}

// List is the state of one blocklist source.
type List struct {
	Name, Category string // from config; the label values
	Rules          int    // rules currently loaded from it
	LastSuccess    time.Time
	Healthy        bool
}

// Watch registers a collector that reads s on every scrape. It returns the
// registry's error if the collector is already registered (Watch called
// twice on one registry).
func (m *Metrics) Watch(s Sources) error {
	if m == nil || m.reg == nil {
		return nil
	}
	return m.reg.Register(newSourceCollector(s))
}

// sourceCollector is a prometheus.Collector over Sources.
type sourceCollector struct {
	src Sources

	cacheHits, cacheMisses, cacheStale, cacheEvictions, cacheEntries *prometheus.Desc

	upQueries, upErrors, upHealthy, upRTT *prometheus.Desc

	listRules, listLastSuccess, listHealthy *prometheus.Desc

	logWritten, logDropped, logHealthy *prometheus.Desc
}

func newSourceCollector(s Sources) *sourceCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &sourceCollector{
		src: s,

		cacheHits:      desc("cache_hits_total", "Queries answered from a fresh cache entry."),
		cacheMisses:    desc("cache_misses_total", "Queries not found in the cache, sent upstream."),
		cacheStale:     desc("cache_stale_total", "Queries answered from an expired cache entry (RFC 8767)."),
		cacheEvictions: desc("cache_evictions_total", "Cache entries evicted to make room."),
		cacheEntries:   desc("cache_entries", "Entries in the response cache."),

		upQueries: desc("upstream_queries_total", "Queries sent to an upstream resolver.", "upstream"),
		upErrors:  desc("upstream_errors_total", "Queries to an upstream resolver that failed.", "upstream"),
		upHealthy: desc("upstream_healthy", "Whether an upstream resolver is in use (1) or marked down (0).", "upstream"),
		upRTT:     desc("upstream_rtt_seconds", "Round-trip time of the last answer from an upstream resolver.", "upstream"),

		listRules:       desc("list_rules", "Rules loaded from a blocklist source.", "list", "category"),
		listLastSuccess: desc("list_last_success_timestamp_seconds", "Unix time a blocklist source was last fetched and parsed; 0 if never.", "list", "category"),
		listHealthy:     desc("list_healthy", "Whether a blocklist source's last update succeeded (1) or not (0).", "list", "category"),

		logWritten: desc("querylog_written_total", "Query log records written."),
		logDropped: desc("querylog_dropped_total", "Query log records dropped because the writer fell behind or failed."),
		logHealthy: desc("querylog_healthy", "Whether the query log is writing (1) or failing (0)."),
	}
}

// Describe implements prometheus.Collector.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.cacheHits, c.cacheMisses, c.cacheStale, c.cacheEvictions, c.cacheEntries,
		c.upQueries, c.upErrors, c.upHealthy, c.upRTT,
		c.listRules, c.listLastSuccess, c.listHealthy,
		c.logWritten, c.logDropped, c.logHealthy,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	if f := c.src.Cache; f != nil {
		hits, misses, stale, evictions, entries := f()
		counter(c.cacheHits, hits)
		counter(c.cacheMisses, misses)
		counter(c.cacheStale, stale)
		counter(c.cacheEvictions, evictions)
		gauge(c.cacheEntries, float64(entries))
	}

	if f := c.src.Upstreams; f != nil {
		// A repeated label set would fail the whole scrape; names come
		// from config and should be unique, but the first one wins if not.
		seen := make(map[string]bool)
		for _, u := range f() {
			if seen[u.Name] {
				continue
			}
			seen[u.Name] = true
			counter(c.upQueries, u.Queries, u.Name)
			counter(c.upErrors, u.Errors, u.Name)
			gauge(c.upHealthy, boolValue(u.Healthy), u.Name)
			gauge(c.upRTT, u.LastRTT.Seconds(), u.Name)
		}
	}

	if f := c.src.Lists; f != nil {
		type key struct{ name, category string }
		seen := make(map[key]bool)
		for _, l := range f() {
			k := key{l.Name, l.Category}
			if seen[k] {
				continue
			}
			seen[k] = true
			gauge(c.listRules, float64(l.Rules), l.Name, l.Category)
			gauge(c.listLastSuccess, unixSeconds(l.LastSuccess), l.Name, l.Category)
			gauge(c.listHealthy, boolValue(l.Healthy), l.Name, l.Category)
		}
	}

	if f := c.src.Log; f != nil {
		written, dropped, healthy := f()
		counter(c.logWritten, written)
		counter(c.logDropped, dropped)
		gauge(c.logHealthy, boolValue(healthy))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t as Unix seconds, with the zero time (never) as 0 rather
// than year 1: an alert on time() minus it then fires for a list that never
// loaded, as it should.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
