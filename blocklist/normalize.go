package blocklist

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// Reasons a name is refused; they double as keys of Stats.Skipped.
const (
	reasonEmptyLabel  = "invalid name (empty label)"
	reasonLongLabel   = "invalid name (label over 63 characters)"
	reasonLongName    = "invalid name (name over 253 characters)"
	reasonBadChar     = "invalid name (bad character)"
	reasonIDNA        = "invalid name (idna)"
	reasonIP          = "ip address"
	reasonSingleLabel = "single label"
	reasonPreamble    = "localhost preamble"
)

const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// Normalize returns name in the form rules and lookups use: lower case,
// punycode (IDNA ToASCII for Unicode input), without a trailing dot. It
// fails for names a blocklist could not hold: empty or over-long labels,
// names over 253 characters, characters other than letters, digits, '-' and
// '_', IP addresses and single labels.
func Normalize(name string) (string, error) {
	n, reason := normalizeName([]byte(name), false)
	if reason != "" {
		return "", errors.New(reason)
	}
	return n, nil
}

// normalizeName turns a token into a stored name, or returns why it cannot
// be one. tok is not modified: it usually points into the scanner's buffer.
// A single label is accepted only when single is true (the parent of a
// wildcard, as in *.top). The only allocation is the returned string.
func normalizeName(tok []byte, single bool) (string, string) {
	var buf [maxNameLen]byte
	name, reason := normalizeInto(&buf, tok, single)
	return string(name), reason
}

// normalizeInto is normalizeName without the string: the name is tok
// itself when tok is already normal, else it is written to buf (or, for
// Unicode input, allocated). Either way it is only valid until buf or tok
// change, which lets the parser hand names to a sink without allocating.
func normalizeInto(buf *[maxNameLen]byte, tok []byte, single bool) ([]byte, string) {
	if len(tok) > 1 && tok[len(tok)-1] == '.' {
		tok = tok[:len(tok)-1]
	}
	upper := false
	for _, c := range tok {
		if c >= 0x80 {
			s, reason := normalizeUnicode(tok, single)
			return []byte(s), reason
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if reason := checkName(tok, single); reason != "" {
		return nil, reason
	}
	if !upper {
		return tok, ""
	}
	for i, c := range tok {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(tok)], ""
}

// normalizeUnicode maps a U-label name to its A-label form. No shipped list
// holds raw Unicode, so this slow path only serves hand-written entries.
func normalizeUnicode(tok []byte, single bool) (string, string) {
	s, err := idna.Lookup.ToASCII(string(tok))
	if err != nil {
		return "", reasonIDNA
	}
	s = strings.ToLower(s)
	if reason := checkName(s, single); reason != "" {
		return "", reason
	}
	return s, ""
}

// checkName reports why name (trailing dot removed) is not a valid stored
// name, or "" if it is. Upper case letters are accepted here because
// normalizeName folds them after the check; underscores are accepted because
// they occur in real DNS names (_dmarc, SRV names) and in real lists.
func checkName[T string | []byte](name T, single bool) string {
	if len(name) == 0 {
		return reasonEmptyLabel
	}
	if len(name) > maxNameLen {
		return reasonLongName
	}
	labels, start := 1, 0
	digitsAndDots, hasColon := true, false
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			if i == start {
				return reasonEmptyLabel
			}
			if i-start > maxLabelLen {
				return reasonLongLabel
			}
			labels++
			start = i + 1
		case '0' <= c && c <= '9':
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '-', c == '_':
			digitsAndDots = false
		case c == ':':
			hasColon, digitsAndDots = true, false
		default:
			return reasonBadChar
		}
	}
	if hasColon {
		// Only an IPv6 literal can have a colon and still be worth naming.
		if isIPLiteral(name) {
			return reasonIP
		}
		return reasonBadChar
	}
	if start == len(name) {
		return reasonEmptyLabel
	}
	if len(name)-start > maxLabelLen {
		return reasonLongLabel
	}
	if digitsAndDots && labels == 4 && isIPLiteral(name) {
		return reasonIP
	}
	if labels == 1 && !single {
		return reasonSingleLabel
	}
	return ""
}

// isIPLiteral reports whether s is an IPv4 or IPv6 literal. The conversion to
// string allocates, so callers only ask when s already looks like one.
func isIPLiteral[T string | []byte](s T) bool {
	_, err := netip.ParseAddr(string(s))
	return err == nil
}

// isPreamble reports whether name (normalised) is one of the entries hosts
// files carry for the machine itself. Matching is by exact name so that
// broadcaster.streamate.com or localhost.example.com still load.
func isPreamble[T string | []byte](name T) bool {
	switch string(name) {
	case "localhost", "localhost.localdomain", "local", "broadcasthost", "0.0.0.0":
		return true
	}
	if len(name) <= 4 || string(name[:4]) != "ip6-" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return false
		}
	}
	return true
}
