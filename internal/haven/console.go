package haven

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/metrics"
	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/state"
	"github.com/havendns/haven/web"
	"github.com/prometheus/client_golang/prometheus"
)

// openQueryLog opens the query log in the data directory, if there is one
// and the log is on.
func (h *Haven) openQueryLog() error {
	cfg := h.config()
	if cfg.DataDir == "" || !cfg.QueryLog.Enabled {
		return nil
	}
	retention := cfg.QueryLog.Retention
	if retention == 0 {
		retention = querylog.KeepForever // the config's 0; the log's own 0 is its default
	}
	l, err := querylog.Open(querylog.Options{
		Path:      filepath.Join(cfg.DataDir, "querylog.db"),
		Retention: retention,
		Anonymize: cfg.QueryLog.Anonymize,
		Buffer:    cfg.QueryLog.Buffer,
		Logger:    h.log,
		Now:       h.opt.Now,
	})
	if err != nil {
		return fmt.Errorf("query log: %w", err)
	}
	h.qlog = l
	return nil
}

// newMetrics registers Haven's metrics, and the Go runtime's, on a registry
// of this Haven's own.
func (h *Haven) newMetrics() {
	h.registry = prometheus.NewRegistry()
	h.metrics = metrics.New(h.registry)
	_ = h.metrics.Watch(metrics.Sources{
		Cache: func() (uint64, uint64, uint64, uint64, int) {
			c := h.tail.Load().cache
			if c == nil {
				return 0, 0, 0, 0, 0
			}
			s := c.Stats()
			return s.Hits, s.Misses, s.Stale, s.Evictions, s.Entries
		},
		Upstreams: func() []metrics.Upstream {
			var out []metrics.Upstream
			for _, g := range h.tail.Load().groups {
				for _, s := range g.Status() {
					out = append(out, metrics.Upstream{Name: s.Name, Healthy: s.Healthy, Queries: uint64(s.Queries), Errors: uint64(s.Errors), LastRTT: s.LastRTT})
				}
			}
			return out
		},
		Lists: func() []metrics.List {
			var out []metrics.List
			for _, s := range h.store.Status() {
				out = append(out, metrics.List{Name: s.Name, Category: s.Category, Rules: s.Rules, LastSuccess: s.LastSuccess, Healthy: s.LastError == ""})
			}
			return out
		},
		Log: func() (uint64, uint64, bool) {
			if h.qlog == nil {
				return 0, 0, true
			}
			ok, _ := h.qlog.Healthy()
			return h.qlog.Written(), h.qlog.Dropped(), ok
		},
	})
}

// Devices reports every configured device with its profile and state.
func (h *Haven) Devices(ctx context.Context) ([]api.Device, error) {
	cfg := h.config()
	snap := h.filter.StateSnapshot()
	now := h.opt.Now()
	var out []api.Device
	for _, d := range cfg.Devices {
		profile, st, until := h.filter.DeviceState(d.Name)
		dev := api.Device{Name: d.Name, Profile: profile, State: st, Until: until}
		dev.Exceptions = append(append([]state.Entry(nil), snap.Exceptions(d.Name, now)...), snap.Exceptions(profile, now)...)
		out = append(out, dev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

var errNoLog = fmt.Errorf("the query log is off (it needs data_dir): %w", api.ErrUnavailable)

// Search pages through the query log.
func (h *Haven) Search(ctx context.Context, f querylog.Filter) ([]querylog.Row, int64, error) {
	if h.qlog == nil {
		return nil, 0, errNoLog
	}
	return h.qlog.Search(ctx, f)
}

// Stats counts queries from the log per hour or day.
func (h *Haven) Stats(ctx context.Context, from, to time.Time, bucket querylog.Bucket, by string) ([]querylog.Stat, error) {
	if h.qlog == nil {
		return nil, errNoLog
	}
	return h.qlog.Stats(ctx, from, to, bucket, by)
}

// Top returns the most asked (or most blocked) names.
func (h *Haven) Top(ctx context.Context, from, to time.Time, blocked bool, device string, n int) ([]querylog.Count, error) {
	if h.qlog == nil {
		return nil, errNoLog
	}
	return h.qlog.Top(ctx, from, to, blocked, device, n)
}

// DeleteDeviceLog deletes one device's history.
func (h *Haven) DeleteDeviceLog(ctx context.Context, device string) (int64, error) {
	if h.qlog == nil {
		return 0, errNoLog
	}
	return h.qlog.DeleteDevice(ctx, device)
}

// console returns the web console's handler.
func (h *Haven) console() http.Handler {
	return web.New(web.Options{Backend: h, Logger: h.log, Now: h.opt.Now})
}
