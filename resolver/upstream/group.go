package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// GroupOptions tune a Group.
type GroupOptions struct {
	Timeout time.Duration    // per query, across all upstreams tried; 0 means 2s
	Logger  *slog.Logger     // nil means no logging
	Now     func() time.Time // clock for health and back-off; nil means time.Now
}

// Group sends a query to a set of upstreams with failover. It tries healthy
// upstreams first, in configured order, then those backing off after a
// failure (1s, doubling to 60s, reset by a success), and returns the first
// valid answer. An answer other than NOERROR or NXDOMAIN (SERVFAIL, REFUSED,
// ...) counts as a failure and the next upstream is tried; if no upstream
// does better, the first such answer is returned rather than an error.
//
// Each attempt gets an equal share of the time left, so that a black-holed
// upstream cannot use up the whole query timeout before the next is tried.
type Group struct {
	members []*member
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
}

// NewGroup returns a Group over ups, which are tried in the given order.
func NewGroup(ups []Upstream, opt GroupOptions) *Group {
	g := &Group{timeout: opt.Timeout, log: opt.Logger, now: opt.Now}
	if g.timeout <= 0 {
		g.timeout = defaultTimeout
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	for _, u := range ups {
		g.members = append(g.members, &member{up: u, name: u.String()})
	}
	return g
}

// Exchange sends m to the upstreams until one answers. m is not modified.
func (g *Group) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	r, _, err := g.exchange(ctx, m)
	return r, err
}

// Close closes the upstreams that hold connections (see New).
func (g *Group) Close() error {
	var errs []error
	for _, mb := range g.members {
		if c, ok := mb.up.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// exchange is Exchange that also says which upstream answered.
func (g *Group) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, string, error) {
	if len(g.members) == 0 {
		return nil, "", errors.New("no upstreams")
	}
	// The time left travels as a deadline, not as a context with a timer
	// of its own: that context cost 5% of the CPU of a query forwarded to
	// a UDP upstream, which keeps its own timer (deadliner).
	deadline := time.Now().Add(g.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}

	order, healthy := g.order()
	var (
		fallback     *dns.Msg
		fallbackFrom string
		errs         []error
	)
	for i, mb := range order {
		err := ctx.Err()
		if err == nil && !time.Now().Before(deadline) {
			err = context.DeadlineExceeded
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%d more not tried: %w", len(order)-i, err))
			break
		}
		// Healthy upstreams share the time; those backing off share what
		// the healthy ones leave.
		left := healthy - i
		if i >= healthy {
			left = len(order) - i
		}
		r, rtt, err := g.attempt(ctx, mb, m, deadline, left)
		if err == nil && r == nil {
			err = fmt.Errorf("%s: no answer", mb.name)
		}
		switch {
		case err != nil:
			if errors.Is(ctx.Err(), context.Canceled) {
				// The caller gave up: no fault of the upstream's.
				return nil, "", ctxErr(ctx, err)
			}
			g.failed(mb, err)
			errs = append(errs, err)
		case r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError:
			err = fmt.Errorf("%s: answered %s", mb.name, dns.RcodeToString[r.Rcode])
			g.failed(mb, err)
			errs = append(errs, err)
			if fallback == nil {
				fallback, fallbackFrom = r, mb.name
			}
		default:
			g.succeeded(mb, rtt)
			return r, mb.name, nil
		}
	}
	if fallback != nil {
		// What every upstream refused or failed is, for Haven's own
		// client, a server failure: passing on REFUSED or NOTIMP would
		// read as Haven refusing the client.
		if fallback.Rcode != dns.RcodeServerFailure {
			fallback.Rcode = dns.RcodeServerFailure
			fallback.Answer, fallback.Ns = nil, nil
		}
		return fallback, fallbackFrom, nil
	}
	return nil, "", fmt.Errorf("all upstreams failed: %w", errors.Join(errs...))
}

// attempt asks one upstream, within its share of the time left before
// deadline.
func (g *Group) attempt(ctx context.Context, mb *member, m *dns.Msg, deadline time.Time, shares int) (*dns.Msg, time.Duration, error) {
	start := time.Now()
	by := start.Add(deadline.Sub(start) / time.Duration(max(shares, 1)))
	var (
		r   *dns.Msg
		err error
	)
	if d, ok := mb.up.(deadliner); ok {
		r, err = d.exchangeBy(ctx, m, by)
	} else {
		actx, cancel := context.WithDeadline(ctx, by)
		r, err = mb.up.Exchange(actx, m)
		cancel()
	}
	return r, time.Since(start), err
}

// deadliner is an Upstream that can be given a deadline without a context
// to carry it, because it waits with a timer of its own anyway.
type deadliner interface {
	// exchangeBy is Exchange, giving up at by if that is sooner than the
	// upstream's own timeout.
	exchangeBy(ctx context.Context, m *dns.Msg, by time.Time) (*dns.Msg, error)
}

// target is Forwarder.Target for the group: its first healthy member, if
// that is plain UDP.
func (g *Group) target() (netip.AddrPort, string, bool) {
	now := g.now()
	for _, mb := range g.members {
		if !mb.healthy(now) {
			continue
		}
		if u, ok := mb.up.(*udpUpstream); ok && u.addr.IsValid() {
			return u.addr, mb.name, true
		}
		return netip.AddrPort{}, "", false
	}
	return netip.AddrPort{}, "", false
}

// order returns the members to try: healthy ones first, in configured
// order, then those backing off; and how many are healthy.
func (g *Group) order() ([]*member, int) {
	now := g.now()
	for i, mb := range g.members {
		if mb.healthy(now) {
			continue
		}
		out := make([]*member, i, len(g.members))
		copy(out, g.members[:i])
		down := []*member{mb}
		for _, mb := range g.members[i+1:] {
			if mb.healthy(now) {
				out = append(out, mb)
			} else {
				down = append(down, mb)
			}
		}
		return append(out, down...), len(out)
	}
	// All healthy, the usual case: the configured order, not copied (the
	// caller only reads it).
	return g.members, len(g.members)
}
