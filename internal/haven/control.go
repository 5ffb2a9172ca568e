package haven

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/havendns/haven/api"
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
	h.api = api.New(api.Options{Addr: cfg.HTTP, Controller: h, Token: token, Logger: h.log, Now: h.opt.Now})
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

// Status reports lists, upstreams and the cache.
func (h *Haven) Status(ctx context.Context) (any, error) {
	st := map[string]any{
		"version": h.opt.Version,
		"lists":   h.store.Status(),
	}
	t := h.tail.Load()
	var ups []any
	for _, g := range t.groups {
		ups = append(ups, g.Status())
	}
	st["upstreams"] = ups
	if t.cache != nil {
		st["cache"] = t.cache.Stats()
	}
	return st, nil
}

// RefreshLists fetches every list source now.
func (h *Haven) RefreshLists(ctx context.Context) error { return h.store.Refresh(ctx) }
