package haven

import (
	"net/netip"
	"sync/atomic"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/server/access"
)

// guard is the server's Guard: it delegates to the access rules in force,
// which a reload replaces.
type guard struct {
	g atomic.Pointer[access.Guard]
}

func (g *guard) Check(a netip.Addr) (access.Action, access.Reason) { return g.g.Load().Check(a) }

func (g *guard) set(cfg *config.Config, h *Haven) {
	act, err := access.ParseAction(cfg.RateLimit.Action)
	if err != nil {
		act = access.Refuse // config has validated it; be safe anyway
	}
	g.g.Store(access.New(access.Options{
		Allow:       cfg.Access.Allow,
		Deny:        cfg.Access.Deny,
		ClientRate:  cfg.RateLimit.Client,
		ClientBurst: cfg.RateLimit.Burst,
		Prefix4Rate: cfg.RateLimit.PrefixV4,
		Prefix6Rate: cfg.RateLimit.PrefixV6,
		PrefixBurst: cfg.RateLimit.PrefixBurst,
		Exempt:      cfg.RateLimit.Exempt,
		OverLimit:   act,
		Now:         h.opt.Now,
	}))
}
