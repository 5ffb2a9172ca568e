package blocklist

import (
	"bytes"
	"net/netip"
)

// Skip reasons for whole lines and rules (keys of Stats.Skipped), besides
// the name reasons in normalize.go and the modifier reasons, which are
// "unsupported modifier $NAME".
const (
	reasonRewrite      = "rewrite entry (non-sinkhole address)"
	reasonHeader       = "adblock header"
	reasonCosmetic     = "cosmetic rule"
	reasonURL          = "url pattern"
	reasonPartial      = "partial pattern"
	reasonBadPattern   = "invalid pattern"
	reasonRegex        = "invalid regex"
	reasonRegexOption  = "unsupported regex option"
	reasonUnrecognised = "unrecognised line"
	reasonBadfilter    = "$badfilter rule"
	reasonBadfiltered  = "disabled by $badfilter"
)

// parseLine handles one line of any format. b points into the scanner's
// buffer and is only read.
func (p *listParser) parseLine(b []byte) {
	b = trimLine(b)
	if len(b) == 0 || b[0] == '#' || b[0] == '!' {
		// '#' also covers "## section" comments in hosts files, which
		// adblock syntax would read as a generic cosmetic rule; neither
		// means anything to a DNS filter.
		p.comments++
		return
	}
	if !p.plainName(b) {
		p.anyLine(b)
	}
}

// anyLine handles a line that is not a comment, in any format.
func (p *listParser) anyLine(b []byte) {
	b = cutComment(b)
	if p.opt.Regex {
		p.regexLine(b)
		return
	}
	if b[0] == '[' && b[len(b)-1] == ']' {
		p.skip(reasonHeader)
		return
	}
	if isCosmetic(b) {
		p.skip(reasonCosmetic)
		return
	}
	first, rest := splitField(b)
	if len(rest) == 0 {
		p.rule(first)
		return
	}
	addr, ok := parseHostsAddr(first)
	if !ok {
		p.skip(reasonUnrecognised)
		return
	}
	p.hosts(addr, rest)
}

// plainName handles a line that is nothing but a lower-case name, the
// whole of most lists, in one pass over its bytes, and reports whether it
// was one. Anything else takes the general path, which gives the same
// result for these lines; so does checkName, which gives the reason of a
// name refused here.
func (p *listParser) plainName(line []byte) bool {
	if p.opt.Regex || line[0] == '.' || line[0] == '-' {
		return false // a regex, or a partial pattern
	}
	b := trimFinalDot(line)
	labels, start, digits := 1, 0, true // digits: only digits and dots so far
	ok := len(b) <= maxNameLen
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z' || c == '-' || c == '_':
			digits = false
		case '0' <= c && c <= '9':
		case c == '.':
			if i == start || i-start > maxLabelLen {
				ok = false
			}
			labels++
			start = i + 1
		default:
			return false
		}
	}
	if !ok || labels == 1 || digits && labels == 4 || start == len(b) || len(b)-start > maxLabelLen {
		if reason := checkName(b, false); reason != "" {
			p.skip(reason)
			return true
		}
	}
	kind := Subtree
	if p.opt.Exact {
		kind = Exact
	}
	p.addRule(b, kind, ruleOptions{})
	return true
}

// hosts handles the names of a hosts line after its address.
func (p *listParser) hosts(addr netip.Addr, names []byte) {
	addr = addr.Unmap()
	sinkhole := addr.IsUnspecified() || addr.IsLoopback()
	kind := Subtree
	if p.opt.Exact {
		kind = Exact
	}
	for len(names) > 0 {
		var tok []byte
		tok, names = splitField(names)
		if isPreamble(trimFinalDot(tok)) {
			p.skip(reasonPreamble)
			continue
		}
		if !sinkhole {
			// A real address pins the name (SafeSearch); that is a
			// rewrite, which a blocklist cannot express.
			p.skip(reasonRewrite)
			continue
		}
		name, reason := normalizeInto(&p.name, tok, false)
		if reason != "" {
			p.skip(reason)
			continue
		}
		p.addRule(name, kind, ruleOptions{})
	}
}

// parseHostsAddr parses the address column of a hosts line. The common sinkholes
// are recognised without a conversion to string (which allocates), and
// anything that cannot be an address is refused without one.
func parseHostsAddr(b []byte) (netip.Addr, bool) {
	switch string(b) {
	case "0.0.0.0":
		return netip.IPv4Unspecified(), true
	case "127.0.0.1":
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	case "::":
		return netip.IPv6Unspecified(), true
	case "::1":
		return netip.IPv6Loopback(), true
	}
	for i, c := range b {
		hex := '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
		if c == '%' {
			break // a zone, as in fe80::1%lo0, may hold any character
		}
		if !hex && c != '.' && c != ':' || i > 45 {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(string(b))
	return a, err == nil
}

// cutComment removes an inline comment: a '#' preceded by a space or a tab,
// and what follows. A '#' elsewhere belongs to the rule (cosmetic rules).
func cutComment(b []byte) []byte {
	for i := 1; i < len(b); i++ {
		if b[i] == '#' && (b[i-1] == ' ' || b[i-1] == '\t') {
			return trimLine(b[:i])
		}
	}
	return b
}

// isCosmetic reports an element hiding, CSS, scriptlet or HTML filtering
// rule: none of them can act on a DNS name.
func isCosmetic(b []byte) bool {
	i := bytes.IndexByte(b, '#')
	if i >= 0 && i+1 < len(b) {
		switch b[i+1] {
		case '#', '@', '?', '$', '%':
			return true
		}
	}
	return bytes.Contains(b, []byte("$$")) || bytes.Contains(b, []byte("$@$"))
}

func lineSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

func trimLine(b []byte) []byte {
	for len(b) > 0 && lineSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && lineSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// splitField splits off the first run of non-space bytes of b (which has no
// leading space) and returns it and the rest, with leading space removed.
func splitField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && !lineSpace(b[i]) {
		i++
	}
	field, rest = b[:i], b[i:]
	for len(rest) > 0 && lineSpace(rest[0]) {
		rest = rest[1:]
	}
	return field, rest
}

func trimFinalDot(b []byte) []byte {
	if len(b) > 1 && b[len(b)-1] == '.' {
		return b[:len(b)-1]
	}
	return b
}
