package haven

import (
	"fmt"
	"strings"
	"time"

	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/policy/client"
	"github.com/miekg/dns"
	"golang.org/x/net/idna"
)

// NormalizeName turns a name as a person types it (any case, Unicode, with
// or without the final dot) into the lower-case, punycode, fully qualified
// form queries carry on the wire.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" {
		return "", fmt.Errorf("empty name")
	}
	a, err := idna.ToASCII(strings.ToLower(name))
	if err != nil {
		return "", fmt.Errorf("name %q: %w", name, err)
	}
	if _, ok := dns.IsDomainName(a); !ok {
		return "", fmt.Errorf("name %q: not a valid domain name", name)
	}
	return dns.Fqdn(a), nil
}

// NeedsDownload reports whether some list has never been fetched, so the
// lists in force lack it.
func (h *Haven) NeedsDownload() bool { return h.needsDownload() }

func (h *Haven) needsDownload() bool {
	for _, s := range h.store.Status() {
		if s.Kind == blocklist.SourceURL && !s.HasCopy {
			return true
		}
	}
	return false
}

// Explained is a decision as the API reports it.
type Explained struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Device     string   `json:"device,omitempty"`
	Profile    string   `json:"profile"`
	Decision   string   `json:"decision"` // blocked, allowed or rewritten
	Category   string   `json:"category,omitempty"`
	Rule       string   `json:"rule,omitempty"` // the deciding rule, described
	Tier       string   `json:"tier,omitempty"`
	Windows    []string `json:"active_schedules,omitempty"`
	Paused     bool     `json:"paused,omitempty"`
	Rewrite    string   `json:"rewrite,omitempty"`
	TTLCap     string   `json:"ttl_cap,omitempty"`
	Answer     string   `json:"answer,omitempty"`
	OtherRules []string `json:"matching_rules,omitempty"`
}

func (h *Haven) explainJSON(who client.Who, name string, qtype uint16) Explained {
	e := h.filter.Explain(who, name, qtype)
	x := Explained{
		Name: name, Type: dns.TypeToString[qtype], Device: e.Device, Profile: e.Profile,
		Decision: "allowed", Category: e.Category, Tier: e.Tier, Windows: e.Windows,
		Paused: e.Paused, Rewrite: e.Rewrite,
	}
	switch {
	case e.Blocked:
		x.Decision = "blocked"
	case e.Rewrite != "":
		x.Decision = "rewritten"
	}
	if e.TTLCap > 0 {
		x.TTLCap = e.TTLCap.Round(time.Second).String()
	}
	if e.Rule.Name != "" {
		x.Rule = h.describe(e.Category, e.Rule)
	}
	if e.Answer != nil {
		x.Answer = dns.RcodeToString[e.Answer.Rcode]
		for _, rr := range e.Answer.Answer {
			x.Answer += " " + strings.ReplaceAll(rr.String(), "\t", " ")
		}
		x.Answer += " (Extended DNS Error 17, Filtered)"
	}
	for _, hit := range e.Hits {
		x.OtherRules = append(x.OtherRules, h.describe(hit.Category, hit.Ref))
	}
	return x
}

// Describe explains, for a person, how Haven would answer name and qtype
// for a client, and why: the profile, the deciding rule with its category,
// source and line, and every other rule that matches.
func (h *Haven) Describe(who client.Who, name string, qtype uint16) string {
	x := h.explainJSON(who, name, qtype)
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-10s %s\n", k+":", v)
		}
	}
	line("query", x.Name+" "+x.Type)
	profile := x.Profile
	if x.Device != "" {
		profile += " (device " + x.Device + ")"
	}
	line("profile", profile)
	line("schedules", strings.Join(x.Windows, ", "))
	if x.Paused {
		line("state", "paused")
	}
	decision := x.Decision
	if x.Decision == "allowed" && x.Rule == "" {
		decision += " (forwarded through the cache to " + h.upstreamNames() + ")"
	}
	line("decision", decision)
	line("category", x.Category)
	line("rule", x.Rule)
	line("by", x.Tier)
	line("rewrite", x.Rewrite)
	line("answer", x.Answer)
	line("ttl cap", x.TTLCap)
	if len(x.OtherRules) > 0 {
		fmt.Fprintf(&b, "matching list rules (most specific first):\n")
		for _, r := range x.OtherRules {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	return b.String()
}

func (h *Haven) describe(category string, r blocklist.Ref) string {
	kind := map[blocklist.Kind]string{blocklist.Subtree: "and subdomains", blocklist.Exact: "exact", blocklist.Below: "subdomains only"}[r.Kind]
	if r.Pattern {
		kind = "pattern"
	}
	what := "block"
	if r.Allow {
		what = "allow"
	}
	s := fmt.Sprintf("%s %s (%s)", what, r.Name, kind)
	if category != "" {
		s += " in " + category
	}
	if r.Source != "" {
		s += ", from " + r.Source
	}
	if line := h.store.Line(r); line > 0 {
		s += fmt.Sprintf(" line %d", line)
	}
	return s
}

func (h *Haven) upstreamNames() string {
	var names []string
	for _, u := range h.config().Upstreams {
		names = append(names, u.URL)
	}
	return strings.Join(names, ", ")
}
