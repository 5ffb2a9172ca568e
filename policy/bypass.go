package policy

import "github.com/miekg/dns"

// bypassNames are the names devices ask to decide whether to go around the
// network's resolver, and the answer that keeps them on it.
var bypassNames = map[string]Mode{
	// Firefox turns off its own DoH when this canary does not resolve.
	"use-application-dns.net.": NXDomain,
	// Apple devices turn off iCloud Private Relay on networks where these
	// do not resolve, and tell the user the network blocks it.
	"mask.icloud.com.":    NXDomain,
	"mask-h2.icloud.com.": NXDomain,
	// Discovery of Designated Resolvers (RFC 9462): refusing it keeps
	// devices from upgrading to an encrypted resolver that is not Haven.
	"_dns.resolver.arpa.": Refused,
}

// special is the answer to a bypass-prevention name.
func special(req *dns.Msg, mode int8, category string) *dns.Msg {
	return Answer{Mode: Mode(mode), TTL: defaultBlockTTL}.Build(req, category)
}
