package policy

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/policy/client"
	"github.com/havendns/haven/policy/safesearch"
	"github.com/havendns/haven/policy/schedule"
	"github.com/havendns/haven/resolver"
)

// Window is a schedule window and what it changes while active.
type Window struct {
	schedule.Window
	Block    []string // categories and services blocked extra
	BlockAll bool     // everything blocked but the allow entries
	Unblock  []string // categories and services allowed
}

// rules is one immutable, compiled policy, swapped whole on reload.
type rules struct {
	profiles map[string]*profile
	def      *profile
	devices  map[string]string // device name -> profile name
	ident    *client.Identifier
	macFrom  []netip.Prefix
}

// profile is a Profile compiled for the query path.
type profile struct {
	name       string
	block      []string
	own        *blocklist.Matcher // the profile's allow and deny entries
	blockIPs   []netip.Prefix
	safesearch safesearch.Settings
	bypass     bool
	sched      *schedule.Schedule // nil without windows
	windows    []Window
	why        []string // per window, the category its block-everything answers name, built once
	answer     Answer
}

func compile(cfg Config) (*rules, error) {
	r := &rules{profiles: map[string]*profile{}, devices: map[string]string{}, macFrom: cfg.MACFrom}
	for _, p := range cfg.Profiles {
		cp, err := compileProfile(p)
		if err != nil {
			return nil, fmt.Errorf("profile %q: %w", p.Name, err)
		}
		r.profiles[p.Name] = cp
	}
	r.def = r.profiles[cfg.Default]
	if r.def == nil {
		return nil, fmt.Errorf("default profile %q is not defined", cfg.Default)
	}
	for _, d := range cfg.Devices {
		if d.Profile != "" && r.profiles[d.Profile] == nil {
			return nil, fmt.Errorf("device %q: profile %q is not defined", d.Name, d.Profile)
		}
		r.devices[d.Name] = d.Profile
	}
	var err error
	if r.ident, err = client.NewIdentifier(cfg.Devices, cfg.Default); err != nil {
		return nil, err
	}
	return r, nil
}

func compileProfile(p Profile) (*profile, error) {
	own, err := ownMatcher(p.Allow, p.Deny)
	if err != nil {
		return nil, err
	}
	cp := &profile{
		name: p.Name, block: p.Block, own: own, blockIPs: p.BlockIPs,
		safesearch: p.SafeSearch, bypass: p.BypassPrevention, windows: p.Windows, answer: p.Answer,
	}
	if p.BypassPrevention {
		cp.block = append(append([]string(nil), p.Block...), BypassCategory)
	}
	if len(p.Windows) > 0 {
		loc := p.Location
		if loc == nil {
			loc = time.UTC
		}
		ws := make([]schedule.Window, len(p.Windows))
		cp.why = make([]string, len(p.Windows))
		for i, w := range p.Windows {
			ws[i] = w.Window
			cp.why[i] = ScheduleCategory + ":" + w.Name
		}
		if cp.sched, err = schedule.New(loc, ws); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// CustomCategory names the operator's own deny entries in answers and logs.
const CustomCategory = "custom"

// BypassCategory is the category of DoH/DoT/VPN/proxy endpoints blocked by
// bypass prevention.
const BypassCategory = "bypass"

// allowMark is the category of the block rule shadowing each allow entry
// in a profile's own matcher. The matcher reports an exception only when it
// lifts a block, so an allow entry with no deny entry above it would go
// unseen: the schedule, a pause or the lists would decide instead. The
// shadow rule is always lifted by its own allow entry (same name, same
// level), and a more specific deny entry still beats both.
const allowMark = "allow-entry"

func ownMatcher(allow, deny []string) (*blocklist.Matcher, error) {
	l, marks := &blocklist.List{}, &blocklist.List{}
	for i, n := range allow {
		l.Rules = append(l.Rules, blocklist.Rule{Name: n, Kind: blocklist.Subtree, Allow: true, Line: i + 1})
		marks.Rules = append(marks.Rules, blocklist.Rule{Name: n, Kind: blocklist.Subtree, Line: i + 1})
	}
	for i, n := range deny {
		l.Rules = append(l.Rules, blocklist.Rule{Name: n, Kind: blocklist.Subtree, Line: i + 1})
	}
	return blocklist.NewMatcher([]blocklist.Input{
		{Category: CustomCategory, Source: "config", List: l},
		{Category: allowMark, Source: "config", List: marks},
	})
}

// identify finds the device and profile behind a query. The MAC comes from
// the EDNS0 option only when a trusted router sent it, else from the
// neighbour table when Haven runs on the gateway.
func (r *rules) identify(q *resolver.Query, nb Neighbors) (string, *profile) {
	who := client.Who{ClientID: q.ClientID, Addr: q.Client}
	if r.trustedMAC(q.Client) {
		who.MAC, who.HasMAC = client.FromEDNS(q.Msg)
	}
	if !who.HasMAC && nb != nil && q.Client.IsValid() {
		who.MAC, who.HasMAC = nb.Lookup(q.Client)
	}
	return r.lookup(who)
}

func (r *rules) lookup(who client.Who) (string, *profile) {
	device, name := r.ident.Identify(who)
	if p := r.profiles[name]; p != nil {
		return device, p
	}
	return device, r.def
}

func (r *rules) trustedMAC(a netip.Addr) bool {
	for _, p := range r.macFrom {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
