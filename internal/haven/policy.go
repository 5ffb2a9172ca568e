package haven

import (
	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/config"
	"github.com/havendns/haven/policy"
	"github.com/havendns/haven/policy/client"
	"github.com/havendns/haven/policy/safesearch"
	"github.com/havendns/haven/policy/schedule"
)

// policyConfig converts the config's profiles and devices into the policy
// step's types. The config has validated everything, so a conversion error
// here is a bug in one of the two, reported as such.
func policyConfig(cfg *config.Config) (policy.Config, error) {
	pc := policy.Config{Default: cfg.DefaultProfile, MACFrom: cfg.MACFrom}
	for _, p := range cfg.Profiles {
		cp := policy.Profile{
			Name:             p.Name,
			Block:            p.Block,
			Allow:            p.Allow,
			Deny:             p.Deny,
			BlockIPs:         p.BlockIPs,
			SafeSearch:       safeSearch(p.SafeSearch),
			BypassPrevention: p.BypassPrevention,
			Location:         p.Location,
			Answer:           blockAnswer(p.Answer),
		}
		for _, s := range p.Schedules {
			from, err := schedule.ParseClock(s.From)
			if err != nil {
				return pc, err
			}
			to, err := schedule.ParseClock(s.To)
			if err != nil {
				return pc, err
			}
			cp.Windows = append(cp.Windows, policy.Window{
				Window:   schedule.Window{Name: s.Name, Days: s.Days, From: from, To: to},
				Block:    s.Block,
				BlockAll: s.BlockAll,
				Unblock:  s.Unblock,
			})
		}
		pc.Profiles = append(pc.Profiles, cp)
	}
	for _, d := range cfg.Devices {
		cd := client.Device{Name: d.Name, Profile: d.Profile}
		for _, m := range d.Match {
			if err := cd.AddKey(m); err != nil {
				return pc, err
			}
		}
		pc.Devices = append(pc.Devices, cd)
	}
	return pc, nil
}

func safeSearch(s config.SafeSearch) safesearch.Settings {
	out := safesearch.Settings{
		Google: s.Google, Bing: s.Bing, DuckDuckGo: s.DuckDuckGo, Yandex: s.Yandex,
		Ecosia: s.Ecosia, Pixabay: s.Pixabay, Brave: s.Brave,
	}
	switch s.YouTube {
	case "strict":
		out.YouTube = safesearch.Strict
	case "moderate":
		out.YouTube = safesearch.Moderate
	}
	return out
}

func blockAnswer(a config.Answer) policy.Answer {
	out := policy.Answer{IPv4: a.IPv4, IPv6: a.IPv6, TTL: a.TTL}
	switch a.Mode {
	case config.AnswerNull:
		out.Mode = policy.Null
	case config.AnswerRefused:
		out.Mode = policy.Refused
	case config.AnswerAddress:
		out.Mode = policy.Address
	default:
		out.Mode = policy.NXDomain
	}
	return out
}

// Sources converts the config's lists, and the services its profiles can
// block, into blocklist sources. A service is a category whose list is its
// domains; bypass prevention needs the built-in bypass list, added when no
// list of that category is configured.
func Sources(cfg *config.Config) []blocklist.Source {
	var out []blocklist.Source
	have := map[string]bool{}
	for _, l := range cfg.Lists {
		s := l.Source
		have[l.Category] = true
		out = append(out, blocklist.Source{
			Category: l.Category,
			Name:     s.Name,
			URL:      s.URL,
			Path:     s.Path,
			Builtin:  s.Builtin,
			Inline:   s.Inline,
			Exact:    s.Match == config.MatchExact,
			Regex:    s.Regex,
		})
	}
	used := map[string]bool{}
	for _, p := range cfg.Profiles {
		for _, b := range p.Block {
			used[b] = true
		}
		for _, s := range p.Schedules {
			for _, b := range append(append([]string(nil), s.Block...), s.Unblock...) {
				used[b] = true
			}
		}
		if p.BypassPrevention {
			used[policy.BypassCategory] = true
		}
	}
	for _, s := range cfg.Services {
		if have[s.Name] {
			continue
		}
		// Every service is loaded, used or not, so that a parent's
		// "allow youtube for 30 minutes" works on any profile.
		out = append(out, blocklist.Source{Category: s.Name, Name: "service:" + s.Name, Inline: s.Domains})
		have[s.Name] = true
	}
	if used[policy.BypassCategory] && !have[policy.BypassCategory] {
		out = append(out, blocklist.Source{Category: policy.BypassCategory, Builtin: "bypass"})
	}
	return out
}
