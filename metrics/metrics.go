// Package metrics exposes Haven's Prometheus metrics: queries by protocol,
// decision, profile and category, latency, cache, upstreams, lists and the
// query log.
//
// Metrics are registered on a registry the caller owns, never on the
// client library's global one, so that several servers (or tests) can live
// in one process.
package metrics

import (
	"net/http"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "haven"

// Reasons for Refused. The reason is a label value, so callers must pass
// one of a small fixed set; these are the ones the server uses.
const (
	ReasonRateLimit = "ratelimit" // the client was over its rate limit
	ReasonACL       = "acl"       // the client address is not allowed to query
	ReasonBusy      = "busy"      // the client or the server had too many queries in flight
)

// Metrics records Haven's per-query metrics. A nil *Metrics is valid and
// records nothing, so callers can run with metrics switched off without
// checks of their own. It is safe for concurrent use.
type Metrics struct {
	reg prometheus.Registerer

	queries   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	responses *prometheus.CounterVec
	refused   *prometheus.CounterVec

	// Looking children up by label values hashes every value on every
	// call; caching them by a comparable key makes Query one map lookup.
	series  children[queryKey, querySeries]
	reasons children[string, prometheus.Counter]
}

// queryKey is the label tuple of one query. The raw enum values stand in
// for their label strings, which are only computed when a series is made.
type queryKey struct {
	proto    resolver.Proto
	decision resolver.Decision
	cache    resolver.CacheResult
	rcode    int
	profile  string
	category string
}

// querySeries are the children a query with a given queryKey updates.
type querySeries struct {
	queries  prometheus.Counter
	duration prometheus.Observer
	rcode    prometheus.Counter
}

// New creates Haven's query metrics and registers them on reg. Like
// prometheus.MustRegister it panics if reg already holds them: that is a
// wiring mistake, not an input error. A nil reg records without exposing.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "queries_total",
			Help:      "DNS queries answered, by transport, decision, policy profile, blocking category and cache result.",
		}, []string{"proto", "decision", "profile", "category", "cache"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "query_duration_seconds",
			Help:      "Time from reading a DNS query to writing its answer.",
			// From a cache hit (tens of µs) through an upstream round
			// trip (ms to 100s of ms) to the server's 4 s timeout.
			Buckets: []float64{
				0.00005, 0.0001, 0.00025, 0.0005,
				0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				0.1, 0.25, 0.5, 1, 2.5, 5,
			},
		}, []string{"proto", "decision"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "responses_total",
			Help:      "DNS answers written, by response code.",
		}, []string{"rcode"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "refused_total",
			Help:      "DNS queries not served, by reason (ratelimit, acl).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.duration, m.responses, m.refused)
	}
	return m
}

// Query records one answered query: q as the chain left it, the rcode
// written and the time from reading the query to writing the answer.
// It is on every query's path, so after the first query with a given label
// tuple it allocates nothing.
func (m *Metrics) Query(q *resolver.Query, rcode int, d time.Duration) {
	if m == nil || q == nil {
		return
	}
	k := queryKey{
		proto:    q.Proto,
		decision: q.Trace.Decision,
		cache:    q.Trace.Cache,
		rcode:    rcode,
		profile:  q.Trace.Profile,
	}
	// Only a block or a rewrite is explained by a category; an allowed
	// query may still carry one (an allow exception) but counting it under
	// that category would read as a block on a dashboard.
	if k.decision == resolver.Blocked || k.decision == resolver.Rewritten {
		k.category = q.Trace.Category
	}
	s, ok := m.series.load(k)
	if !ok {
		s = m.series.store(k, m.newSeries)
	}
	s.queries.Inc()
	s.duration.Observe(d.Seconds())
	s.rcode.Inc()
}

func (m *Metrics) newSeries(k queryKey) querySeries {
	proto, decision := k.proto.String(), k.decision.String()
	return querySeries{
		queries:  m.queries.WithLabelValues(proto, decision, k.profile, k.category, k.cache.String()),
		duration: m.duration.WithLabelValues(proto, decision),
		rcode:    m.responses.WithLabelValues(rcodeLabel(k.rcode)),
	}
}

// rcodeLabel names an rcode (NOERROR, NXDOMAIN, ...). Codes without a
// name share one label, so that a misbehaving caller cannot grow the
// series without bound.
func rcodeLabel(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "other"
}

// Refused records a query that was not served, for reason (ReasonRateLimit,
// ReasonACL or another constant of the caller's: never a client address).
func (m *Metrics) Refused(reason string) {
	if m == nil {
		return
	}
	c, ok := m.reasons.load(reason)
	if !ok {
		c = m.reasons.store(reason, m.newReason)
	}
	c.Inc()
}

func (m *Metrics) newReason(reason string) prometheus.Counter {
	return m.refused.WithLabelValues(reason)
}

// Handler serves the metrics gathered from g in the Prometheus exposition
// formats. A collector that fails does not blank the whole page: the
// scrape carries what could be gathered.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	})
}
