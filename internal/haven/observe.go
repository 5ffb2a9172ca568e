package haven

import (
	"time"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/metrics"
	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server"
	"github.com/havendns/haven/server/access"
)

// observe is called by the server after every answer is written: it feeds
// the metrics and the query log, neither of which may slow the query (the
// log's Add never blocks; a full buffer drops and counts the entry).
func (h *Haven) observe(q *resolver.Query, rcode int, d time.Duration) {
	h.metrics.Query(q, rcode, d)
	if h.qlog == nil {
		return
	}
	switch (*h.logLevel.Load())[q.Trace.Profile] {
	case config.LogNone:
		return
	case config.LogBlocked:
		if q.Trace.Decision != resolver.Blocked {
			return
		}
	}
	h.qlog.Add(querylog.EntryOf(q, rcode, h.opt.Now(), d))
}

// refused is called for each query the access guard turns away, with the
// guard's reason, which becomes one of the metric's documented labels.
func (h *Haven) refused(reason string) { h.metrics.Refused(refusedReason(reason)) }

func refusedReason(why string) string {
	switch why {
	case access.ClientRate.String(), access.PrefixRate.String():
		return metrics.ReasonRateLimit
	case server.ReasonBusy:
		return metrics.ReasonBusy
	}
	return metrics.ReasonACL // denied, or outside the allow list
}

// setLogLevels records each profile's query log level.
func (h *Haven) setLogLevels(cfg *config.Config) {
	m := make(map[string]config.LogLevel, len(cfg.Profiles))
	for _, p := range cfg.Profiles {
		m[p.Name] = p.Log
	}
	h.logLevel.Store(&m)
}
