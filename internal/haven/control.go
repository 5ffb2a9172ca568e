package haven

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/metrics"
	"github.com/havendns/haven/policy/client"
	"github.com/havendns/haven/state"
	"github.com/miekg/dns"
)

// Haven is the API's Controller: runtime control goes through the state
// store, and the policy sees each change as soon as it is stored.
var _ api.Controller = (*Haven)(nil)

func (h *Haven) startAPI() error {
	cfg := h.config()
	if cfg.HTTP == "" {
		return nil
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("http: the API needs data_dir for its token")
	}
	token, err := api.LoadOrCreateToken(cfg.DataDir)
	if err != nil {
		return err
	}
	h.api = api.New(api.Options{
		Addr: cfg.HTTP, Controller: h, Token: token, Logger: h.log, Now: h.opt.Now,
		PasswordHash: cfg.Console.PasswordHash, DataDir: cfg.DataDir,
		Metrics:       metrics.Handler(h.registry),
		PublicMetrics: cfg.Console.PublicMetrics,
		Console:       h.console(),
	})
	return h.api.Start()
}

// APIAddr returns the bound address of the HTTP API, "" when it is off.
func (h *Haven) APIAddr() string {
	if h.api == nil {
		return ""
	}
	return h.api.Addr()
}

// Pause turns off everything but the allow entries for a device or profile.
func (h *Haven) Pause(ctx context.Context, target string, until time.Time, by string) (state.Entry, error) {
	if err := h.checkTarget(target, until); err != nil {
		return state.Entry{}, err
	}
	return h.put(ctx, state.Entry{Target: target, Kind: state.Pause, Until: until, By: by})
}

// Allow grants a device or profile a category, service or domain until a
// time, whatever its lists and schedules say.
func (h *Haven) Allow(ctx context.Context, target, what string, until time.Time, by string) (state.Entry, error) {
	if err := h.checkTarget(target, until); err != nil {
		return state.Entry{}, err
	}
	what = strings.ToLower(strings.TrimSpace(what))
	if m := h.store.Matcher(); m == nil || m.Mask(what) == 0 {
		n, err := NormalizeName(what)
		if err != nil {
			return state.Entry{}, fmt.Errorf("%q is neither a category, a service nor a domain name: %w", what, api.ErrInvalid)
		}
		what = strings.TrimSuffix(n, ".")
	}
	return h.put(ctx, state.Entry{Target: target, Kind: state.Allow, What: what, Until: until, By: by})
}

// Resume ends every pause and exception of a device or profile.
func (h *Haven) Resume(ctx context.Context, target string) (int, error) {
	if !h.filter.HasTarget(target) {
		return 0, fmt.Errorf("no device or profile %q: %w", target, api.ErrNotFound)
	}
	n, err := h.state.Delete(ctx, state.Filter{Target: target})
	if err != nil {
		return n, err
	}
	return n, h.reloadState(ctx)
}

// Entries lists the pauses and exceptions in force.
func (h *Haven) Entries(ctx context.Context) ([]state.Entry, error) {
	all, err := h.state.List(ctx)
	if err != nil {
		return nil, err
	}
	now := h.opt.Now()
	var out []state.Entry
	for _, e := range all {
		if e.Active(now) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (h *Haven) checkTarget(target string, until time.Time) error {
	if !h.filter.HasTarget(target) {
		return fmt.Errorf("no device or profile %q: %w", target, api.ErrNotFound)
	}
	if !until.After(h.opt.Now()) {
		return fmt.Errorf("%s is not in the future: %w", until.Format(time.RFC3339), api.ErrInvalid)
	}
	return nil
}

func (h *Haven) put(ctx context.Context, e state.Entry) (state.Entry, error) {
	e, err := h.state.Put(ctx, e)
	if err != nil {
		return e, err
	}
	return e, h.reloadState(ctx)
}

// ParseWho reads a client as a person names it: an IP address, a MAC
// address or a DoH/DoT client id ("" is any unmatched client).
func ParseWho(s string) (client.Who, error) {
	var w client.Who
	if s == "" {
		return w, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		w.Addr = ip.Unmap()
		return w, nil
	}
	if mac, err := client.ParseMAC(s); err == nil {
		w.MAC, w.HasMAC = mac, true
		return w, nil
	}
	k, err := client.ParseKey(s)
	if err != nil || k.Kind != client.KeyClientID {
		return w, fmt.Errorf("client %q is not an IP, MAC or client id: %w", s, api.ErrInvalid)
	}
	w.ClientID = k.ID
	return w, nil
}

// Explain is the API's view of a decision.
func (h *Haven) Explain(ctx context.Context, who, name, qtype string) (any, error) {
	w, err := ParseWho(who)
	if err != nil {
		return nil, err
	}
	n, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, api.ErrInvalid)
	}
	t := dns.TypeA
	if qtype != "" {
		var ok bool
		if t, ok = dns.StringToType[strings.ToUpper(qtype)]; !ok {
			return nil, fmt.Errorf("unknown query type %q: %w", qtype, api.ErrInvalid)
		}
	}
	return h.explainJSON(w, n, t), nil
}

// Status reports lists, upstreams, the cache and the query log.
func (h *Haven) Status(ctx context.Context) (api.Status, error) {
	st := api.Status{Version: h.opt.Version}
	for _, s := range h.store.Status() {
		st.Lists = append(st.Lists, api.ListStatus{
			Name: s.Name, Category: s.Category, Kind: s.Kind, Rules: s.Rules, HasCopy: s.HasCopy,
			FromCache: s.FromCache, LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess,
			Age: api.Duration(s.Age), LastError: s.LastError,
		})
	}
	cfg := h.config()
	t := h.tail.Load()
	for i, g := range t.groups {
		group := "" // the first group is the default upstreams, then one per conditional zone
		if i > 0 && i-1 < len(cfg.Conditional) {
			group = cfg.Conditional[i-1].Domain
		}
		for _, u := range g.Status() {
			st.Upstreams = append(st.Upstreams, api.UpstreamStatus{
				Group: group, Name: u.Name, Healthy: u.Healthy, Failures: u.Failures,
				Queries: int64(u.Queries), Errors: int64(u.Errors), RTT: api.Duration(u.LastRTT),
				LastError: u.LastError, RetryAt: u.RetryAt,
			})
		}
	}
	if t.cache != nil {
		c := t.cache.Stats()
		st.Cache = &api.CacheStatus{Entries: c.Entries, Hits: c.Hits, Misses: c.Misses, Stale: c.Stale, Evictions: c.Evictions}
	}
	if h.qlog != nil {
		ok, lastErr := h.qlog.Healthy()
		st.QueryLog = &api.QueryLogStatus{Healthy: ok, LastError: lastErr, Written: h.qlog.Written(), Dropped: h.qlog.Dropped()}
	}
	return st, nil
}

// RefreshLists fetches every list source now.
func (h *Haven) RefreshLists(ctx context.Context) error { return h.store.Refresh(ctx) }
